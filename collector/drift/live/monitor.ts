// The collector's live drift monitor (issue #9 §4; docs/monitors.md): per device, a ring of the newest
// driftWindow windows of the monitored features and predictions; judged against the reference profile of
// the model the device runs (class-conditional where the prediction is confident) and against the
// device's own commissioning baseline; decided per sensor group with persistence, cooldown and a
// suspected cause; fleet-level when the same group moves on many devices at once. Pure: no I/O, no clock
// (nowMs comes in). A device is evaluated only when a tenth of its window is new, so a cycle's cost is
// the due devices' columns, each one evaluateColumn on ~300 values against a prepared reference.

import type { ModelRef } from '../../../shared/mqtt/schemas.ts';
import type {
  ChannelHealth,
  Monitor,
  MonitorCycle,
  Observation,
  ReferenceSource,
} from '../../monitor/types.ts';
import type { IncomingMessage, MonitorResultInput } from '../../storage/types.ts';
import { driftDefaults, type DriftOptions } from '../types.ts';
import { DeviceBaseline } from './baseline.ts';
import { FleetDecisions } from './fleet.ts';
import { groupObservation, diagnose, driftingColumns, Run } from './decide.ts';
import {
  DEFAULT_PHYSICAL_FLOORS,
  ENVIRONMENT_GROUPS,
  monitoredFeatures,
  type MonitoredFeature,
} from './features.ts';
import { judgeBaseline, judgeModel, LiveColumn, type BasisJudgement } from './judge.ts';
import { LabelTable } from './mix.ts';
import { mixObservation, mixResult, mixState } from './mix-decide.ts';
import { ModelReferenceCache, modelKey } from './model-refs.ts';
import { ResultThrottle } from './results.ts';
import { WindowRing } from './ring.ts';
import { deviceSnapshot, groupResult } from './snapshot.ts';
import type { Basis, DriftMonitorOptions, DriftSnapshot, PredictionMixSnapshot } from './types.ts';

export interface DriftMonitor extends Monitor {
  /** The monitor's current view, for the HTTP API: every device, or one (devices: [] when unknown). */
  snapshot(deviceId?: string): DriftSnapshot;
}

export interface DriftMonitorDeps {
  readonly health: ChannelHealth;
  readonly references: ReferenceSource;
  readonly options: DriftMonitorOptions;
}

/**
 * The live method options: the offline defaults, except that a 300-window column of a slow channel
 * (humidity, temperature: lag-1 autocorrelation ≈ 0.98) has an n_eff of 2–4, so minEffectiveSamples is 2;
 * the chunk-calibrated thresholds and the physical floors carry the autocorrelation instead.
 */
export function liveMethodOptions(driftWindow: number, over: Partial<DriftOptions> = {}): DriftOptions {
  return {
    ...driftDefaults,
    minSamples: Math.min(100, Math.ceil(driftWindow / 3)),
    minEffectiveSamples: 2,
    ...over,
  };
}

/** Everything the monitor keeps per device. */
export interface DeviceState {
  readonly id: string;
  model: ModelRef | null;
  modelKey: string | null;
  readonly ring: WindowRing;
  baseline: DeviceBaseline;
  evaluatedPushed: number;
  evaluatedMs: number | null;
  /** `${basis}|${group}` and `mix` → persistence state. */
  readonly runs: Map<string, Run>;
  judgements: readonly BasisJudgement[];
  mix: PredictionMixSnapshot | null;
  cooldownUntilMs: number;
  readonly results: ResultThrottle;
}

/** A group whose columns are all within this many σ of the predicted class's reference is in-class. */
export const IN_CLASS_SIGMA = 3;

