// Telemetry wiring: every inference outcome (one per window, in window order) → one telemetry message with
// the prediction, the feature vector, integrity flags and ingest counters, plus an integrity event for each
// channel whose status the window changed (and an alert when one enters fail) → the outbox.

import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { AgentConfig } from '../config.ts';
import type { InferenceRunner } from '../inference/runner.ts';
import type { IngestPipeline } from '../ingest/pipeline.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { Outbox } from '../outbox/types.ts';
import { AlertBuilder, raiseAlert, type AlertInput } from '../publish/alerts.ts';
import { IngestCounterTracker } from '../publish/counters.ts';
import { IntegrityEvents } from '../publish/integrity-events.ts';
import type { Publisher } from '../publish/publisher.ts';
import { RawCapture } from '../publish/raw-capture.ts';
import type { MessageSequence } from '../publish/sequence.ts';
import type { FeatureSummary, Prediction } from '../publish/telemetry.ts';
import { TelemetryBuilder } from '../publish/telemetry.ts';
import { WindowSink } from '../publish/window-sink.ts';

export interface TelemetryWiring {
  readonly sink: WindowSink;
  readonly counters: IngestCounterTracker;
  readonly integrity: IntegrityEvents;
  /** Raises an edge alert through the outbox (class alert); failures are logged once and counted there. */
  readonly raiseAlert: (a: AlertInput) => void;
}

/** Runner outcomes → WindowSink. Without a serving model, features come from the default pipeline. */
export function wireTelemetry(o: {
  readonly config: AgentConfig;
  readonly sequence: MessageSequence;
  readonly clock: Clock;
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly runner: InferenceRunner;
  readonly pipeline: IngestPipeline;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
}): TelemetryWiring {
  const { config, sequence } = o;
  const { clock } = o;
  const counters = new IngestCounterTracker();
  const telemetry = new TelemetryBuilder({ deviceId: config.deviceId, sequence, clock });
  const raw =
    config.rawEveryNthWindow > 0
      ? new RawCapture({
          deviceId: config.deviceId,
          sequence,
          everyNthWindow: config.rawEveryNthWindow,
          clock,
        })
      : undefined;
  const alerts = new AlertBuilder({ deviceId: config.deviceId, sequence, clock });
  const integrity = new IntegrityEvents({ deviceId: config.deviceId, sequence, alerts, clock });
  const sink = new WindowSink({
    outbox: o.outbox,
    telemetry,
    integrity,
    ...(raw === undefined ? {} : { raw }),
    notify: () => {
      o.publisher.notify();
    },
  });
  // The collector's drift monitors need features before any model is installed, so windows no model
  // served still carry the shared pipeline's vector (about 0.15 ms per window, docs/agent-models.md).
  const fallback = createFeaturePipeline();
  let failureLogged = false;
  let sinkFailureLogged = false;
  let droppedSeen = 0;
  o.runner.observe((out) => {
    const sensors = o.pipeline.device?.sensors ?? [];
    let prediction: Prediction | null = null;
    let features: FeatureSummary | null = null;
    if (out.result !== null) {
      o.metrics.observeInference(out.result.ok ? out.result.value.latencyMs : Number.NaN, out.result.ok);
      if (!out.result.ok && !failureLogged) {
        failureLogged = true;
        o.log.warn('inference failed (further failures are counted)', {
          code: out.result.code,
          detail: out.result.message,
        });
      }
    }
    if (out.result?.ok === true && out.engine !== null) {
      const p = out.result.value;
      prediction = { label: p.label, probabilities: p.probabilities, model: p.model, latencyMs: p.latencyMs };
      features = {
        pipeline: out.engine.featurePipelineId,
        names: out.engine.featureNames(sensors),
        values: p.features,
      };
    } else if (sensors.length > 0) {
      const v = fallback.computeDetailed(out.window, sensors);
      features = {
        pipeline: fallback.id,
        names: fallback.featureNames(sensors),
        values: v.values,
        valid: v.valid,
      };
    }
    const r = sink.push({
      window: out.window,
      features,
      prediction,
      counters: counters.snapshot(o.pipeline.stats()),
    });
    if (!r.ok && !sinkFailureLogged) {
      sinkFailureLogged = true;
      o.log.warn('window not enqueued (further failures are counted)', {
        window: out.window.index,
        code: r.code,
        detail: r.message,
      });
    }
    const dropped = o.runner.stats().dropped;
    if (dropped > droppedSeen && droppedSeen === 0)
      o.log.warn('inference is slower than the window rate: queued windows are being dropped (counted)');
    droppedSeen = dropped;
  });
  let alertFailureLogged = false;
  const alert = (a: AlertInput): void => {
    const r = raiseAlert(
      {
        builder: alerts,
        outbox: o.outbox,
        notify: () => {
          o.publisher.notify();
        },
      },
      a,
    );
    if (!r.ok && !alertFailureLogged) {
      alertFailureLogged = true;
      o.log.warn('alert not enqueued (further failures are counted)', { code: r.code, detail: r.message });
    }
  };
  return { sink, counters, integrity, raiseAlert: alert };
}
