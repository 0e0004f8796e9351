// The collector's Prometheus metrics (docs/collector.md §Metrics), on a prom-client Registry of its own,
// never the global one (STYLE.md habit 10). Ingest pushes events through IngestObserver; queue depth,
// broker clients and refusals are pulled at scrape time from the components that already count them.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { topicKinds } from '../../shared/mqtt/topics.ts';
import { deadLetterReasons } from '../ingest/dead-letters.ts';
import type { IngestObserver } from '../ingest/ingest.ts';
import { registerAlertMetrics, type AlertMetricSource } from '../alerts/metrics.ts';
import type { DeliveryObserver } from '../alerts/types.ts';

export interface CollectorMetricSources {
  readonly queueDepth: () => number;
  readonly subscriberConnected: () => boolean;
  /** PUBACKs held until their batch commits. */
  readonly heldAcks: () => number;
  /** Live alerts for edgeloop_collector_alerts_open (AlertManager.live); absent: no alert gauge. */
  readonly alerts?: AlertMetricSource;
  /** Absent with an external broker. */
  readonly broker?: () => {
    readonly clients: number;
    readonly refusals: Readonly<Record<'connect' | 'publish' | 'subscribe', number>>;
  };
  /** Devices by state, from the integrity monitor (docs/ops/prometheus-rules.yml). Absent: no series. */
  readonly devices?: () => { readonly online: number; readonly offline: number; readonly stale: number };
}

export interface CollectorMetrics {
  readonly registry: Registry;
  readonly observer: IngestObserver;
  /** Alert delivery outcomes (give it to createAlerting / createAlertDelivery as `observer`). */
  readonly alertObserver: DeliveryObserver;
  /**
   * A batch is committed (Ingest onWritten): observes each message's receive→commit lag and sets the last
   * commit time. `nowMs` is the collector clock, as `receivedMs` is.
   */
  committed(messages: readonly { readonly receivedMs: number }[], nowMs: number): void;
  /** One monitor evaluation cycle (the engine's timer) took `seconds`. */
  monitorCycle(seconds: number): void;
  /** Prometheus text exposition of every metric. */
  text(): Promise<string>;
  readonly contentType: string;
}

