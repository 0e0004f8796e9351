// The two wiring halves of the composition root (agent/main.ts), and its log lines, split out to keep
// main.ts readable:
//
//  - telemetry: every inference outcome (one per window, in window order) → one telemetry message with the
//    prediction, the feature vector, integrity flags and ingest counters, plus an integrity event for each
//    channel whose status the window changed (and an alert when one enters fail) → the outbox;
//  - models: model commands from the device's command topic → ModelManager; every manager transition →
//    the retained model/state topic; the active model → metrics and the retained status.
//
// Model state goes straight to the link, like status, never through the outbox: it is retained, and a
// stale state replayed from a backlog after a newer one would overwrite the truth on the broker. While
// offline only the newest state is kept, and it is published again on every connect.

import type { ErrorCode } from '../shared/errors.ts';
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { decodeMessage, encodeJsonPayload } from '../shared/mqtt/codec.ts';
import type { ModelCommandPayload, ModelRef } from '../shared/mqtt/schemas.ts';
import { buildTopic, topicSpecs } from '../shared/mqtt/topics.ts';
import type { DeviceDescriptor } from '../shared/sensors.ts';
import type { MqttLink, MqttMessageOut } from './adapters/mqtt.ts';
import type { AgentConfig } from './config.ts';
import type { InferenceRunner } from './inference/runner.ts';
import type { IngestNotice, IngestPipeline } from './ingest/pipeline.ts';
import type { ReaderState } from './ingest/serial-reader.ts';
import type { AgentMetrics } from './metrics.ts';
import type { ModelManager } from './models/manager.ts';
import { modelStatePayload, type ModelStateReport } from './models/report.ts';
import type { Outbox } from './outbox/types.ts';
import { AlertBuilder, raiseAlert, type AlertInput } from './publish/alerts.ts';
import { IngestCounterTracker } from './publish/counters.ts';
import { IntegrityEvents } from './publish/integrity-events.ts';
import type { Publisher } from './publish/publisher.ts';
import { RawCapture } from './publish/raw-capture.ts';
import type { MessageSequence } from './publish/sequence.ts';
import type { StatusReporter } from './publish/status.ts';
import type { FeatureSummary, Prediction } from './publish/telemetry.ts';
import { TelemetryBuilder } from './publish/telemetry.ts';
import { WindowSink } from './publish/window-sink.ts';

type Log = (level: 'info' | 'warn', message: string) => void;

/** One log line per notice worth a person's attention (invalid frames are counted, not logged). */
export function noticeLine(n: IngestNotice): string | null {
  switch (n.kind) {
    case 'mode':
      return `stream mode: ${n.mode}`;
    case 'hello':
      return `${n.first ? 'device' : n.reboot ? 'device rebooted' : 'device re-announced'}: ${n.device.deviceId} firmware ${n.device.firmwareVersion}, protocol v${n.device.protocolVersion}, sensors ${n.device.sensors.map((s) => `${s.name}@${s.rateHz}Hz`).join(' ')}`;
    case 'frameGap':
      return `frame gap: ${n.missingFrames} frame(s) missing`;
    case 'sampleGap':
      return `sample gap: ${n.sensor} lost ${n.lost} sample(s)`;
    case 'invalidFrame':
      return null;
    case 'dropped':
      return `dropped: ${n.reason} [${n.code}]`;
    case 'status':
      return n.code === 0 ? null : `device status ${n.code} (${n.severity}): ${n.message}`;
  }
}

