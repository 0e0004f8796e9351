// Model-update requests (issue #10 §1, docs/update-requests.md): the typed record a request is, its
// states, and the narrow views of the rollout controller and the retraining service it drives. Those two
// are declared here as ports (what this module reads of them), so this folder compiles on its own; the
// real RolloutController and Retraining satisfy them structurally (contract-10, sections R and T).

import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Result } from '../../shared/errors.ts';
import type { Evidence, SuspectedCause } from '../monitor/types.ts';

/**
 * - `open`: raised; waiting for enough recent windows to decide;
 * - `rollout_proposed`: a newer approved version fits better; its rollout waits for an operator (approve);
 * - `rolling_out`: the rollout runs (`rolloutId`);
 * - `retraining`: no version fits better; a training job runs (`trainingJobId`);
 * - `blocked`: it cannot act (no registry, rollouts or retraining configured, or starting one failed):
 *   `blocked` says why; it stays open until dismissed;
 * - ends: `resolved` (the rollout completed), `rollout_failed` (rolled back or aborted),
 *   `candidate_refused` (the gate refused the retrained candidate), `retraining_failed` (the job failed or
 *   was cancelled), `dismissed` (an operator).
 */
export const updateRequestStates = [
  'open',
  'rollout_proposed',
  'rolling_out',
  'retraining',
  'blocked',
  'resolved',
  'rollout_failed',
  'candidate_refused',
  'retraining_failed',
  'dismissed',
] as const;
export type UpdateRequestState = (typeof updateRequestStates)[number];

export const endedStates: ReadonlySet<UpdateRequestState> = new Set([
  'resolved',
  'rollout_failed',
  'candidate_refused',
  'retraining_failed',
  'dismissed',
]);

export interface UpdatePolicy {
  /** Start a proposed rollout without an operator. */
  readonly autoRollout: boolean;
  /** After a device joined a request (or its request ended), no new request for (model, device), s. */
  readonly cooldownS: number;
  /** Recent device time whose windows are fitted to each reference, s. */
  readonly fitWindowS: number;
  /** Relative improvement a newer version's fit needs (0.2: distance at most 80% of the current one). */
  readonly fitMargin: number;
  /** Device time of captured data a retraining job gets, s. */
  readonly captureS: number;
  /**
   * Raise only when the device's own baseline saw the same sensor group move in the same cycle
   * (`drift.device_baseline`): a change on the device, not only a mismatch between one device's operating
   * point and the pooled reference of its predicted class. Default false here; the collector sets it
   * (--update-require-device-change, default true).
   */
  readonly requireDeviceChange?: boolean;
  /**
   * Let an estimated accuracy drop (check `performance.estimated_drop`) raise a request about the whole
   * model. Default false here and in the collector (--update-on-estimated-drop).
   */
  readonly onEstimatedDrop?: boolean;
  /** Bake times of the rollouts requests propose (the controller's defaults when absent). */
  readonly rollout?: {
    readonly canaryBakeS: number;
    readonly phases: readonly { readonly percent: number; readonly bakeS: number }[];
    /** The analysis' latency ratio (the controller's default when absent). */
    readonly maxLatencyP95Ratio?: number;
  };
}

/** One device of a request. */
export interface RequestDevice {
  readonly deviceId: string;
  /** The model version the device ran when it joined. */
  readonly version: string;
  /** Sensor groups that moved (`accel`). */
  readonly subjects: readonly string[];
  /** Channels named by the evidence (`accel.x`), checked against integrity. */
  readonly channels: readonly string[];
  /** ChannelHealth of each channel (and of the sensor group) when the device joined. */
  readonly integrity: Readonly<Record<string, string>>;
  readonly addedMs: number;
  /** Device time (tsMs) of the newest window the drift monitor judged; anchors the fit window. */
  readonly lastWindowToMs: number | null;
}

