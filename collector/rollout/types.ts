// The rollout controller's public types (issue #10 §3 "Rollouts"; docs/rollouts.md). The controller moves a
// set of devices from one registry version of a model to another: a canary set, then phases that are each a
// percentage of the devices left, with a bake time and an analysis after each. Everything here is what the
// HTTP API returns (collector/api/rollouts.ts) and what the CLI prints (cli/rollout.ts).

import type { ModelRef, ModelStateName } from '../../shared/mqtt/schemas.ts';
import type { Result } from '../../shared/errors.ts';
import type { IncomingMessage } from '../storage/types.ts';

export interface RolloutPhasePlan {
  /** Share of the devices not yet in the rollout's earlier phases, 1..100 %. */
  readonly percent: number;
  /** Wait after the phase's devices settle, before its analysis, seconds. */
  readonly bakeS: number;
}

/**
 * The verdict thresholds of a phase analysis (docs/rollouts.md §Analysis). Every figure compares the phase's
 * devices after the install with the same devices before it, and with the devices still on the old model.
 */
export interface AnalysisPolicy {
  /** Fewest telemetry windows of the phase's devices on the new model; fewer → inconclusive. Default 20. */
  readonly minWindows: number;
  /** Largest share of the phase's devices that may end ROLLED_BACK or FAILED (0..1). Default 0. */
  readonly maxDeviceFailureShare: number;
  /** Largest rise of the share of windows without a prediction (inference failures), 0..1. Default 0.02. */
  readonly maxInferenceFailureIncrease: number;
  /** Largest ratio of the p95 inference latency after / before (and / devices on the old model). Default 1.5. */
  readonly maxLatencyP95Ratio: number;
  /**
   * A latency rise smaller than this is never a failure, ms. Default 10: on a loaded 2-core machine the
   * p95 of the same model over a phase's few windows moved by 5.7 ms (10.9 → 16.6 ms, ratio 1.52), which
   * rolled a sound model back in `edgeloop demo`; a model 20× slower (2 → 40 ms) still fails.
   */
  readonly latencyMarginMs: number;
  /**
   * Largest rise of the input drift (fleetFit distance, reference σ) against the new model's reference,
   * compared with the drift against the old model's reference before. It should fall. Default 0.5.
   */
  readonly maxDriftIncreaseSigma: number;
  /** Largest Jensen–Shannon distance of the prediction mix after vs before AND vs old-model devices. Default 0.6. */
  readonly maxPredictionMixJs: number;
  /** Largest fall of the mean top-class probability (confidence), 0..1. Default 0.15. */
  readonly maxConfidenceDrop: number;
  /** Telemetry read before a phase starts for the "before" side, seconds. Default 600. */
  readonly baselineS: number;
  /**
   * After the bake, how long the analysis waits for minWindows windows of the new model before it calls
   * the phase inconclusive (and pauses), seconds. A bake shorter than the devices' telemetry needs is
   * stretched, not failed. Default 300.
   */
  readonly maxDataWaitS: number;
  /**
   * The first windows of each device on the new model are left out of the latency figure: a fresh
   * session's first runs (and a device busy verifying and loading the bundle) are slower than its steady
   * state. Fewer than minWindows windows left → the latency check is skipped. Default 3.
   */
  readonly latencyWarmupWindows: number;
}

export const defaultAnalysisPolicy: AnalysisPolicy = Object.freeze({
  minWindows: 20,
  maxDeviceFailureShare: 0,
  maxInferenceFailureIncrease: 0.02,
  maxLatencyP95Ratio: 1.5,
  latencyMarginMs: 10,
  maxDriftIncreaseSigma: 0.5,
  maxPredictionMixJs: 0.6,
  maxConfidenceDrop: 0.15,
  baselineS: 600,
  maxDataWaitS: 300,
  latencyWarmupWindows: 3,
});

export interface RolloutPlanInput {
  /** Registry model name. */
  readonly model: string;
  /** Must exist in the registry. */
  readonly toVersion: string;
  /** Default: what `production` points at now (null if none). */
  readonly fromVersion?: string;
  /** Default: every known device whose reported model name is `model`. */
  readonly devices?: readonly string[];
  /** Default 10 %, at least one device. */
  readonly canary?: { readonly devices?: readonly string[]; readonly percent?: number };
  /** Default 60 s. */
  readonly canaryBakeS?: number;
  /** Percentages of the REMAINING devices; default [{50, 60}, {100, 0}]. */
  readonly phases?: readonly RolloutPhasePlan[];
  /** Seed of the deterministic selection; default 1. */
  readonly seed?: number;
  /** A device with no terminal state by then is `timed_out`; default 600 s. */
  readonly deviceTimeoutS?: number;
  readonly analysis?: Partial<AnalysisPolicy>;
  /** Default true; false pauses after each passed phase. */
  readonly autoProceed?: boolean;
  readonly reason?: string;
  readonly updateRequestId?: string | null;
}

/** A plan with every default filled in and the devices chosen: what is stored. */
export interface ResolvedPlan {
  readonly model: string;
  readonly toVersion: string;
  readonly fromVersion: string | null;
  readonly devices: readonly string[];
  readonly canary: { readonly devices?: readonly string[]; readonly percent?: number };
  readonly canaryBakeS: number;
  readonly phases: readonly RolloutPhasePlan[];
  readonly seed: number;
  readonly deviceTimeoutS: number;
  readonly analysis: AnalysisPolicy;
  readonly autoProceed: boolean;
  readonly reason: string;
  readonly updateRequestId: string | null;
}

