// The agent's Prometheus metrics (docs/agent.md §Metrics), on a prom-client Registry of its own, never the
// global one (STYLE.md habit 10), so tests and several agents in one process (the demo) never collide.
//
// Two kinds of input:
//  - events pushed as they happen: integrity flags per window, inference latency, publish results,
//    connection changes, the active model;
//  - stats pulled at scrape time from the components that already count (ingest pipeline, serial reader,
//    outbox, publisher), so their hot paths pay nothing for metrics. Their totals become Prometheus
//    counters by adding the increase since the previous scrape.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelRef } from '../shared/mqtt/schemas.ts';
import type { ErrorCode } from '../shared/errors.ts';
import type { Window } from '../shared/samples.ts';
import type { RunnerStats } from './inference/runner.ts';
import type { IngestStats } from './ingest/pipeline.ts';
import type { ReaderStats } from './ingest/serial-reader.ts';
import { dropReasons, outboxClasses, type OutboxClass, type OutboxStats } from './outbox/types.ts';
import type { PublisherObserver, PublisherStats } from './publish/publisher.ts';
import type { WindowSinkStats } from './publish/window-sink.ts';

/** Pulled at scrape time; any may be missing (e.g. before the serial port opened). */
export interface MetricSources {
  readonly ingest?: () => IngestStats;
  /** Sample-index gaps seen (IngestCounterTracker.gaps). */
  readonly gaps?: () => number;
  readonly reader?: () => Readonly<ReaderStats>;
  readonly outbox?: () => OutboxStats;
  readonly publisher?: () => PublisherStats;
  readonly sink?: () => WindowSinkStats;
  readonly runner?: () => RunnerStats;
}

/**
 * The `reason` label of the ingest drop counters, from the stream's error codes (StreamCounters
 * framesDropped / samplesDropped). A code not listed here (a future one) is counted as `other`, never lost.
 */
const ingestDropReason = {
  EDGELOOP_ERR_NO_HELLO: 'no_hello',
  EDGELOOP_ERR_UNKNOWN_SENSOR: 'unknown_sensor',
  EDGELOOP_ERR_FRAME_TRUNCATED: 'truncated',
  EDGELOOP_ERR_FRAME_TYPE: 'unknown_type',
} as const satisfies Partial<Record<ErrorCode, string>>;
type IngestDropReason = (typeof ingestDropReason)[keyof typeof ingestDropReason] | 'other';
const ingestDropReasons: readonly IngestDropReason[] = [...Object.values(ingestDropReason), 'other'];
const reasonOf = (code: string): IngestDropReason =>
  (ingestDropReason as Readonly<Record<string, IngestDropReason>>)[code] ?? 'other';

/** Why a window never reached inference. */
type WindowDropReason = 'inference_behind';

export interface AgentMetricsOptions {
  readonly deviceId: string;
  readonly agentVersion: string;
  readonly runId: number;
  /** Event-loop sampling period, ms (one timer wake-up per period). Default 20. */
  readonly eventLoopResolutionMs?: number;
}

const statusValue = { good: 0, suspect: 1, fail: 2 } as const;

/** Turns a running total into counter increments; a total that went down (component rebuilt) restarts. */
class TotalTracker {
  readonly #last = new Map<string, number>();
  delta(key: string, total: number): number {
    const last = this.#last.get(key) ?? 0;
    this.#last.set(key, total);
    return total >= last ? total - last : total;
  }
}

export class AgentMetrics implements PublisherObserver {
  readonly registry = new Registry();
  #sources: MetricSources = {};
  readonly #totals = new TotalTracker();
  readonly #loop: IntervalHistogram;
  readonly #loopPeriodNs: number;
  #closed = false;

  readonly framesDecoded: Counter;
  readonly framesInvalid: Counter<'code'>;
  readonly samples: Counter<'sensor'>;
  readonly samplesMissing: Counter;
  readonly sampleGaps: Counter;
  readonly windows: Counter;
  readonly framesDropped: Counter<'reason'>;
  readonly samplesDropped: Counter<'reason'>;
  readonly windowsDropped: Counter<'reason'>;
  readonly serialConnected: Gauge;
  readonly serialConnects: Counter;
  readonly serialOpenFailures: Counter;
  readonly integrityFlags: Counter<'channel' | 'check' | 'status'>;
  readonly channelStatus: Gauge<'channel'>;
  readonly inferenceLatency: Histogram;
  readonly inferenceErrors: Counter;
  readonly outboxDepth: Gauge;
  readonly outboxBytes: Gauge;
  readonly outboxBacklog: Gauge;
  readonly outboxInFlight: Gauge;
  readonly outboxOldestAge: Gauge;
  readonly outboxEnqueued: Counter;
  readonly outboxAcked: Counter;
  readonly outboxDropped: Counter<'class' | 'reason'>;
  readonly outboxStorageErrors: Counter;
  readonly mqttConnected: Gauge;
  readonly mqttConnections: Counter;
  readonly mqttPublish: Counter<'class' | 'result'>;
  readonly mqttInFlight: Gauge;
  readonly mqttDelivery: Histogram<'class'>;
  readonly telemetryInvalid: Counter;
  readonly modelInfo: Gauge<'name' | 'version'>;
  // Three gauges rather than one with a `quantile` label: only a summary may carry `quantile`
  // (promtool check metrics rejects it on a gauge), and prom-client's summary computes its own quantiles.
  readonly eventLoopLagP50: Gauge;
  readonly eventLoopLagP99: Gauge;
  readonly eventLoopLagMax: Gauge;
  readonly residentMemory: Gauge;
  readonly heapUsed: Gauge;
  readonly info: Gauge<'version' | 'device_id' | 'run_id'>;

