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
// Without `mqtt` only the ingestion half runs (print mode of `edgeloop agent`).
//
// Shutdown order (close()): serial reader (flushes the last windows) → runner drained and closed → model
// manager → last model state → publisher (drains PUBACKs, publishes offline) → link (DISCONNECT, no will)
// → outbox → metrics → HTTP. Each step is bounded, so SIGTERM never hangs past the unit's TimeoutStopSec.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackoffOptions } from '../shared/backoff.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/platform/clock.ts';
import { noopLogger, type Logger } from '../shared/platform/logger.ts';
import type { Window } from '../shared/samples.ts';
import { createMqttLink, type MqttLink } from './adapters/mqtt.ts';
import type { OnnxSessionLoader } from '../shared/platform/onnx.ts';
import { openSerialPort } from './adapters/serialport.ts';
import type { AgentConfig } from './config.ts';
import { InferenceRunner, type RunnerStats } from './inference/runner.ts';
import { IngestPipeline, type IngestNotice, type IngestStats } from './ingest/pipeline.ts';
import { SerialReader, type PortOpener, type ReaderState } from './ingest/serial-reader.ts';
import { AgentMetrics } from './metrics.ts';
import { resolveModelManagerConfig, type ModelManagerConfig } from './models/config.ts';
import { ModelManager } from './models/manager.ts';
import { openSqliteOutbox } from './outbox/sqlite-outbox.ts';
import type { Outbox, OutboxStats } from './outbox/types.ts';
import { Publisher, type PublisherStats } from './publish/publisher.ts';
import { createMessageSequence, type MessageSequence } from './publish/sequence.ts';
import { StatusReporter } from './publish/status.ts';
import { WindowSink, type WindowSinkStats } from './publish/window-sink.ts';
import { startAgentHttpServer, type AgentHttpServer } from './adapters/http.ts';
import { noticeLine, readerLine, wireModels, wireTelemetry, type ModelWiring } from './main-wiring.ts';
import { HealthMonitor, watchHealth } from './health.ts';
import { watchLink } from './publish/link-log.ts';

export { noticeLine } from './main-wiring.ts';

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

/** The publishing and model half, present when config.mqtt is set. */
export interface AgentServices {
  readonly metrics: AgentMetrics;
  readonly runner: InferenceRunner;
  readonly manager: ModelManager;
  readonly outbox: Outbox;
  readonly link: MqttLink;
  readonly publisher: Publisher;
  readonly sink: WindowSink;
  readonly status: StatusReporter;
  readonly sequence: MessageSequence;
  readonly http: AgentHttpServer;
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

export const AGENT_VERSION = '0.1.0';

function readKeys(paths: readonly string[]): string[] {
  return paths.map((p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `trustedKeys: cannot read ${p}: ${(err as Error).message}`,
      );
    }
  });
}

/**
 * Waits (bounded) until the live part of the outbox is delivered, so the windows flushed at shutdown go
 * out now rather than on the next start. The backlog is not waited for: it is replayed at a limited rate
 * and survives in the outbox file anyway.
 */
async function drainLive(s: AgentServices, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  const live = (): number => {
    const o = s.outbox.stats();
    return o.depth - o.backlogDepth;
  };
  // Timers not unref'd: shutdown must not end early because nothing else holds the event loop.
  while (s.publisher.stats().connected && live() > 0 && Date.now() < end)
    await new Promise((r) => setTimeout(r, 10));
}