export type RolloutState = 'running' | 'paused' | 'completed' | 'rolling_back' | 'rolled_back' | 'aborted';
export const rolloutStates: readonly RolloutState[] = [
  'running',
  'paused',
  'completed',
  'rolling_back',
  'rolled_back',
  'aborted',
];
export const endedStates: ReadonlySet<RolloutState> = new Set(['completed', 'rolled_back', 'aborted']);

/** deploying: commands out, waiting for terminal states; baking: waiting out the bake time. */
export type PhaseState =
  'pending' | 'deploying' | 'baking' | 'passed' | 'failed' | 'inconclusive' | 'cancelled';

export type DeviceRolloutState =
  /** In a later phase. */
  | 'pending'
  /** Install command sent; following its model state. */
  | 'installing'
  | 'committed'
  | 'rolled_back'
  | 'failed'
  | 'timed_out'
  /** Rollback command sent (the rollout is being rolled back). */
  | 'reverting'
  /** Back on the previous model after the rollout's rollback. */
  | 'reverted'
  /** Never got the new model, so nothing to roll back. */
  | 'untouched';

export interface RolloutDeviceView {
  readonly deviceId: string;
  readonly phase: number;
  readonly state: DeviceRolloutState;
  /** deploySeq of the last command sent to this device for this rollout, or null. */
  readonly deploySeq: number | null;
  /** Last model state reported for our command. */
  readonly modelState: ModelStateName | null;
  readonly code: string | null;
  readonly reason: string | null;
  readonly attempts: number;
  readonly sentMs: number | null;
  readonly settledMs: number | null;
  readonly updatedMs: number;
}

export interface PhaseView {
  readonly index: number;
  /** 'canary' or 'phase N'. */
  readonly name: string;
  readonly percent: number | null;
  readonly bakeS: number;
  readonly state: PhaseState;
  readonly devices: readonly string[];
  readonly startedMs: number | null;
  readonly settledMs: number | null;
  readonly bakeUntilMs: number | null;
  readonly endedMs: number | null;
  readonly verdict: Verdict | null;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface AnalysisCheck {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skipped';
  readonly detail: string;
}

export interface AnalysisView {
  readonly id: number;
  readonly phase: number;
  readonly atMs: number;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  readonly checks: readonly AnalysisCheck[];
  readonly figures: Readonly<Record<string, unknown>>;
}

export interface RolloutEvent {
  readonly atMs: number;
  readonly actor: string;
  readonly kind: string;
  readonly message: string;
}

export interface RolloutView {
  readonly id: string;
  readonly model: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly state: RolloutState;
  readonly actor: string;
  readonly reason: string;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly endedMs: number | null;
  readonly currentPhase: number;
  readonly pauseReason: string | null;
  /** Outcome of the production alias move at completion (null before). */
  readonly production: {
    readonly moved: boolean;
    readonly from: string | null;
    readonly code: string | null;
    readonly message: string;
  } | null;
  readonly plan: ResolvedPlan;
  readonly phases: readonly PhaseView[];
  readonly devices: readonly RolloutDeviceView[];
  readonly analyses: readonly AnalysisView[];
  readonly events: readonly RolloutEvent[];
  /** Counts of devices by state. */
  readonly counts: Readonly<Partial<Record<DeviceRolloutState, number>>>;
}

export interface InventoryRow {
  readonly deviceId: string;
  /** The model serving now (modelState `active`, else what telemetry/status last reported). */
  readonly model: ModelRef | null;
  readonly state: ModelStateName | null;
  readonly target: ModelRef | null;
  readonly deploySeq: number | null;
  readonly code: string | null;
  readonly reason: string | null;
  /** When the model state was received (collector clock), ms; null when no model state was seen. */
  readonly stateMs: number | null;
  readonly online: boolean | null;
  /** The rollout that last commanded this device, if any. */
  readonly rolloutId: string | null;
}

export interface RolloutListOptions {
  readonly state?: RolloutState;
  readonly model?: string;
  readonly limit?: number;
}

export interface RolloutController {
  start(plan: RolloutPlanInput, actor: string): Result<RolloutView>;
  pause(id: string, actor: string, reason: string): Result<RolloutView>;
  resume(id: string, actor: string): Result<RolloutView>;
  /** Rolls devices back; the production alias never moves. */
  abort(id: string, actor: string, reason: string): Result<RolloutView>;
  get(id: string): RolloutView | undefined;
  list(options?: RolloutListOptions): RolloutView[];
  /** Which device runs which model now, and its last model state (from retained modelState). */
  inventory(): InventoryRow[];
  /** modelState, status (online again → retry) and telemetry messages as ingest decoded them. */
  observe(messages: readonly IncomingMessage[]): void;
  /** Advances every running rollout; also run by its own unref'd timer (startTimer). */
  tick(nowMs: number): void;
  startTimer(): void;
  /** Called when a rollout ends: completed, rolled_back or aborted. */
  onEnded(listener: (r: RolloutView) => void): void;
  /** Counters and gauges for the metrics endpoint (docs/rollouts.md §Metrics). */
  stats(): RolloutStats;
  /** Idempotent. */
  close(): void;
}

export interface RolloutStats {
  /** Rollouts by state (gauge). */
  readonly rollouts: Readonly<Record<RolloutState, number>>;
  /** Model commands published since start, by action (counter). */
  readonly commandsSent: { readonly install: number; readonly rollback: number };
  /** Publishes that failed (counter). */
  readonly publishFailures: number;
  /** Analyses run since start, by verdict (counter). */
  readonly analyses: Readonly<Record<Verdict, number>>;
  /** Devices marked timed_out since start (counter). */
  readonly deviceTimeouts: number;
}
