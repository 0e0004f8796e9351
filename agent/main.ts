// The agent's composition root (STYLE.md "A composition root per process"): builds the adapters and wires
// the components; nothing else in agent/ reaches for globals. The clock, the logger and the metrics
// registry come in through `deps`. docs/agent.md "Running the agent" describes what this wires.
//
//   serial ─► SerialReader ─► IngestPipeline ─► window ─► InferenceRunner ─► outcome ─► WindowSink ─► outbox
//                                   │ notices (HELLO, gaps)        ▲ swap          │ metrics      Publisher ◄┘
//                                   ▼                              │               ▼                  │
//                             StatusReporter ◄── active model ── ModelManager ◄── model command ◄── MqttLink
//                                                                    └── state ─► retained model/state ─┘
//
// Built in dependency order: the ingestion half (runtime/ingest.ts, the data source), then with `mqtt`
// the runtime half (runtime/services.ts), which subscribes to it; only then does the reader start.
// Without `mqtt` only the ingestion half runs (print mode of `edgeloop agent`).
//
// Shutdown order (close()): serial reader (flushes the last windows) → the runtime half in the order of
// runtime/shutdown.ts. Each step is bounded, so SIGTERM never hangs past the unit's TimeoutStopSec.

import type { BackoffOptions } from '../shared/backoff.ts';
import { systemClock, type Clock } from '../shared/platform/clock.ts';
import { noopLogger, type Logger } from '../shared/platform/logger.ts';
import type { Window } from '../shared/samples.ts';
import type { OnnxSessionLoader } from '../shared/platform/onnx.ts';
import type { AgentConfig } from './config.ts';
import type { RunnerStats } from './inference/runner.ts';
import type { IngestNotice, IngestPipeline, IngestStats } from './ingest/pipeline.ts';
import type { PortOpener, ReaderState, SerialReader } from './ingest/serial-reader.ts';
import type { AgentMetrics } from './metrics.ts';
import type { ModelManagerConfig } from './models/config.ts';
import type { OutboxStats } from './outbox/types.ts';
import type { PublisherStats } from './publish/publisher.ts';
import type { MessageSequence } from './publish/sequence.ts';
import type { WindowSinkStats } from './publish/window-sink.ts';
import { createIngest } from './runtime/ingest.ts';
import { startServices, type AgentServices } from './runtime/services.ts';

export { AGENT_VERSION, type AgentServices } from './runtime/services.ts';

export interface AgentDeps {
  /** Where status events go. Default: none. */
  readonly log?: Logger;
  /** Wall clock (outbox ages, payload timestamps). Default the system clock. */
  readonly clock?: Clock;
  /** The metrics registry; built here (and closed by close()) when absent. */
  readonly metrics?: AgentMetrics;
  /** The message sequence (runId, msgSeq). Pass it with `metrics` so both name the same runId. */
  readonly sequence?: MessageSequence;
  /** Opens the serial port. Default: the serialport adapter on config.serial at config.baud. */
  readonly openPort?: PortOpener;
  readonly serialBackoff?: BackoffOptions;
  /** Sees every window as it closes (print mode, tests). */
  readonly onWindow?: (w: Window) => void;
  /** Sees every ingest notice. */
  readonly onNotice?: (n: IngestNotice) => void;
  /** Sees every serial port state change (opened, lost, open failed and retrying). */
  readonly onReaderState?: (s: ReaderState) => void;
  readonly agentVersion?: string;
  /** Default: onnxruntime-node. */
  readonly loadSession?: OnnxSessionLoader;
  /** Model manager options beyond the config (download retry timings and the like). */
  readonly modelOptions?: Partial<ModelManagerConfig>;
  /** First reconnect delay ceiling of the MQTT link, ms. Default 1000. */
  readonly mqttReconnectPeriodMs?: number;
}

export interface AgentRuntimeStats {
  readonly windows: number;
  readonly ingest: IngestStats;
  readonly runner?: RunnerStats;
  readonly sink?: WindowSinkStats;
  readonly outbox?: OutboxStats;
  readonly publisher?: PublisherStats;
}

export interface AgentRuntime {
  /** The configured device id, or (print mode without one) '' until a board names itself. */
  readonly deviceId: string;
  readonly pipeline: IngestPipeline;
  readonly reader: SerialReader;
  /** null in print mode. */
  readonly services: AgentServices | null;
  /** http://host:port of /metrics and /healthz, or null in print mode. */
  readonly metricsUrl: string | null;
  /** Resolves once config.maxWindows windows closed (never when maxWindows is 0). */
  readonly done: Promise<void>;
  stats(): AgentRuntimeStats;
  /** Flushes and closes everything in the documented order. Idempotent. */
  close(): Promise<void>;
}

/** Builds and starts the agent. Throws EdgeloopError for bad config (an unreadable key or TLS file). */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<AgentRuntime> {
  const log = deps.log ?? noopLogger;
  const clock = deps.clock ?? systemClock;

  const ingest = createIngest(config, { log, openPort: deps.openPort, serialBackoff: deps.serialBackoff });
  ingest.subscribe({
    ...(deps.onWindow === undefined ? {} : { window: deps.onWindow }),
    ...(deps.onNotice === undefined ? {} : { notice: deps.onNotice }),
    ...(deps.onReaderState === undefined ? {} : { readerState: deps.onReaderState }),
  });
  const running =
    config.mqtt === ''
      ? null
      : await startServices(config, ingest, {
          log,
          clock,
          metrics: deps.metrics,
          sequence: deps.sequence,
          agentVersion: deps.agentVersion,
          loadSession: deps.loadSession,
          modelOptions: deps.modelOptions,
          mqttReconnectPeriodMs: deps.mqttReconnectPeriodMs,
        });
  ingest.start();

  const services = running?.services ?? null;
  let closing: Promise<void> | undefined;
  return {
    deviceId: config.deviceId,
    pipeline: ingest.pipeline,
    reader: ingest.reader,
    services,
    metricsUrl: services === null ? null : services.http.url,
    done: ingest.done,
    stats: () => ({
      windows: ingest.windows(),
      ingest: ingest.pipeline.stats(),
      ...(services === null
        ? {}
        : {
            runner: services.runner.stats(),
            sink: services.sink.stats(),
            outbox: services.outbox.stats(),
            publisher: services.publisher.stats(),
          }),
    }),
    close: () => {
      closing ??= (async () => {
        running?.beginShutdown();
        await ingest.close();
        await running?.close();
      })();
      return closing;
    },
  };
}