/** The monitor result behind a request (one per device and subject, the first seen). */
export interface RequestEvidence {
  readonly deviceId: string;
  readonly check: string;
  readonly subject: string | null;
  readonly cause: SuspectedCause | null;
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  readonly atMs: number;
  readonly window: { readonly fromMs: number; readonly toMs: number } | null;
}

export interface VersionFit {
  readonly version: string;
  /** Mean W1/σ over the devices (collector/loop/fit.ts); null when no feature could be judged. */
  readonly distance: number | null;
  readonly devices: readonly {
    readonly deviceId: string;
    readonly distance: number | null;
    readonly windows: number;
  }[];
}

export interface Decision {
  readonly atMs: number;
  readonly action: 'rollout' | 'retrain';
  readonly reason: string;
  /** Relative margin a candidate needed. */
  readonly fitMargin: number;
  readonly current: VersionFit;
  /** Newer approved versions, each with its fit (empty when the registry holds none). */
  readonly candidates: readonly VersionFit[];
  /** The version to roll out, or null (retrain). */
  readonly toVersion: string | null;
}

export interface HistoryEntry {
  readonly atMs: number;
  readonly from: UpdateRequestState | null;
  readonly to: UpdateRequestState;
  readonly actor: string;
  readonly note: string;
}

export interface RolloutPlanPort {
  readonly model: string;
  readonly toVersion: string;
  readonly fromVersion?: string;
  readonly devices?: readonly string[];
  readonly canary?: { readonly devices?: readonly string[]; readonly percent?: number };
  readonly canaryBakeS?: number;
  readonly phases?: readonly { readonly percent: number; readonly bakeS: number }[];
  readonly analysis?: { readonly maxLatencyP95Ratio?: number };
  readonly reason?: string;
  readonly updateRequestId?: string | null;
}

export interface UpdateRequestView {
  readonly id: string;
  readonly model: ModelRef;
  readonly state: UpdateRequestState;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly endedMs: number | null;
  readonly devices: readonly RequestDevice[];
  /** Union of the devices' channels. */
  readonly channels: readonly string[];
  readonly evidence: readonly RequestEvidence[];
  readonly decision: Decision | null;
  /** The rollout proposed or started (also set while waiting for approval). */
  readonly rolloutPlan: RolloutPlanPort | null;
  readonly rolloutId: string | null;
  readonly trainingJobId: string | null;
  /** Why it cannot act (state `blocked`), or null. */
  readonly blocked: { readonly code: string; readonly reason: string } | null;
  /** How it ended, in words (gate reasons, the rollout's end state), or null. */
  readonly outcome: string | null;
  readonly history: readonly HistoryEntry[];
}

// ---- Ports (contract-10 R and T); only what this module reads. ----

export interface RolloutViewPort {
  readonly id: string;
  /** running | paused | completed | rolling_back | rolled_back | aborted */
  readonly state: string;
  /** The production alias move at completion: a completed rollout whose promotion the gate refused says so. */
  readonly production?: { readonly moved: boolean; readonly message: string } | null;
}

export interface RolloutPort {
  start(plan: RolloutPlanPort, actor: string): Result<RolloutViewPort>;
  get(id: string): RolloutViewPort | undefined;
  onEnded(listener: (r: RolloutViewPort) => void): void;
}

export interface RetrainInputPort {
  readonly requestId: string | null;
  readonly model: ModelRef;
  readonly devices: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
}

export interface TrainingJobPort {
  readonly id: string;
  /** queued | running | succeeded | refused | failed | cancelled */
  readonly state: string;
  /** The version the job registers (collector/retrain/types.ts TrainingJobView). */
  readonly candidateVersion?: string;
  /** The gate's reasons when refused. */
  readonly reasons?: readonly string[];
  /** Set when the job failed, was refused or cancelled. */
  readonly code?: string | null;
  readonly message?: string | null;
}

export interface RetrainingPort {
  open(input: RetrainInputPort, actor: string): Result<TrainingJobPort>;
  get(id: string): TrainingJobPort | undefined;
  onEnded(listener: (job: TrainingJobPort) => void): void;
}