export function createDriftMonitor(deps: DriftMonitorDeps): DriftMonitor {
  const o = deps.options;
  const features = monitoredFeatures(o.driftFeatures, o.physicalFloors ?? DEFAULT_PHYSICAL_FLOORS);
  const names = features.map((f) => f.name);
  const method = liveMethodOptions(o.driftWindow, o.method);
  const zGate = o.meanShiftZ ?? 5;
  const freezeBudget = o.baselineFreezesPerCycle ?? 25;
  const everyWindows = Math.max(1, Math.ceil(o.driftWindow * (o.evaluateFraction ?? 0.1)));
  const confident = o.confidentProbability ?? 0.8;
  const mixThreshold = o.mixDistanceThreshold ?? 0.3;
  const resultIntervalMs = o.resultIntervalMs ?? 60_000;
  const automatic = new Set(o.automaticActions ?? []);
  const maxDevices = o.maxDevices ?? 100_000;
  const models = new ModelReferenceCache(deps.references, o.driftWindow);
  const labels = new LabelTable();
  const devices = new Map<string, DeviceState>();
  const fleet = new FleetDecisions(o.fleetMinDevices ?? 3, o.fleetMinFraction ?? 0.2);
  const scratch = new Float64Array(o.driftWindow);
  // One buffer per feature, reused device after device: a device's columns live only while it is judged
  // (results keep no arrays), so a cycle allocates no column memory.
  const columnBuffers = features.map(() => new Float64Array(o.driftWindow));
  const row = new Float32Array(features.length);
  let dropped = 0;
  let lastAtMs: number | null = null;
  // A magnitude channel is computed from its axes: a failing axis suppresses it too.
  const magnitudeOf = (f: MonitoredFeature): boolean => f.channel === `${f.group}.magnitude`;

  function newBaseline(): DeviceBaseline {
    return new DeviceBaseline(names, o.commissioningS * 1000, o.driftWindow);
  }

  function device(id: string): DeviceState | undefined {
    let d = devices.get(id);
    if (d === undefined) {
      if (devices.size >= maxDevices) {
        dropped++;
        return undefined;
      }
      d = {
        id,
        model: null,
        modelKey: null,
        ring: new WindowRing(o.driftWindow, features.length),
        baseline: newBaseline(),
        evaluatedPushed: 0,
        evaluatedMs: null,
        runs: new Map(),
        judgements: [],
        mix: null,
        cooldownUntilMs: Number.NEGATIVE_INFINITY,
        results: new ResultThrottle(resultIntervalMs),
      };
      devices.set(id, d);
    }
    return d;
  }

  function observe(msg: IncomingMessage): void {
    if (msg.message.kind !== 'telemetry') return;
    const p = msg.message.payload;
    const d = device(msg.message.deviceId);
    if (d === undefined) return;
    const key = p.model === null ? null : modelKey(p.model);
    if (key !== d.modelKey) {
      // A new model (or none): its reference and the device's baseline start over (issue #9 §4).
      d.model = p.model;
      d.modelKey = key;
      d.ring.clear();
      d.baseline = newBaseline();
      d.evaluatedPushed = d.ring.pushed;
      for (const r of d.runs.values()) r.update(false, 0, 1);
    }
    for (let f = 0; f < features.length; f++) {
      const v = p.features[(features[f] as MonitoredFeature).name];
      row[f] = typeof v === 'number' ? v : Number.NaN;
    }
    let label = -1;
    let conf = Number.NaN;
    if (p.prediction !== null) {
      label = labels.of(p.prediction.label);
      conf =
        p.prediction.probabilities[p.prediction.label] ??
        Math.max(0, ...Object.values(p.prediction.probabilities));
    }
    d.ring.push(p.tsMs, row, label, conf);
    d.baseline.add(p.tsMs, (p.window.endUs - p.window.startUs) / 1000, row, label, conf);
  }

  function judgeDevice(d: DeviceState, nowMs: number): void {
    const failed = new Set<string>();
    for (const f of features)
      if (!magnitudeOf(f) && deps.health.channelStatus(d.id, f.channel) === 'fail') {
        failed.add(f.channel);
        failed.add(`${f.group}.magnitude`);
      }
    const currents: (LiveColumn | null)[] = features.map((f, i) =>
      failed.has(f.channel) || (magnitudeOf(f) && deps.health.channelStatus(d.id, f.channel) === 'fail')
        ? null
        : LiveColumn.fromRing(f.name, d.ring, i, columnBuffers[i] as Float64Array),
    );
    const input = { features, currents, method, zGate };
    const js: BasisJudgement[] = [];
    const prepared = d.model === null ? null : models.get(d.model, nowMs);
    if (prepared !== null)
      js.push(judgeModel(input, prepared, d.ring, labels, confident, method.minSamples, scratch));
    if (d.baseline.state === 'ready') js.push(judgeBaseline(input, d.baseline.references));
    d.judgements = js;
    d.evaluatedPushed = d.ring.pushed;
    d.evaluatedMs = nowMs;
    const toMs = d.ring.span()?.toMs ?? 0;
    for (const j of js)
      for (const [g, status] of j.groups)
        run(d.runs, `${j.basis}|${g}`).update(status === 'drift', toMs, o.driftPersistence);
    d.mix = mixState(d, prepared?.classMix ?? null, labels, o, method.minSamples);
    run(d.runs, 'mix').update(d.mix?.moved === true, toMs, o.driftPersistence);
  }

  const decided = (d: DeviceState, key: string): boolean =>
    (d.runs.get(key)?.consecutive ?? 0) >= o.driftPersistence;

  function evaluate(nowMs: number): MonitorCycle {
    lastAtMs = nowMs;
    const due: DeviceState[] = [];
    for (const d of devices.values()) if (d.ring.pushed - d.evaluatedPushed >= everyWindows) due.push(d);
    // Baselines whose commissioning ended are prepared here, a bounded number per cycle (about 20 ms
    // each), so a fleet commissioned at once does not stall one cycle (docs/monitors.md, "Cost").
    let freezes = 0;
    for (const d of devices.values())
      if (d.baseline.state === 'complete' && freezes < freezeBudget) {
        d.baseline.freeze();
        freezes++;
      }
    for (const d of due) judgeDevice(d, nowMs);
    // Fleet: per basis and group, devices decided vs devices judged on it.
    const moving = new Map<string, number>();
    const judged = new Map<string, number>();
    for (const d of devices.values())
      for (const j of d.judgements)
        for (const [g, status] of j.groups) {
          if (status === 'suppressed') continue;
          const k = `${j.basis}|${g}`;
          judged.set(k, (judged.get(k) ?? 0) + 1);
          if (decided(d, k)) moving.set(k, (moving.get(k) ?? 0) + 1);
        }
    const fleetKeys = fleet.keys(moving, judged);
    const fleetEnv = new Set(
      [...fleetKeys].map((k) => k.split('|')[1] as string).filter((g) => ENVIRONMENT_GROUPS.has(g)),
    );
    const observations: Observation[] = [];
    const results: MonitorResultInput[] = [];
    for (const d of due) deviceOutputs(d, nowMs, fleetEnv, observations, results);
    fleet.outputs(nowMs, moving, judged, fleetKeys, observations);
    return { observations, results };
  }

  function deviceOutputs(
    d: DeviceState,
    nowMs: number,
    fleetEnv: ReadonlySet<string>,
    observations: Observation[],
    results: MonitorResultInput[],
  ): void {
    const moved = new Set<string>();
    for (const j of d.judgements)
      for (const g of j.groups.keys()) if (decided(d, `${j.basis}|${g}`)) moved.add(g);
    const mixMoved = decided(d, 'mix');
    // For causes, a mix that moves now counts before it is decided: a machine entering a new state moves
    // its features (seen by the baseline) as fast as its predictions.
    const mixMoving = mixMoved || d.mix?.moved === true;
    const model = d.judgements.find((j) => j.basis === 'model_reference');
    // A group is in-class when the model judged it class-conditionally and every column's mean sits within
    // IN_CLASS_SIGMA of the predicted class's reference: statistically distinguishable, perhaps, but where
    // that class's machines are. A calibration bias (tens of σ) is not; a milder bearing fault is.
    const inClass = (g: string): boolean => {
      if (model?.classConditional !== true) return false;
      let judged = false;
      for (let i = 0; i < features.length; i++) {
        if ((features[i] as MonitoredFeature).group !== g) continue;
        const shift = model.columns[i]?.shiftSigma;
        if (shift === null || shift === undefined) continue;
        judged = true;
        if (Math.abs(shift) > IN_CLASS_SIGMA) return false;
      }
      return judged;
    };
    const span = d.ring.span();
    const window = span === null ? null : { fromMs: span.fromMs, toMs: span.toMs };
    for (const j of d.judgements)
      for (const [g, status] of j.groups) {
        const r = run(d.runs, `${j.basis}|${g}`);
        const isDecided = r.consecutive >= o.driftPersistence;
        d.results.offerLazy(
          `drift.${j.basis}`,
          g,
          status,
          nowMs,
          () => groupResult(d.id, j, g, status, nowMs, r.sinceMs, features),
          results,
        );
        const emit = r.emit(isDecided);
        if (emit === null) continue;
        const diagnosis = diagnose(g, {
          moved,
          mixMoved: mixMoving,
          fleetGroups: fleetEnv,
          inClass: inClass(g),
        });
        let auto = false;
        if (emit && automatic.has(diagnosis.action) && nowMs >= d.cooldownUntilMs) {
          auto = true;
          d.cooldownUntilMs = nowMs + o.driftCooldownS * 1000;
        }
        observations.push(
          groupObservation({
            deviceId: d.id,
            group: g,
            basis: j.basis,
            model: d.model,
            active: emit,
            atMs: nowMs,
            sinceMs: r.sinceMs,
            window,
            diagnosis,
            automatic: auto,
            columns: driftingColumns(features, j, g),
          }),
        );
      }
    if (d.baseline.state === 'learning')
      d.results.offer(
        {
          deviceId: d.id,
          monitor: 'drift.device_baseline',
          channel: null,
          tsMs: nowMs,
          status: 'learning',
          statistic: d.baseline.rows,
          threshold: null,
          details: { startedMs: d.baseline.startedMs, commissioningS: o.commissioningS },
        },
        results,
      );
    if (d.mix !== null) {
      const r = run(d.runs, 'mix');
      d.results.offer(mixResult(d.id, d.mix, nowMs, mixThreshold), results);
      const emit = r.emit(mixMoved);
      const modelMoved = d.judgements.some(
        (j) =>
          j.basis === 'model_reference' &&
          [...j.groups.keys()].some((g) => decided(d, `model_reference|${g}`)),
      );
      if (emit !== null)
        observations.push(
          mixObservation({
            deviceId: d.id,
            model: d.model,
            mix: d.mix,
            active: emit,
            atMs: nowMs,
            sinceMs: r.sinceMs,
            window,
            featuresMoved: modelMoved,
            mixThreshold,
            confidenceThreshold: o.confidenceDropThreshold ?? 0.15,
          }),
        );
    }
  }

  return {
    name: 'drift',
    observe,
    evaluate,
    snapshot(deviceId?: string): DriftSnapshot {
      const list =
        deviceId === undefined
          ? [...devices.values()]
          : [devices.get(deviceId)].filter((d) => d !== undefined);
      return {
        atMs: lastAtMs,
        features: names,
        devices: list.map((d) => deviceSnapshot(d, features, o.driftPersistence)),
        fleet: [...fleet.active].map(([k, n]) => {
          const [basis, group] = k.split('|') as [Basis, string];
          return { basis, group, devices: n };
        }),
        devicesDropped: dropped,
      };
    },
  };
}

function run(runs: Map<string, Run>, key: string): Run {
  let r = runs.get(key);
  if (r === undefined) runs.set(key, (r = new Run()));
  return r;
}
