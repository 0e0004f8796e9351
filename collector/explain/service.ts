// Explanations on the collector (docs/explanations.md): computed on request from stored windows, never by
// the agent. One window's explanation; a device's contributions over time; an alert's explanation (its
// windows' contributions, the top features, and for a drift alert its impact on the model); the open
// drift alerts ranked by impact; and performance over time, estimated from the model's own probabilities
// (CBPE) and realised where operator labels exist.

import { fail, ok, type Result } from '../../shared/errors.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import { detailsOf } from '../alerts/details.ts';
import type { LabelStore } from '../retrain/labels.ts';
import type { AlertRecord, TelemetryStore, WindowRecord } from '../storage/types.ts';
import { driftImpact, type DriftImpact, type ImpactThresholds } from './impact.ts';
import { inModelOrder, type ExplainModel, type ModelLayout } from './model.ts';
import type { ExplainModels } from './registry-models.ts';
import { performanceSeries, type PerformanceSeries } from './performance.ts';
import { explainWindow, type WindowExplanation } from './shapley.ts';

export interface ExplainServiceOptions {
  readonly store: Pick<TelemetryStore, 'windows' | 'alerts' | 'devices'>;
  readonly models: ExplainModels;
  /** An alert by id (live first, then stored). */
  readonly alert: (id: number) => AlertRecord | undefined;
  /** Operator labels, when the loop is mounted. */
  readonly labels?: Pick<LabelStore, 'list'>;
  readonly impactThresholds?: ImpactThresholds;
  /** ECE above which an estimate is untrusted. Default 0.05. */
  readonly maxTrustedEce?: number;
}

export interface StoredWindowExplanation extends WindowExplanation {
  readonly deviceId: string;
  readonly tsMs: number;
  readonly model: ModelRef;
  readonly integrityStatus: WindowRecord['integrityStatus'];
}

export interface ContributionPoint {
  readonly tsMs: number;
  readonly model: ModelRef;
  readonly predicted: string;
  readonly delta: number;
  /** Contribution to the predicted class's probability, per group name. */
  readonly contributions: Readonly<Record<string, number>>;
}

export interface AlertExplanation {
  readonly alertId: number;
  readonly kind: string;
  readonly deviceId: string | null;
  readonly subject: string | null;
  readonly model: ModelRef | null;
  /** Windows behind the alert that were explained (evenly spaced when there were more). */
  readonly windows: number;
  /** Mean contribution per group to the predicted class over those windows. */
  readonly meanContributions: Readonly<Record<string, number>>;
  /** The newest window's full explanation (with its top features). */
  readonly latest: StoredWindowExplanation | null;
  /** For drift alerts: the impact on the model, or why it could not be estimated. */
  readonly impact:
    | (DriftImpact & {
        /** The model inputs whose live distribution was applied. */
        readonly shifted: readonly string[];
        /** Where the reference rows came from: the device's windows before the drift began. */
        readonly referenceRows: {
          readonly source: 'device_history';
          readonly fromMs: number;
          readonly toMs: number;
        };
      })
    | null;
  readonly impactUnavailable: string | null;
}

/** Windows explained per alert or series request. */
export const MAX_EXPLAINED_WINDOWS = 300;
/** Reference rows for impact: the device's windows before the drift began, at most this many... */
const REFERENCE_ROWS = 300;
/** ...from this long before its onset... */
const REFERENCE_SPAN_MS = 60 * 60_000;
/** ...and at least this many, or impact is not estimated. */
const MIN_REFERENCE_ROWS = 20;

const evenly = <T>(xs: readonly T[], max: number): T[] =>
  xs.length <= max
    ? [...xs]
    : Array.from({ length: max }, (_, i) => xs[Math.floor((i * xs.length) / max)] as T);

