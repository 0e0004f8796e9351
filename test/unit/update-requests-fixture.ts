// Fakes and builders for the update-request tests: in-memory implementations of the ports the module
// drives (rollouts, retraining), of the store's windows and devices, of the registry's version and alias
// reads, and drift observations shaped as collector/drift/live/decide.ts emits them.

import { buildReferenceProfile, type ReferenceProfile } from '../../shared/bundle/reference.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { ChannelHealth, Observation, QcStatus, ReferenceSource } from '../../collector/monitor/types.ts';
import type { DeviceRecord, WindowRecord } from '../../collector/storage/types.ts';
import type {
  RetrainInputPort,
  RetrainingPort,
  RolloutPlanPort,
  RolloutPort,
  RolloutViewPort,
  TrainingJobPort,
} from '../../collector/updates/types.ts';

export const MODEL = 'pump';
export const T0 = Date.UTC(2026, 0, 1);
export const FEATURES = ['accel.x.mean', 'accel.y.mean', 'accel.z.mean'] as const;

/** Deterministic noise in [-1, 1]. */
const noise = (i: number, k: number): number => Math.sin(i * 12.9898 + k * 78.233) * 0.999;

/** A reference whose accel.x.mean sits at `xMean` (σ about 0.1), the other axes at 0 and 1. */
export function profileAt(xMean: number, rows = 400): ReferenceProfile {
  const r = buildReferenceProfile(
    FEATURES.map((name, k) => ({
      name,
      values: Array.from(
        { length: rows },
        (_, i) => (k === 0 ? xMean : k === 2 ? 1 : 0) + 0.15 * noise(i, k),
      ),
    })),
    { sampleSize: 200 },
  );
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

export function windowsAt(
  deviceId: string,
  xMean: number,
  n: number,
  endMs: number,
  model: ModelRef | null,
): WindowRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId,
    runId: 1,
    msgSeq: i + 1,
    tsMs: endMs - (n - i) * 1000,
    receivedMs: endMs - (n - i) * 1000,
    bootId: 1,
    windowIndex: i,
    startUs: 0,
    endUs: 1,
    featurePipeline: 'p',
    featureNames: FEATURES,
    values: Float32Array.from(
      FEATURES.map((_, k) => (k === 0 ? xMean : k === 2 ? 1 : 0) + 0.15 * noise(i + 7, k)),
    ),
    model,
    prediction: null,
    integrityStatus: 'good',
    integrityFlags: [],
    counters: { framesDecoded: 0, framesInvalid: 0, samples: 0, gaps: 0, samplesMissing: 0, windows: 0 },
  }));
}

export class MemoryStore {
  readonly byDevice = new Map<string, WindowRecord[]>();
  readonly models = new Map<string, ModelRef>();
  add(ws: readonly WindowRecord[]): void {
    for (const w of ws) {
      const list = this.byDevice.get(w.deviceId) ?? [];
      list.push(w);
      this.byDevice.set(w.deviceId, list);
      if (w.model !== null) this.models.set(w.deviceId, w.model);
    }
  }
  windows(q: { deviceId: string; fromMs: number; toMs: number; limit?: number }): WindowRecord[] {
    return (this.byDevice.get(q.deviceId) ?? [])
      .filter((w) => w.tsMs >= q.fromMs && w.tsMs < q.toMs)
      .slice(0, q.limit ?? 10_000);
  }
  devices(): DeviceRecord[] {
    return [...this.byDevice.keys()].map((deviceId) => ({
      deviceId,
      firstSeenMs: T0,
      lastSeenMs: T0,
      lastStatus: null,
      bootId: 1,
      runId: 1,
      model: this.models.get(deviceId) ?? null,
      firmwareVersion: null,
    })) as unknown as DeviceRecord[];
  }
}

export class MemoryReferences implements ReferenceSource {
  readonly profiles = new Map<string, ReferenceProfile>();
  set(version: string, p: ReferenceProfile): void {
    this.profiles.set(version, p);
  }
  reference(model: ModelRef): ReferenceProfile | undefined {
    return model.name === MODEL ? this.profiles.get(model.version) : undefined;
  }
}

type AliasName = 'staging' | 'canary' | 'production';

export class MemoryRegistry {
  readonly versions: string[] = [];
  readonly history: {
    id: number;
    alias: AliasName;
    from: string | null;
    to: string;
    actor: string;
    reason: string;
    at: string;
  }[] = [];
  readonly aliases = new Map<AliasName, string>();
  push(version: string): void {
    this.versions.push(version);
  }
  move(alias: AliasName, to: string): void {
    this.history.push({
      id: this.history.length + 1,
      alias,
      from: this.aliases.get(alias) ?? null,
      to,
      actor: 't',
      reason: 'test',
      at: '',
    });
    this.aliases.set(alias, to);
  }
  listVersions(model: string) {
    if (model !== MODEL) return fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', `model ${model}`);
    return ok(this.versions.map((version) => ({ version }) as never));
  }
  aliasHistory(model: string) {
    if (model !== MODEL) return fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', `model ${model}`);
    return ok([...this.history].reverse());
  }
  listAliases(model: string) {
    if (model !== MODEL) return fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', `model ${model}`);
    return ok(
      [...this.aliases].map(([alias, version]) => ({ alias, version, updatedAt: '', updatedBy: 't' })),
    );
  }
}