export function readerLine(serial: string, baud: number, s: ReaderState): string {
  if (s.kind === 'connected') return `serial ${serial} open at ${baud} baud`;
  if (s.kind === 'disconnected')
    return `serial ${serial} lost (${s.reason}) [EDGELOOP_ERR_SERIAL_LOST]; reconnecting`;
  return `${s.message} [${s.code}]; retrying in ${s.retryInMs} ms`;
}

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
  readonly nowMs: () => number;
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly runner: InferenceRunner;
  readonly pipeline: IngestPipeline;
  readonly metrics: AgentMetrics;
  readonly log: Log;
}): TelemetryWiring {
  const { config, sequence, nowMs } = o;
  const counters = new IngestCounterTracker();
  const telemetry = new TelemetryBuilder({ deviceId: config.deviceId, sequence, nowMs });
  const raw =
    config.rawEveryNthWindow > 0
      ? new RawCapture({
          deviceId: config.deviceId,
          sequence,
          everyNthWindow: config.rawEveryNthWindow,
          nowMs,
        })
      : undefined;
  const alerts = new AlertBuilder({ deviceId: config.deviceId, sequence, nowMs });
  const integrity = new IntegrityEvents({ deviceId: config.deviceId, sequence, alerts, nowMs });
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
        o.log(
          'warn',
          `inference failed: ${out.result.message} [${out.result.code}] (further failures are counted)`,
        );
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
      o.log(
        'warn',
        `window ${out.window.index} not enqueued: ${r.message} [${r.code}] (further failures are counted)`,
      );
    }
    const dropped = o.runner.stats().dropped;
    if (dropped > droppedSeen && droppedSeen === 0)
      o.log('warn', 'inference is slower than the window rate: queued windows are being dropped (counted)');
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
      o.log('warn', `alert not enqueued: ${r.message} [${r.code}] (further failures are counted)`);
    }
  };
  return { sink, counters, integrity, raiseAlert: alert };
}

export interface ModelWiring {
  /** The manager's reportState. */
  report(r: ModelStateReport): void;
  /** A HELLO: the retained status names the firmware and boot. */
  hello(device: DeviceDescriptor): void;
  /** Waits (at most timeoutMs) for the newest model state to be acknowledged, when connected. */
  settle(timeoutMs: number): Promise<void>;
}

const sameModel = (a: ModelRef | null, b: ModelRef | null): boolean =>
  a?.name === b?.name && a?.version === b?.version;

/** True when `url` lies under the registry base URL (same origin, path prefix). */
export function underRegistry(url: string, registry: string): boolean {
  try {
    const u = new URL(url);
    const r = new URL(registry);
    const base = r.pathname.endsWith('/') ? r.pathname : `${r.pathname}/`;
    return u.origin === r.origin && (u.pathname === r.pathname || u.pathname.startsWith(base));
  } catch {
    return false;
  }
}