  constructor(options: AgentMetricsOptions) {
    const r = [this.registry];
    const refresh = (): void => {
      this.#collect();
    };
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers: r });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers: r });

    // One collect hook refreshes every pulled value before the registry serialises. It must be the FIRST
    // metric registered: registry.metrics() reads the metrics in registration order, so a hook registered
    // later would update values that were already read for this scrape.
    new Gauge({
      name: 'edgeloop_agent_scrape_timestamp_seconds',
      help: 'When this scrape was collected (refreshes the pulled metrics).',
      registers: r,
      collect() {
        this.set(Date.now() / 1000);
        refresh();
      },
    });
    this.framesDecoded = counter(
      'edgeloop_agent_frames_decoded_total',
      'Valid serial frames (or CSV lines) decoded.',
    );
    this.framesInvalid = counter(
      'edgeloop_agent_frames_invalid_total',
      'Invalid serial frames or CSV lines, by error code.',
      ['code'],
    );
    this.samples = counter('edgeloop_agent_samples_total', 'Samples received, by sensor.', ['sensor']);
    this.samplesMissing = counter(
      'edgeloop_agent_samples_missing_total',
      'Samples known lost from sample-index gaps.',
    );
    this.sampleGaps = counter('edgeloop_agent_sample_gaps_total', 'Sample-index gaps seen.');
    this.windows = counter('edgeloop_agent_windows_total', 'Windows closed.');
    this.framesDropped = counter(
      'edgeloop_agent_frames_dropped_total',
      'Intact serial frames the agent could not use, by reason (invalid frames are frames_invalid_total).',
      ['reason'],
    );
    this.samplesDropped = counter(
      'edgeloop_agent_samples_dropped_total',
      'Samples inside dropped frames, by reason.',
      ['reason'],
    );
    this.windowsDropped = counter(
      'edgeloop_agent_windows_dropped_total',
      'Windows dropped before inference, by reason.',
      ['reason'],
    );
    this.serialConnected = gauge('edgeloop_agent_serial_connected', '1 while the serial port is open.');
    this.serialConnects = counter('edgeloop_agent_serial_connects_total', 'Serial port opens.');
    this.serialOpenFailures = counter(
      'edgeloop_agent_serial_open_failures_total',
      'Failed serial port opens.',
    );
    this.integrityFlags = counter(
      'edgeloop_agent_integrity_flags_total',
      'Non-good integrity flags raised on windows, by channel, check and status.',
      ['channel', 'check', 'status'],
    );
    this.channelStatus = gauge(
      'edgeloop_agent_channel_status',
      'Integrity status of the last window per channel: 0 good, 1 suspect, 2 fail.',
      ['channel'],
    );
    this.inferenceLatency = new Histogram({
      name: 'edgeloop_agent_inference_latency_seconds',
      help: 'Inference latency per window (features excluded).',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    this.inferenceErrors = counter('edgeloop_agent_inference_errors_total', 'Inferences that failed.');
    this.outboxDepth = gauge(
      'edgeloop_agent_outbox_depth',
      'Messages stored in the outbox, in flight included.',
    );
    this.outboxBytes = gauge('edgeloop_agent_outbox_bytes', 'Payload and topic bytes stored in the outbox.');
    this.outboxBacklog = gauge(
      'edgeloop_agent_outbox_backlog_depth',
      'Outbox messages from before the link last came back.',
    );
    this.outboxInFlight = gauge(
      'edgeloop_agent_outbox_in_flight',
      'Outbox messages handed to the publisher and not yet acked or released.',
    );
    this.outboxOldestAge = gauge(
      'edgeloop_agent_outbox_oldest_age_seconds',
      'Age of the oldest stored outbox message.',
    );
    this.outboxEnqueued = counter('edgeloop_agent_outbox_enqueued_total', 'Messages accepted by the outbox.');
    this.outboxAcked = counter(
      'edgeloop_agent_outbox_acked_total',
      'Messages deleted from the outbox after PUBACK.',
    );
    this.outboxDropped = counter(
      'edgeloop_agent_outbox_dropped_total',
      'Messages the outbox dropped, by class and reason.',
      ['class', 'reason'],
    );
    this.outboxStorageErrors = counter(
      'edgeloop_agent_outbox_storage_errors_total',
      'Outbox storage operations that failed.',
    );
    this.mqttConnected = gauge('edgeloop_agent_mqtt_connected', '1 while connected to the MQTT broker.');
    this.mqttConnections = counter(
      'edgeloop_agent_mqtt_connections_total',
      'Successful MQTT connections (reconnects included).',
    );
    this.mqttPublish = counter(
      'edgeloop_agent_mqtt_publish_total',
      'Publishes by outbox class and result (acked = PUBACK received).',
      ['class', 'result'],
    );
    this.mqttInFlight = gauge('edgeloop_agent_mqtt_in_flight', 'Publishes waiting for their PUBACK.');
    this.mqttDelivery = new Histogram<'class'>({
      name: 'edgeloop_agent_mqtt_delivery_seconds',
      help: 'From message creation to PUBACK, by outbox class (includes time spent in the outbox).',
      labelNames: ['class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600],
      registers: r,
    });
    this.telemetryInvalid = counter(
      'edgeloop_agent_telemetry_invalid_total',
      'Telemetry payloads that failed the shared schema and were not published.',
    );
    this.modelInfo = gauge(
      'edgeloop_agent_model_info',
      'The active model (value 1); absent when no model is loaded.',
      ['name', 'version'],
    );
    this.eventLoopLagP50 = gauge(
      'edgeloop_agent_event_loop_lag_p50_seconds',
      'Median event-loop lag since the previous scrape.',
    );
    this.eventLoopLagP99 = gauge(
      'edgeloop_agent_event_loop_lag_p99_seconds',
      '99th percentile of event-loop lag since the previous scrape.',
    );
    this.eventLoopLagMax = gauge(
      'edgeloop_agent_event_loop_lag_max_seconds',
      'Largest event-loop lag since the previous scrape.',
    );
    this.residentMemory = gauge(
      'edgeloop_agent_resident_memory_bytes',
      'Resident set size of the agent process.',
    );
    this.heapUsed = gauge('edgeloop_agent_heap_used_bytes', 'V8 heap in use.');
    this.info = gauge('edgeloop_agent_info', 'Agent build and identity (value 1).', [
      'version',
      'device_id',
      'run_id',
    ]);
    this.info.set(
      { version: options.agentVersion, device_id: options.deviceId, run_id: String(options.runId) },
      1,
    );

    const periodMs = options.eventLoopResolutionMs ?? 20;
    this.#loopPeriodNs = periodMs * 1e6;
    this.#loop = monitorEventLoopDelay({ resolution: periodMs });
    this.#loop.enable();
    // Every drop series exists from the start at 0, so `increase()` alerts see the first drop.
    for (const c of outboxClasses)
      for (const reason of dropReasons) this.outboxDropped.inc({ class: c, reason }, 0);
    for (const reason of ingestDropReasons) {
      this.framesDropped.inc({ reason }, 0);
      this.samplesDropped.inc({ reason }, 0);
    }
    this.windowsDropped.inc({ reason: 'inference_behind' satisfies WindowDropReason }, 0);
  }

  /** Adds or replaces pulled sources. */
  bind(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  /** Counts the window's integrity flags and sets each channel's status. */
  recordWindow(w: Window): void {
    for (const f of w.integrity.flags)
      this.integrityFlags.inc({ channel: f.channel, check: f.check, status: f.status });
    for (const [channel, status] of Object.entries(w.integrity.channels))
      this.channelStatus.set({ channel }, statusValue[status]);
  }

  observeInference(latencyMs: number, succeeded: boolean): void {
    if (succeeded && Number.isFinite(latencyMs)) this.inferenceLatency.observe(latencyMs / 1000);
    else this.inferenceErrors.inc();
  }

  setActiveModel(model: ModelRef | null): void {
    this.modelInfo.reset();
    if (model !== null) this.modelInfo.set({ name: model.name, version: model.version }, 1);
  }

  connection(up: boolean): void {
    this.mqttConnected.set(up ? 1 : 0);
    if (up) this.mqttConnections.inc();
  }

  published(cls: OutboxClass, result: 'acked' | 'failed'): void {
    this.mqttPublish.inc({ class: cls, result });
  }

  deliveredAfter(cls: OutboxClass, ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.mqttDelivery.observe({ class: cls }, ms / 1000);
  }

  /** Prometheus text exposition of everything. */
  async text(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops the event-loop monitor. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#loop.disable();
  }

  #inc(counter: Counter, key: string, total: number): void;
  #inc<L extends string>(
    counter: Counter<L>,
    key: string,
    total: number,
    labels: Partial<Record<L, string>>,
  ): void;
  #inc<L extends string>(
    counter: Counter<L>,
    key: string,
    total: number,
    labels?: Partial<Record<L, string>>,
  ): void {
    const d = this.#totals.delta(key, total);
    if (d > 0) {
      if (labels === undefined) counter.inc(d);
      else counter.inc(labels, d);
    }
  }

  #collect(): void {
    const s = this.#sources;
    const ingest = s.ingest?.();
    if (ingest !== undefined) {
      this.#inc(this.framesDecoded, 'frames', ingest.decoder.frames + ingest.csv.lines - ingest.csv.badLines);
      for (const [code, n] of Object.entries(ingest.decoder.invalid))
        this.#inc(this.framesInvalid, `inv:${code}`, n, { code });
      this.#inc(this.framesInvalid, 'inv:csv', ingest.csv.badLines, { code: 'EDGELOOP_ERR_CSV_LINE' });
      for (const [sensor, n] of Object.entries(ingest.stream.samples))
        this.#inc(this.samples, `s:${sensor}`, n, { sensor });
      this.#inc(this.samplesMissing, 'missing', ingest.stream.samplesLostTotal);
      this.#inc(this.windows, 'windows', ingest.windows);
      // Summed per label first: several codes may share `other`.
      for (const [counter, byCode, key] of [
        [this.framesDropped, ingest.stream.framesDropped, 'fd'],
        [this.samplesDropped, ingest.stream.samplesDropped, 'sd'],
      ] as const) {
        const totals = new Map<IngestDropReason, number>();
        for (const [code, n] of Object.entries(byCode)) {
          const reason = reasonOf(code);
          totals.set(reason, (totals.get(reason) ?? 0) + n);
        }
        for (const [reason, n] of totals) this.#inc(counter, `${key}:${reason}`, n, { reason });
      }
    }
    const runner = s.runner?.();
    if (runner !== undefined)
      this.#inc(this.windowsDropped, 'wd', runner.dropped, {
        reason: 'inference_behind' satisfies WindowDropReason,
      });
    const gaps = s.gaps?.();
    if (gaps !== undefined) this.#inc(this.sampleGaps, 'gaps', gaps);
    const reader = s.reader?.();
    if (reader !== undefined) {
      this.serialConnected.set(reader.connected ? 1 : 0);
      this.#inc(this.serialConnects, 'serialConnects', reader.connects);
      this.#inc(this.serialOpenFailures, 'serialOpenFailures', reader.openFailures);
    }
    const o = s.outbox?.();
    if (o !== undefined) {
      this.outboxDepth.set(o.depth);
      this.outboxBytes.set(o.bytes);
      this.outboxBacklog.set(o.backlogDepth);
      this.outboxInFlight.set(o.inFlight);
      this.outboxOldestAge.set(o.oldestAgeMs / 1000);
      this.#inc(this.outboxEnqueued, 'enq', o.enqueuedTotal);
      this.#inc(this.outboxAcked, 'acked', o.ackedTotal);
      this.#inc(this.outboxStorageErrors, 'storage', o.storageErrorsTotal);
      for (const c of outboxClasses)
        for (const reason of dropReasons)
          this.#inc(this.outboxDropped, `drop:${c}:${reason}`, o.drops[c][reason], { class: c, reason });
    }
    const p = s.publisher?.();
    if (p !== undefined) {
      this.mqttConnected.set(p.connected ? 1 : 0);
      this.mqttInFlight.set(p.inFlight);
    }
    const sink = s.sink?.();
    if (sink !== undefined) this.#inc(this.telemetryInvalid, 'telemetryInvalid', sink.invalidPayloads);
    const mem = process.memoryUsage();
    this.residentMemory.set(mem.rss);
    this.heapUsed.set(mem.heapUsed);
    const h = this.#loop;
    if (h.count > 0) {
      // monitorEventLoopDelay records the interval between two wake-ups of its repeating timer, which is
      // the period plus the lag: an idle loop reads the period (20 ms), not 0. Lag is the excess.
      const lag = (ns: number): number => Math.max(0, ns - this.#loopPeriodNs) / 1e9;
      this.eventLoopLagP50.set(lag(h.percentile(50)));
      this.eventLoopLagP99.set(lag(h.percentile(99)));
      this.eventLoopLagMax.set(lag(h.max));
      h.reset();
    }
  }
}
