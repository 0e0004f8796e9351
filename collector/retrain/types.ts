// Retraining on captured data (issue 10 §2, docs/retraining.md): the job input, the job record the API
// shows, and the interface the composition root wires. The work itself runs in a child process
// (runner.ts, cli/retrain-worker.ts); this side queues, follows and finishes jobs.

import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Result } from '../../shared/errors.ts';

/** Which rows go into the dataset. Every row carries one label source (docs/retraining.md). */
export interface RetrainSources {
  /** Original lab data, regenerated from the production model's lineage (label source `lab`). Default true. */
  readonly original?: boolean;
  /** Captured windows of the job's devices and range (they need a label: operator or pseudo). Default true. */
  readonly captured?: boolean;
  /** Operator labels (POST /api/v1/labels) label the captured windows they cover (`operator`). Default true. */
  readonly operatorLabels?: boolean;
  /** Lab data made by firmware-sim under the conditions estimated from the captured data (`lab_conditions`). Default true. */
  readonly labUnderConditions?: boolean;
  /** Confident predictions of the current model label otherwise unlabelled windows (`pseudo`, train only). Default false. */
  readonly pseudoLabels?: boolean;
}

export interface RetrainInput {
  readonly requestId: string | null;
  /** The model to improve (its lineage gives the original lab data spec). */
  readonly model: ModelRef;
  /** Captured data from these devices ... */
  readonly devices: readonly string[];
  /** ... over this device-time range (window tsMs), [fromMs, toMs). */
  readonly fromMs: number;
  readonly toMs: number;
  readonly sources?: RetrainSources;
  /** Seeds the lab data under conditions, the split, the search and the weights. Default 1. */
  readonly seed?: number;
  /** Default: next patch above the highest version of the model in the registry. */
  readonly version?: string;
  /** Search trials. Default 6. */
  readonly trials?: number;
  /**
   * Lab devices per state and seconds per device for the lab data under conditions. Default: the
   * original lab spec's.
   */
  readonly conditionsLab?: { readonly devicesPerState?: number; readonly secondsPerDevice?: number };
  /** Testing the gate only: shuffle the training labels (the candidate must then be refused). Default false. */
  readonly shuffleLabels?: boolean;
}

export type TrainingJobState = 'queued' | 'running' | 'succeeded' | 'refused' | 'failed' | 'cancelled';
export const trainingJobStates: readonly TrainingJobState[] = [
  'queued',
  'running',
  'succeeded',
  'refused',
  'failed',
  'cancelled',
];
export const endedStates: readonly TrainingJobState[] = ['succeeded', 'refused', 'failed', 'cancelled'];

export interface TrainingProgress {
  /** lab | captured | lab_conditions | search | evaluate | bundle | push */
  readonly phase: string;
  readonly done: number;
  readonly of: number;
  readonly message: string;
}

export interface TrainingJobView {
  /** `tj-<n>`. */
  readonly id: string;
  readonly state: TrainingJobState;
  readonly input: RetrainInput;
  readonly actor: string;
  /** The candidate's version and the production version it is judged against. */
  readonly candidateVersion: string;
  readonly productionVersion: string;
  readonly createdMs: number;
  readonly startedMs: number | null;
  readonly endedMs: number | null;
  readonly progress: TrainingProgress | null;
  /** Set when the job failed, was refused or cancelled. */
  readonly code: string | null;
  readonly message: string | null;
  /** The gate's reasons when refused. */
  readonly reasons: readonly string[];
  /** The worker's result (metrics, gate figures, label sources, conditions), once it has one. */
  readonly result: unknown;
}

export interface Retraining {
  open(input: RetrainInput, actor: string): Result<TrainingJobView>;
  get(id: string): TrainingJobView | undefined;
  list(options?: { state?: TrainingJobState; limit?: number }): TrainingJobView[];
  cancel(id: string, actor: string): Result<TrainingJobView>;
  onEnded(listener: (job: TrainingJobView) => void): void;
  /** Kills a running child and marks its job failed (EDGELOOP_ERR_TRAINING_INTERRUPTED). Idempotent. */
  close(): Promise<void>;
}