export function wireModels(o: {
  readonly config: AgentConfig;
  readonly sequence: MessageSequence;
  readonly nowMs: () => number;
  readonly link: MqttLink;
  readonly status: StatusReporter;
  readonly metrics: AgentMetrics;
  readonly manager: ModelManager;
  readonly runner: InferenceRunner;
  readonly log: Log;
  /** Edge alerts for a model update that FAILED or was ROLLED_BACK (docs/mqtt.md §alert). */
  readonly raiseAlert?: (a: AlertInput) => void;
}): ModelWiring {
  const { config, link, status } = o;
  const topic = (k: 'modelCommand' | 'modelState'): string => {
    const t = buildTopic(k, config.deviceId);
    if (!t.ok) throw new Error(t.message); // the config validated the device id
    return t.value;
  };
  const commandTopic = topic('modelCommand');
  const stateTopic = topic('modelState');
  // msgSeq is taken when a state is built, at publish time: states superseded while offline take none,
  // so receivers see no false gap. Built states whose publish failed are sent again, in order, first.
  let pending: ModelStateReport | undefined;
  let unsent: MqttMessageOut[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let active: ModelRef | null = null;

  const build = (r: ModelStateReport): MqttMessageOut | undefined => {
    const p = modelStatePayload(r, {
      deviceId: config.deviceId,
      runId: o.sequence.runId,
      msgSeq: o.sequence.next(),
      tsMs: Math.floor(o.nowMs()),
    });
    const bytes = p.ok ? encodeJsonPayload('modelState', p.value) : p;
    if (bytes.ok)
      return { topic: stateTopic, payload: bytes.value, qos: topicSpecs.modelState.qos, retain: true };
    o.log('warn', `model state not published: ${bytes.message} [${bytes.code}]`);
    return undefined;
  };
  const flush = (): void => {
    if (!link.connected) return;
    const batch = unsent;
    unsent = [];
    const r = pending;
    pending = undefined;
    const m = r === undefined ? undefined : build(r);
    if (m !== undefined) batch.push(m);
    for (const msg of batch) {
      const p = link.publish(msg).then((res) => {
        inFlight.delete(p);
        // Bounded: states are a handful per update; keep the newest few if the broker keeps refusing.
        if (!res.ok) unsent = [...unsent, msg].slice(-16);
      });
      inFlight.add(p);
    }
  };
  const publishStatus = (): void => {
    if (link.connected) void link.publish(status.online('update'));
  };

  const report = (r: ModelStateReport): void => {
    pending = r;
    flush();
    const bad = r.state === 'FAILED' || r.state === 'ROLLED_BACK';
    const level = bad ? 'warn' : 'info';
    if (bad)
      o.raiseAlert?.({
        severity: 'warning',
        source: 'model',
        message: `model update ${r.state === 'FAILED' ? 'failed' : 'rolled back'}${r.target === null ? '' : ` (${r.target.name}@${r.target.version})`}: ${r.reason}`,
        ...(r.code === null ? {} : { code: r.code }),
      });
    o.log(
      level,
      `model ${r.state}${r.target === null ? '' : ` ${r.target.name}@${r.target.version}`}: ${r.reason}${r.code === null ? '' : ` [${r.code}]`}`,
    );
    if (!sameModel(active, r.active)) {
      active = r.active;
      o.metrics.setActiveModel(r.active);
      status.update({ model: r.active });
      publishStatus();
    }
  };

  const refuse = (code: ErrorCode, reason: string, cmd?: ModelCommandPayload): void => {
    report({
      state: 'FAILED',
      deploySeq: cmd?.deploySeq ?? o.manager.status().lastDeploySeq,
      target: cmd?.action === 'install' ? cmd.model : null,
      active: o.runner.active?.model ?? null,
      reason,
      code,
    });
  };

  link.subscribe(commandTopic, topicSpecs.modelCommand.qos);
  link.onEvent((e) => {
    if (e.kind === 'connected') flush();
  });
  link.onMessage((t, payload) => {
    if (t !== commandTopic) return;
    const d = decodeMessage(t, payload);
    if (!d.ok || d.value.kind !== 'modelCommand') {
      refuse(
        d.ok ? 'EDGELOOP_ERR_MQTT_TOPIC' : d.code,
        `model command refused: ${d.ok ? d.value.kind : d.message}`,
      );
      return;
    }
    const cmd = d.value.payload;
    if (cmd.action === 'install' && config.registry !== '' && !underRegistry(cmd.url, config.registry)) {
      refuse(
        'EDGELOOP_ERR_MODEL_URL_REFUSED',
        `bundle url ${cmd.url} is not under the registry ${config.registry}`,
        cmd,
      );
      return;
    }
    o.manager.handleCommand(cmd).catch((err: unknown) => {
      o.log('warn', `model command failed unexpectedly: ${String(err)}`);
    });
  });

  return {
    report,
    hello: (device) => {
      const f = status.facts;
      if (f.firmwareVersion === device.firmwareVersion && f.bootId === device.bootId) return;
      status.update({ firmwareVersion: device.firmwareVersion, bootId: device.bootId });
      publishStatus();
    },
    settle: async (timeoutMs) => {
      flush();
      await Promise.race([
        Promise.all(inFlight),
        new Promise((r) => {
          setTimeout(r, timeoutMs).unref();
        }),
      ]);
    },
  };
}