export class FakeRollouts implements RolloutPort {
  readonly started: { id: string; plan: RolloutPlanPort; actor: string }[] = [];
  readonly views = new Map<string, { id: string; state: string }>();
  readonly #listeners: ((r: RolloutViewPort) => void)[] = [];
  refuse: Result<never> | null = null;
  start(plan: RolloutPlanPort, actor: string): Result<RolloutViewPort> {
    if (this.refuse !== null && !this.refuse.ok) return this.refuse;
    const id = `ro-${String(this.started.length + 1)}`;
    this.started.push({ id, plan, actor });
    const v = { id, state: 'running' };
    this.views.set(id, v);
    return ok({ ...v });
  }
  get(id: string): RolloutViewPort | undefined {
    const v = this.views.get(id);
    return v === undefined ? undefined : { ...v };
  }
  onEnded(listener: (r: RolloutViewPort) => void): void {
    this.#listeners.push(listener);
  }
  /** Ends a rollout; `silent` does not tell the listeners (as if the collector was down). */
  end(id: string, state: 'completed' | 'rolled_back' | 'aborted', silent = false): void {
    const v = this.views.get(id);
    if (v === undefined) throw new Error(`no rollout ${id}`);
    v.state = state;
    if (!silent) for (const l of this.#listeners) l({ ...v });
  }
}

export type FakeJob = TrainingJobPort & Record<string, unknown>;

export class FakeRetraining implements RetrainingPort {
  readonly opened: { id: string; input: RetrainInputPort; actor: string }[] = [];
  readonly jobs = new Map<string, FakeJob>();
  readonly #listeners: ((j: TrainingJobPort) => void)[] = [];
  refuse: Result<never> | null = null;
  open(input: RetrainInputPort, actor: string): Result<TrainingJobPort> {
    if (this.refuse !== null && !this.refuse.ok) return this.refuse;
    const id = `tj-${String(this.opened.length + 1)}`;
    this.opened.push({ id, input, actor });
    const job: FakeJob = { id, state: 'queued', requestId: input.requestId };
    this.jobs.set(id, job);
    return ok({ ...job });
  }
  get(id: string): TrainingJobPort | undefined {
    const j = this.jobs.get(id);
    return j === undefined ? undefined : { ...j };
  }
  onEnded(listener: (j: TrainingJobPort) => void): void {
    this.#listeners.push(listener);
  }
  end(id: string, patch: Record<string, unknown> & { state: string }, silent = false): void {
    const j = this.jobs.get(id);
    if (j === undefined) throw new Error(`no job ${id}`);
    const next = { ...j, ...patch } as FakeJob;
    this.jobs.set(id, next);
    if (!silent) for (const l of this.#listeners) l({ ...next });
  }
}

export class MapHealth implements ChannelHealth {
  readonly status = new Map<string, QcStatus>();
  channelStatus(deviceId: string, channel: string): QcStatus {
    return this.status.get(`${deviceId}|${channel}`) ?? 'good';
  }
}

export interface DriftObservationInput {
  readonly deviceId: string | null;
  readonly subject?: string;
  readonly active?: boolean;
  readonly kind?: Observation['kind'];
  readonly cause?: Observation['cause'];
  readonly action?: NonNullable<Observation['action']>['kind'];
  readonly basis?: 'model_reference' | 'device_baseline';
  readonly model?: ModelRef | null;
  readonly atMs?: number;
  readonly windowToMs?: number;
}

/** A device-level group observation as decide.ts emits it (calibration drift by default). */
export function driftObservation(i: DriftObservationInput): Observation {
  const active = i.active ?? true;
  const basis = i.basis ?? 'model_reference';
  const subject = i.subject ?? 'accel';
  const to = i.windowToMs ?? T0;
  return {
    kind: i.kind ?? 'drift',
    deviceId: i.deviceId,
    subject,
    check: `drift.${basis}`,
    active,
    severity: 'warning',
    atMs: i.atMs ?? T0,
    sinceMs: to - 60_000,
    window: { fromMs: to - 300_000, toMs: to },
    summary: `${subject} on ${i.deviceId ?? 'fleet'} moved away from the model's reference profile: ${subject}.x.mean +5σ; suspected calibration drift`,
    evidence: [
      {
        method: 'wasserstein',
        statistic: 5,
        threshold: 0.5,
        thresholdOrigin: 'chunks',
        effectSigma: 5,
        effectPhysical: 0.5,
        unit: 'g',
        detail: { feature: `${subject}.x.mean`, n: 300, nEff: 40 },
      },
    ],
    reference: { basis, model: i.model === undefined ? { name: MODEL, version: '1.0.0' } : i.model },
    cause: active ? (i.cause === undefined ? 'calibration_drift' : i.cause) : null,
    action: active ? { kind: i.action ?? 'recalibrate_sensor', automatic: false } : null,
  };
}