export interface ExplainService {
  window(deviceId: string, tsMs: number, topFeatures?: number): Promise<Result<StoredWindowExplanation>>;
  contributions(
    deviceId: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Promise<Result<{ groups: string[]; points: ContributionPoint[]; skipped: number }>>;
  alert(id: number): Promise<Result<AlertExplanation>>;
  rankedImpacts(): Promise<readonly RankedImpact[]>;
  performance(
    deviceId: string | null,
    fromMs: number,
    toMs: number,
    bucketMs: number,
  ): Promise<Result<PerformanceSeries>>;
}

export interface RankedImpact {
  readonly alertId: number;
  readonly kind: string;
  readonly deviceId: string | null;
  readonly subject: string | null;
  readonly message: string;
  readonly priority: DriftImpact['priority'] | 'unknown';
  readonly changedShare: number | null;
  readonly mixShift: number | null;
  /** Mean change of the predicted class's probability under the shift (ties on changedShare break on it). */
  readonly meanConfidenceChange: number | null;
  readonly reason: string | null;
}

export function createExplainService(o: ExplainServiceOptions): ExplainService {
  const modelFor = async (w: WindowRecord): Promise<Result<{ model: ExplainModel; layout: ModelLayout }>> => {
    if (w.model === null)
      return fail(
        'EDGELOOP_ERR_EXPLAIN_INPUT',
        `the window at ${w.tsMs} of ${w.deviceId} names no model (no prediction)`,
      );
    const m = await o.models.get(w.model);
    if (!m.ok) return m;
    const layout = m.value.layout(w.featureNames);
    if (!layout.ok) return layout;
    return ok({ model: m.value, layout: layout.value });
  };

  const explainRecord = async (
    w: WindowRecord,
    topFeatures: number,
  ): Promise<Result<StoredWindowExplanation>> => {
    const m = await modelFor(w);
    if (!m.ok) return m;
    const e = await explainWindow({
      predictor: m.value.model.predictor,
      labels: m.value.model.labels,
      featureNames: m.value.layout.featureNames,
      groups: m.value.layout.groups,
      features: inModelOrder(m.value.layout, w.values),
      baseline: m.value.layout.baseline,
      scales: m.value.layout.scales,
      topFeatures,
    });
    if (!e.ok) return e;
    return ok({
      ...e.value,
      deviceId: w.deviceId,
      tsMs: w.tsMs,
      model: m.value.model.ref,
      integrityStatus: w.integrityStatus,
    });
  };

  const windowAt = (deviceId: string, tsMs: number): WindowRecord | undefined =>
    o.store.windows({ deviceId, fromMs: tsMs, toMs: tsMs + 1, limit: 1 })[0];

  const contributions: ExplainService['contributions'] = async (deviceId, fromMs, toMs, limit) => {
    const all = o.store.windows({ deviceId, fromMs, toMs, limit: 100_000 }).filter((w) => w.model !== null);
    const points: ContributionPoint[] = [];
    const groups = new Set<string>();
    let skipped = 0;
    for (const w of evenly(all, limit)) {
      const e = await explainRecord(w, 0);
      if (!e.ok) {
        skipped++;
        continue;
      }
      const c: Record<string, number> = {};
      for (const g of e.value.groups) {
        c[g.group] = g.contribution;
        groups.add(g.group);
      }
      points.push({
        tsMs: w.tsMs,
        model: e.value.model,
        predicted: e.value.predicted,
        delta: e.value.delta,
        contributions: c,
      });
    }
    if (points.length === 0 && skipped > 0) {
      // Say why, from the first window that could not be explained.
      const first = all[0];
      if (first !== undefined) {
        const why = await explainRecord(first, 0);
        if (!why.ok) return why;
      }
    }
    return ok({ groups: [...groups], points, skipped });
  };

  const impactOf = async (
    a: AlertRecord,
    model: ExplainModel,
    layout: ModelLayout,
    names: readonly string[],
    all: readonly WindowRecord[],
  ): Promise<Result<NonNullable<AlertExplanation['impact']>>> => {
    const d = detailsOf(a);
    // `layout` maps windows with these feature names (the newest window's) to the model's input order.
    const key = names.join(',');
    const sameLayout = (w: WindowRecord): boolean =>
      w.featureNames === names || w.featureNames.join(',') === key;
    const windows = all.filter(sameLayout);
    const subject = a.channel;
    const evidenceFeatures = new Set(
      (d.evidence ?? []).map((e) => e.detail?.feature).filter((f): f is string => typeof f === 'string'),
    );
    // Every model input of the alert's sensor group (or channel) moves with it, not only the monitored ones.
    const shifted = layout.featureNames
      .map((name, index) => ({ name, index }))
      .filter(
        ({ name }) => (subject !== null && name.startsWith(`${subject}.`)) || evidenceFeatures.has(name),
      );
    if (shifted.length === 0)
      return fail(
        'EDGELOOP_ERR_EXPLAIN_INPUT',
        `no input of ${model.ref.name}@${model.ref.version} belongs to ${subject ?? 'this alert'}`,
      );
    const onset = d.sinceMs ?? d.window?.fromMs ?? a.openedMs;
    const before = o.store
      .windows({ deviceId: a.deviceId ?? '', fromMs: onset - REFERENCE_SPAN_MS, toMs: onset, limit: 100_000 })
      .filter(sameLayout);
    if (before.length < MIN_REFERENCE_ROWS)
      return fail(
        'EDGELOOP_ERR_EXPLAIN_UNAVAILABLE',
        `${before.length} stored windows of ${a.deviceId ?? '?'} in the hour before the drift began; impact needs at least ${MIN_REFERENCE_ROWS} reference rows`,
      );
    const rowsFrom = evenly(before, REFERENCE_ROWS);
    const width = layout.featureNames.length;
    const rows = new Float32Array(rowsFrom.length * width);
    rowsFrom.forEach((w, i) => {
      const values = inModelOrder(layout, w.values);
      for (let j = 0; j < width; j++) {
        const v = values[j] as number;
        rows[i * width + j] = Number.isFinite(v) ? v : (layout.baseline[j] as number);
      }
    });
    const live = windows.map((w) => inModelOrder(layout, w.values));
    const sortedLive = (j: number) =>
      live
        .map((v) => v[j] as number)
        .filter(Number.isFinite)
        .sort((x, y) => x - y);
    const r = await driftImpact({
      predictor: model.predictor,
      rows,
      shifts: shifted.map(({ name, index }) => ({
        index,
        feature: name,
        reference: layout.reference[index]?.sample ?? [],
        live: sortedLive(index),
      })),
      ...(o.impactThresholds === undefined ? {} : { thresholds: o.impactThresholds }),
    });
    if (!r.ok) return r;
    return ok({
      ...r.value,
      features: r.value.features.slice(0, 10),
      shifted: shifted.map((s) => s.name),
      referenceRows: { source: 'device_history', fromMs: rowsFrom[0]?.tsMs ?? onset, toMs: onset },
    });
  };

  const isDrift = (a: AlertRecord) => a.kind === 'drift' || a.kind === 'environment';

  const alert: ExplainService['alert'] = async (id) => {
    const a = o.alert(id);
    if (a === undefined) return fail('EDGELOOP_ERR_EXPLAIN_INPUT', `no alert with id ${id}`);
    const d = detailsOf(a);
    const base = { alertId: a.id, kind: a.kind, deviceId: a.deviceId, subject: a.channel };
    const range = d.window ?? (d.sinceMs == null ? null : { fromMs: d.sinceMs, toMs: a.lastSeenMs + 1 });
    if (a.deviceId === null || range === null)
      return ok({
        ...base,
        model: d.reference?.model ?? null,
        windows: 0,
        meanContributions: {},
        latest: null,
        impact: null,
        impactUnavailable: 'the alert names no device or no time range',
      });
    const windows = o.store
      .windows({ deviceId: a.deviceId, fromMs: range.fromMs, toMs: range.toMs, limit: 100_000 })
      .filter((w) => w.model !== null);
    const picked = evenly(windows, MAX_EXPLAINED_WINDOWS);
    const sums: Record<string, number> = {};
    let explained = 0;
    for (const w of picked) {
      const e = await explainRecord(w, 0);
      if (!e.ok) continue;
      explained++;
      for (const g of e.value.groups) sums[g.group] = (sums[g.group] ?? 0) + g.contribution;
    }
    const newest = windows[windows.length - 1];
    const latest = newest === undefined ? undefined : await explainRecord(newest, 5);
    if (latest !== undefined && !latest.ok && explained === 0) return latest;
    let impact: AlertExplanation['impact'] = null;
    let impactUnavailable: string | null = isDrift(a)
      ? null
      : `impact is estimated for drift alerts; this is a ${a.kind} alert`;
    if (isDrift(a) && newest !== undefined) {
      const m = await modelFor(newest);
      const r = m.ok ? await impactOf(a, m.value.model, m.value.layout, newest.featureNames, windows) : m;
      if (r.ok) impact = r.value;
      else impactUnavailable = r.message;
    } else if (isDrift(a)) impactUnavailable = 'no stored window with a prediction lies behind the alert';
    return ok({
      ...base,
      model: latest?.ok === true ? latest.value.model : (d.reference?.model ?? null),
      windows: explained,
      meanContributions: Object.fromEntries(
        Object.entries(sums).map(([g, s]) => [g, s / Math.max(1, explained)]),
      ),
      latest: latest?.ok === true ? latest.value : null,
      impact,
      impactUnavailable,
    });
  };

  const impactCache = new Map<string, RankedImpact>();
  const rankedImpacts: ExplainService['rankedImpacts'] = async () => {
    const live = [
      ...o.store.alerts({ state: 'open', limit: 1000 }),
      ...o.store.alerts({ state: 'acknowledged', limit: 1000 }),
    ].filter(isDrift);
    const out: RankedImpact[] = [];
    for (const a of live) {
      const key = `${a.id}@${a.lastSeenMs}`;
      let r = impactCache.get(key);
      if (r === undefined) {
        const e = await alert(a.id);
        const imp = e.ok ? e.value.impact : null;
        r = {
          alertId: a.id,
          kind: a.kind,
          deviceId: a.deviceId,
          subject: a.channel,
          message: a.message,
          priority: imp?.priority ?? 'unknown',
          changedShare: imp?.changedShare ?? null,
          mixShift: imp?.mixShift ?? null,
          meanConfidenceChange: imp?.meanConfidenceChange ?? null,
          reason: e.ok ? e.value.impactUnavailable : e.message,
        };
        if (impactCache.size > 1000) impactCache.clear();
        impactCache.set(key, r);
      }
      out.push(r);
    }
    // Highest impact first (changed predictions, then the mix, then lost confidence); unknown last, but listed.
    return out.sort(
      (x, y) =>
        (y.changedShare ?? -1) - (x.changedShare ?? -1) ||
        (y.mixShift ?? -1) - (x.mixShift ?? -1) ||
        Math.abs(y.meanConfidenceChange ?? 0) - Math.abs(x.meanConfidenceChange ?? 0),
    );
  };

  const performance: ExplainService['performance'] = async (deviceId, fromMs, toMs, bucketMs) => {
    const devices = deviceId === null ? o.store.devices().map((d) => d.deviceId) : [deviceId];
    const windows: WindowRecord[] = [];
    for (const id of devices)
      windows.push(...o.store.windows({ deviceId: id, fromMs, toMs, limit: 200_000 }));
    // The calibration stated is that of the model of the first window with a prediction.
    const first = windows.find((w) => w.prediction !== null && w.model !== null)?.model ?? null;
    let ece: number | null = null;
    if (first !== null) {
      const m = await o.models.get(first);
      if (m.ok) ece = m.value.ece;
    }
    const labels =
      o.labels === undefined
        ? []
        : o.labels.list({
            ...(deviceId === null ? {} : { deviceId }),
            fromMs,
            toMs: Number.MAX_SAFE_INTEGER,
            limit: 100_000,
          });
    return ok(
      performanceSeries({
        windows,
        deviceId,
        fromMs,
        bucketMs,
        ece,
        labels,
        ...(o.maxTrustedEce === undefined ? {} : { maxTrustedEce: o.maxTrustedEce }),
      }),
    );
  };

  return {
    async window(deviceId, tsMs, topFeatures = 5) {
      const w = windowAt(deviceId, tsMs);
      if (w === undefined)
        return fail('EDGELOOP_ERR_EXPLAIN_INPUT', `no stored window of ${deviceId} at tsMs ${tsMs}`);
      return explainRecord(w, topFeatures);
    },
    contributions,
    alert,
    rankedImpacts,
    performance,
  };
}