export function createCollectorMetrics(
  sources: CollectorMetricSources,
  onBatchFailed?: (err: unknown) => void,
): CollectorMetrics {
  const registry = new Registry();
  const received = new Counter({
    name: 'edgeloop_collector_messages_received_total',
    help: 'Messages that decoded and passed validation, by message kind.',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const k of topicKinds) received.inc({ kind: k }, 0);
  const accepted = new Counter({
    name: 'edgeloop_collector_messages_accepted_total',
    help: 'Messages written to the store for the first time.',
    registers: [registry],
  });
  const duplicate = new Counter({
    name: 'edgeloop_collector_messages_duplicate_total',
    help: 'Messages dropped as already seen, same (deviceId, runId, msgSeq): QoS 1 redeliveries and replays.',
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'edgeloop_collector_messages_dead_lettered_total',
    help: 'Messages refused by ingest and dead-lettered, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const r of deadLetterReasons) deadLettered.inc({ reason: r }, 0);
  const notStored = new Counter({
    name: 'edgeloop_collector_messages_not_stored_total',
    help: 'Valid messages the store did not keep: telemetry past retention (expired), raw blocks outside any capture.',
    labelNames: ['reason'],
    registers: [registry],
  });
  notStored.inc({ reason: 'expired' }, 0);
  notStored.inc({ reason: 'not_captured' }, 0);
  const batchSeconds = new Histogram({
    name: 'edgeloop_collector_batch_write_seconds',
    help: 'Time to write one ingest batch to the store (one transaction).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batchMessages = new Histogram({
    name: 'edgeloop_collector_batch_messages',
    help: 'Messages per ingest batch.',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  const batchFailures = new Counter({
    name: 'edgeloop_collector_batch_failures_total',
    help: 'Ingest batches the store failed to write (their messages are lost: see docs/collector.md).',
    registers: [registry],
  });
  new Gauge({
    name: 'edgeloop_collector_queue_depth',
    help: 'Messages waiting for the next ingest batch.',
    registers: [registry],
    collect() {
      this.set(sources.queueDepth());
    },
  });
  new Gauge({
    name: 'edgeloop_collector_acks_held',
    help: 'QoS 1 acknowledgements held until the batch of their message is committed.',
    registers: [registry],
    collect() {
      this.set(sources.heldAcks());
    },
  });
  new Gauge({
    name: 'edgeloop_collector_subscriber_connected',
    help: '1 while the collector is connected to its MQTT broker, else 0.',
    registers: [registry],
    collect() {
      this.set(sources.subscriberConnected() ? 1 : 0);
    },
  });
  const broker = sources.broker;
  if (broker !== undefined) {
    new Gauge({
      name: 'edgeloop_collector_broker_clients',
      help: 'Clients connected to the embedded broker (devices and the collector itself).',
      registers: [registry],
      collect() {
        this.set(broker().clients);
      },
    });
    // The broker keeps its own totals; the counter adds the increase since the previous scrape.
    const seen: Record<string, number> = {};
    const refusals = new Counter({
      name: 'edgeloop_collector_broker_refusals_total',
      help: 'Operations the embedded broker refused (bad credentials; publish or subscribe outside the ACL), by operation.',
      labelNames: ['operation'],
      registers: [registry],
      collect() {
        for (const [op, n] of Object.entries(broker().refusals)) {
          const d = n - (seen[op] ?? 0);
          seen[op] = n;
          this.inc({ operation: op }, d);
        }
      },
    });
    for (const op of ['connect', 'publish', 'subscribe']) refusals.inc({ operation: op }, 0);
  }

  // For the ops rules (docs/ops/): ingest lag, stalls, offline devices, slow monitor cycles.
  const ingestLag = new Histogram({
    name: 'edgeloop_collector_ingest_lag_seconds',
    help: 'Per message, from its receipt by the collector to the commit of its batch.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const lastCommit = new Gauge({
    name: 'edgeloop_collector_last_commit_timestamp_seconds',
    help: 'Unix time of the last committed ingest batch; 0 before the first.',
    registers: [registry],
  });
  lastCommit.set(0);
  const monitorCycle = new Histogram({
    name: 'edgeloop_collector_monitor_cycle_seconds',
    help: 'Duration of one monitor evaluation cycle (integrity and drift over the fleet).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deviceStates = sources.devices;
  if (deviceStates !== undefined) {
    new Gauge({
      name: 'edgeloop_collector_devices',
      help: 'Known devices by state: online, offline (last will or status), stale (online but silent).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const d = deviceStates();
        this.set({ state: 'online' }, d.online);
        this.set({ state: 'offline' }, d.offline);
        this.set({ state: 'stale' }, d.stale);
      },
    });
  }

  const observer: IngestObserver = {
    received(kind) {
      received.inc({ kind });
    },
    deadLettered(reason) {
      deadLettered.inc({ reason });
    },
    duplicates(n) {
      duplicate.inc(n);
    },
    batchWritten(result, messages, seconds) {
      accepted.inc(result.written);
      if (result.expired > 0) notStored.inc({ reason: 'expired' }, result.expired);
      if (result.notCaptured > 0) notStored.inc({ reason: 'not_captured' }, result.notCaptured);
      batchSeconds.observe(seconds);
      batchMessages.observe(messages);
    },
    batchFailed(err) {
      batchFailures.inc();
      onBatchFailed?.(err);
    },
  };
  const alertObserver = registerAlertMetrics(registry, sources.alerts);
  return {
    registry,
    observer,
    alertObserver,
    committed(messages, nowMs) {
      for (const m of messages) ingestLag.observe(Math.max(0, nowMs - m.receivedMs) / 1000);
      lastCommit.set(nowMs / 1000);
    },
    monitorCycle(seconds) {
      monitorCycle.observe(seconds);
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