/** Builds and starts the agent. Throws EdgeloopError for bad config (unreadable key or TLS file). */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<AgentRuntime> {
  const logger = deps.log ?? noopLogger;
  const log = (level: 'info' | 'warn', message: string): void => {
    logger[level](message);
  };
  const clock = deps.clock ?? systemClock;
  const nowMs = (): number => clock.nowMs();
  const runtime = config.mqtt !== '';
  // /healthz reasons and limits: agent/health.ts, docs/agent.md "Health endpoint".
  const health = new HealthMonitor(
    {
      serialDownMaxMs: config.healthSerialDownMaxMs,
      brokerDownMaxMs: config.healthBrokerDownMaxMs,
      outboxHighWaterPercent: config.healthOutboxHighWaterPercent,
      inferenceFailedWindows: config.healthInferenceFailedWindows,
    },
    nowMs,
  );
  let windows = 0;
  let invalidLogged = false;
  let signalDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (signalDone = resolve));
  const mismatched = new Set<string>();
  const droppedLogged = new Set<string>();
  // Late-bound: the runtime half subscribes after the pipeline exists (the pipeline is its data source).
  let windowOut: (w: Window) => void = () => undefined;
  let noticeOut: (n: IngestNotice) => void = () => undefined;

  const pipeline = new IngestPipeline(
    {
      mode: config.mode,
      windowMs: config.windowMs,
      hopMs: config.hopMs,
      ...(config.csvChannels === ''
        ? {}
        : { csvChannels: config.csvChannels.split(',').map((s) => s.trim()) }),
      ...(config.deviceId === '' ? {} : { deviceId: config.deviceId }),
    },
    (w) => {
      windows++;
      deps.onWindow?.(w);
      windowOut(w);
      if (config.maxWindows > 0 && windows >= config.maxWindows) signalDone();
    },
    (n) => {
      deps.onNotice?.(n);
      noticeOut(n);
      if (n.kind === 'invalidFrame') {
        // Log the first invalid frame, then only count (STYLE.md habit 4: log once when dropping starts).
        if (!invalidLogged)
          log(
            'warn',
            `invalid frame: ${n.message} [${n.code}] (further invalid frames are counted, not logged)`,
          );
        invalidLogged = true;
        return;
      }
      if (n.kind === 'hello' && config.deviceId !== '' && n.device.deviceId !== config.deviceId) {
        if (!mismatched.has(n.device.deviceId))
          log(
            'warn',
            `the board names itself ${n.device.deviceId} but --device-id is ${config.deviceId}; publishing as ${config.deviceId}`,
          );
        mismatched.add(n.device.deviceId);
      }
      if (n.kind === 'dropped') {
        // Same rule per code: a board streaming before its HELLO would otherwise log every frame.
        if (!droppedLogged.has(n.code))
          log('warn', `${noticeLine(n) ?? ''} (further drops with this code are counted, not logged)`);
        droppedLogged.add(n.code);
        return;
      }
      const line = noticeLine(n);
      if (line !== null) log('info', line);
    },
  );
  const reader = new SerialReader({
    open: deps.openPort ?? (() => openSerialPort({ path: config.serial, baudRate: config.baud })),
    pipeline,
    ...(deps.serialBackoff === undefined ? {} : { backoff: deps.serialBackoff }),
    onState: (s) => {
      health.serial(s.kind === 'connected');
      deps.onReaderState?.(s);
      log(s.kind === 'connected' ? 'info' : 'warn', readerLine(config.serial, config.baud, s));
    },
  });

  let services: AgentServices | null = null;
  let models: ModelWiring | undefined;
  let ownMetrics = false;
  const cleanups: (() => Promise<void> | void)[] = [];
  let closing: Promise<void> | undefined;
  let shuttingDown = false;

  const closeServices = async (): Promise<void> => {
    const s = services;
    if (s !== null) {
      // Every window the reader flushed gets its telemetry before the runner stops.
      await s.runner.whenIdle();
      await s.runner.close();
      await s.manager.close();
      await models?.settle(config.drainTimeoutMs);
      await drainLive(s, config.drainTimeoutMs);
      await s.publisher.close({ drainTimeoutMs: config.drainTimeoutMs });
      await s.link.close({ timeoutMs: Math.max(100, config.drainTimeoutMs) });
      s.outbox.close();
      if (ownMetrics) s.metrics.close();
      await s.http.close();
      return;
    }
    // Partial start: undo what was built, newest first.
    for (const c of cleanups.reverse()) await c();
  };

  if (runtime) {
    try {
      mkdirSync(config.dataDir, { recursive: true });
    } catch (err) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `dataDir: cannot create ${config.dataDir}: ${(err as Error).message}`,
      );
    }
    const trustedKeys = readKeys(config.trustedKeys);
    const agentVersion = deps.agentVersion ?? AGENT_VERSION;
    const sequence = deps.sequence ?? createMessageSequence();
    ownMetrics = deps.metrics === undefined;
    const metrics =
      deps.metrics ?? new AgentMetrics({ deviceId: config.deviceId, agentVersion, runId: sequence.runId });
    if (ownMetrics)
      cleanups.push(() => {
        metrics.close();
      });
    try {
      const status = new StatusReporter({ deviceId: config.deviceId, agentVersion, sequence, nowMs });
      // Throws CONFIG_INVALID for a TLS file that cannot be read, before the outbox file is opened.
      const link = createMqttLink({
        url: config.mqtt,
        clientId: config.deviceId,
        will: () => status.will(),
        keepaliveSec: config.mqttKeepaliveSec,
        reconnectMaxMs: config.mqttReconnectMaxMs,
        protocolVersion: config.mqttProtocolVersion,
        ...(deps.mqttReconnectPeriodMs === undefined
          ? {}
          : { reconnectPeriodMs: deps.mqttReconnectPeriodMs }),
        ...(config.mqttUsername === '' ? {} : { username: config.mqttUsername }),
        ...(config.mqttPassword === '' ? {} : { password: config.mqttPassword }),
        ...(config.mqttCa === '' && config.mqttCert === ''
          ? {}
          : {
              tls: {
                ...(config.mqttCa === '' ? {} : { caFile: config.mqttCa }),
                ...(config.mqttCert === '' ? {} : { certFile: config.mqttCert, keyFile: config.mqttKey }),
              },
            }),
      });
      cleanups.push(() => link.close({ timeoutMs: 100 }));
      const outbox = openSqliteOutbox(join(config.dataDir, 'outbox.sqlite'), {
        maxOutboxBytes: config.maxOutboxBytes,
        maxAgeMs: config.outboxMaxAgeMs,
        replayRatePerSec: config.replayRatePerSec,
        clock: { nowMs },
      });
      cleanups.push(() => {
        outbox.close();
      });
      const publisher = new Publisher({
        outbox,
        link,
        status,
        observer: metrics,
        maxInFlight: config.publishMaxInFlight,
        nowMs,
      });
      const runner = new InferenceRunner();
      watchHealth(health, { link, runner });
      // Drops, returns and unreachable-broker warnings in the log (issue #8 §2).
      watchLink({ link, url: config.mqtt, backlog: () => outbox.stats().depth, log: logger, nowMs });
      const telemetry = wireTelemetry({
        config,
        sequence,
        nowMs,
        outbox,
        publisher,
        runner,
        pipeline,
        metrics,
        log,
      });
      windowOut = (w) => {
        metrics.recordWindow(w);
        runner.submit(w, pipeline.device?.sensors ?? []);
      };
      const manager = new ModelManager({
        dataDir: config.dataDir,
        config: resolveModelManagerConfig({
          ...deps.modelOptions,
          trustedKeys,
          registryToken: config.registryToken,
          healthWindows: config.modelHealthWindows,
          healthMaxMs: config.modelHealthMaxMs,
        }),
        runner,
        reportState: (r) => {
          models?.report(r);
        },
        sensors: () => pipeline.device?.sensors,
        ...(deps.loadSession === undefined ? {} : { loadSession: deps.loadSession }),
      });
      cleanups.push(() => manager.close());
      models = wireModels({
        config,
        sequence,
        nowMs,
        link,
        status,
        metrics,
        manager,
        runner,
        log,
        raiseAlert: telemetry.raiseAlert,
      });
      noticeOut = (n) => {
        telemetry.counters.onNotice(n);
        if (n.kind === 'hello') models?.hello(n.device);
      };
      const started = await manager.start();
      if (!started.ok) log('warn', `model store: ${started.message} [${started.code}]; serving no model`);
      const http = await startAgentHttpServer({
        port: config.metricsPort,
        host: config.metricsHost,
        // The data path never waits for the metrics listener: a taken port is logged and retried.
        retryListen: { log: logger },
        metrics: () => metrics.text(),
        health: () => {
          if (shuttingDown) health.stopping();
          const verdict = health.check({ bytes: outbox.stats().bytes, maxBytes: config.maxOutboxBytes });
          return {
            healthy: verdict.healthy,
            reasons: verdict.reasons,
            deviceId: config.deviceId,
            serial: {
              path: config.serial,
              connected: reader.stats.connected,
              connects: reader.stats.connects,
            },
            mqtt: { connected: publisher.stats().connected, connections: publisher.stats().connections },
            outbox: (({ depth, bytes, backlogDepth, droppedTotal, storageErrorsTotal }) => ({
              depth,
              bytes,
              backlogDepth,
              droppedTotal,
              storageErrorsTotal,
            }))(outbox.stats()),
            model: { active: runner.active?.model ?? null, phase: manager.status().phase },
            windows,
          };
        },
      });
      if (!http.ok) throw new EdgeloopError(http.code, http.message);
      metrics.bind({
        ingest: () => pipeline.stats(),
        gaps: () => telemetry.counters.gaps,
        reader: () => reader.stats,
        outbox: () => outbox.stats(),
        publisher: () => publisher.stats(),
        sink: () => telemetry.sink.stats(),
        runner: () => runner.stats(),
      });
      services = {
        metrics,
        runner,
        manager,
        outbox,
        link,
        publisher,
        sink: telemetry.sink,
        status,
        sequence,
        http: http.value,
      };
      publisher.start();
      log(
        'info',
        `metrics at ${http.value.url}/metrics, health at ${http.value.url}/healthz${http.value.listening ? '' : ' (once the port is free)'}`,
      );
      log('info', `publishing as ${config.deviceId} to ${config.mqtt} (runId ${sequence.runId})`);
    } catch (err) {
      windowOut = () => undefined;
      await closeServices();
      throw err;
    }
  }
  reader.start();

  return {
    deviceId: config.deviceId,
    pipeline,
    reader,
    services,
    metricsUrl: services === null ? null : services.http.url,
    done,
    stats: () => {
      const s = services;
      return {
        windows,
        ingest: pipeline.stats(),
        ...(s === null
          ? {}
          : {
              runner: s.runner.stats(),
              sink: s.sink.stats(),
              outbox: s.outbox.stats(),
              publisher: s.publisher.stats(),
            }),
      };
    },
    close: () => {
      closing ??= (async () => {
        shuttingDown = true;
        await reader.close();
        await closeServices();
      })();
      return closing;
    },
  };
}
