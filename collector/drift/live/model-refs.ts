// The reference profile of each model a device runs, prepared once per (model version, feature) and per
// (model version, class, feature), and kept for the life of the monitor (a few models, tens of features).
// Class-conditional profiles (reference.json `classes`, optional within schemaVersion 1) are read
// defensively: an older profile without them simply gets no class-conditional comparison.

import type { FeatureReference, ReferenceProfile } from '../../../shared/bundle/reference.ts';
import type { ModelRef } from '../../../shared/mqtt/schemas.ts';
import type { ReferenceSource } from '../../monitor/types.ts';
import { referenceFromProfile } from '../reference.ts';
import type { DriftReference } from '../types.ts';

/** One class's per-feature profile as stored (the pooled feature's bin edges are not repeated). */
type StoredClassFeature = Omit<FeatureReference, 'binEdges'>;
interface StoredClass {
  readonly label: string;
  readonly rows: number;
  readonly features: readonly StoredClassFeature[];
}

function storedClasses(profile: ReferenceProfile): readonly StoredClass[] {
  const raw = (profile as { classes?: unknown }).classes;
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (c): c is StoredClass =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as StoredClass).label === 'string' &&
      typeof (c as StoredClass).rows === 'number' &&
      Array.isArray((c as StoredClass).features),
  );
}

export const modelKey = (m: ModelRef): string => `${m.name}@${m.version}`;

/** A model's prepared references. */
export class PreparedModel {
  readonly model: ModelRef;
  readonly profile: ReferenceProfile;
  /** The reference class mix (rows per label / rows), or null without class profiles. */
  readonly classMix: ReadonlyMap<string, number> | null;
  private readonly pooled = new Map<string, DriftReference | null>();
  private readonly perClass = new Map<string, DriftReference | null>();
  private readonly byName: ReadonlyMap<string, FeatureReference>;
  private readonly classes: ReadonlyMap<string, StoredClass>;

  constructor(
    model: ModelRef,
    profile: ReferenceProfile,
    private readonly currentRows: number,
  ) {
    this.model = model;
    this.profile = profile;
    this.byName = new Map(profile.features.map((f) => [f.name, f]));
    const classes = storedClasses(profile);
    this.classes = new Map(classes.map((c) => [c.label, c]));
    const total = classes.reduce((s, c) => s + c.rows, 0);
    this.classMix = total > 0 ? new Map(classes.map((c) => [c.label, c.rows / total])) : null;
  }

  /** The pooled reference of a feature, or null when the profile lacks it. */
  feature(name: string): DriftReference | null {
    let r = this.pooled.get(name);
    if (r === undefined) {
      const f = this.byName.get(name);
      r =
        f === undefined
          ? null
          : referenceFromProfile(f, this.profile.chunkScores, { currentRows: this.currentRows });
      this.pooled.set(name, r);
    }
    return r;
  }

  hasClasses(): boolean {
    return this.classes.size > 0;
  }

  /** Class `label`'s reference of a feature (on the pooled bins), or null when there is none. */
  classFeature(label: string, name: string): DriftReference | null {
    const key = `${label}\u0000${name}`;
    let r = this.perClass.get(key);
    if (r === undefined) {
      r = null;
      const pooled = this.byName.get(name);
      const c = this.classes.get(label);
      const j = this.profile.features.findIndex((f) => f.name === name);
      const cf = j >= 0 ? c?.features[j] : undefined;
      if (pooled !== undefined && cf !== undefined && cf.name === name && cf.count > 0)
        r = referenceFromProfile({ ...cf, binEdges: pooled.binEdges }, [], { currentRows: this.currentRows });
      this.perClass.set(key, r);
    }
    return r;
  }
}

/** Prepared models by `name@version`; an unknown model is remembered as such (asked again after a while). */
export class ModelReferenceCache {
  private readonly models = new Map<string, { prepared: PreparedModel | null; askedMs: number }>();

  constructor(
    private readonly source: ReferenceSource,
    private readonly currentRows: number,
    /** How long an unknown model stays unknown before the source is asked again, ms. */
    private readonly retryMs = 60_000,
  ) {}

  get(model: ModelRef, nowMs: number): PreparedModel | null {
    const key = modelKey(model);
    const hit = this.models.get(key);
    if (hit !== undefined && (hit.prepared !== null || nowMs - hit.askedMs < this.retryMs))
      return hit.prepared;
    const profile = this.source.reference(model);
    const prepared = profile === undefined ? null : new PreparedModel(model, profile, this.currentRows);
    this.models.set(key, { prepared, askedMs: nowMs });
    return prepared;
  }
}
