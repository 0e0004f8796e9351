// What inference means on the agent (issue #4 §1): a Window goes through the bundle's feature pipeline
// (the one shared implementation, docs/features.md) and into the model; the prediction carries the class
// probabilities, the model name and version, and the latency. The runner (./runner.ts) holds one engine
// at a time and the model manager swaps it; tests wrap an engine to slow it down or make it fail.

import type { Result } from '../../shared/errors.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Window } from '../../shared/samples.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';

export interface Prediction {
  readonly model: ModelRef;
  /** The most probable label. */
  readonly label: string;
  /** Its position in the manifest's labels. */
  readonly labelIndex: number;
  /** Label -> probability, clamped to [0, 1] (float32 softmax can overshoot 1 by an ulp). */
  readonly probabilities: Readonly<Record<string, number>>;
  /** Features plus session run, ms. */
  readonly latencyMs: number;
  /** The feature vector the model saw (featureNames order), for telemetry without a second compute. */
  readonly features: Float32Array;
}

export interface InferenceEngine {
  readonly model: ModelRef;
  /** SHA-256 hex of the canonical manifest: the identity of the bundle this engine runs. */
  readonly manifestDigest: string;
  readonly labels: readonly string[];
  /** Feature pipeline id, e.g. "edgeloop-features/v1". */
  readonly featurePipelineId: string;
  featureNames(sensors: readonly SensorDescriptor[]): readonly string[];
  /**
   * One window to one prediction. Expected failures (a run error, a device whose sensors do not give the
   * model's features) are values. Calls are serialised by the runner; an engine need not be re-entrant.
   */
  infer(window: Window, sensors: readonly SensorDescriptor[]): Promise<Result<Prediction>>;
  /** Releases the session. Idempotent. */
  close(): Promise<void>;
}
