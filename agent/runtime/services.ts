// The runtime half of the agent (with config.mqtt): built in dependency order, each piece from the ones
// above it, then subscribed to the ingestion half:
//
//   status, link ─► outbox ─► publisher ─► runner ─► telemetry (runner outcomes → sink → outbox)
//   model states (→ link) ─► model manager (reports to states) ─► model commands (link → manager)
//   HTTP (/metrics, /healthz) ─► metrics bound to every source ─► windows and notices subscribed
//
// A failure part-way (unreadable TLS file) undoes what was built, newest first.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeloopError } from '../../shared/errors.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { startAgentHttpServer, type AgentHttpServer } from '../adapters/http.ts';
import { createMqttLink, type MqttLink } from '../adapters/mqtt.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import type { AgentConfig } from '../config.ts';
import { HealthMonitor, watchHealth } from '../health.ts';
import { InferenceRunner } from '../inference/runner.ts';
import { AgentMetrics } from '../metrics.ts';
import { resolveModelManagerConfig, type ModelManagerConfig } from '../models/config.ts';
import { ModelManager } from '../models/manager.ts';
import { openSqliteOutbox } from '../outbox/sqlite-outbox.ts';
import type { Outbox } from '../outbox/types.ts';
import { watchLink } from '../publish/link-log.ts';
import { Publisher } from '../publish/publisher.ts';
import { createMessageSequence, type MessageSequence } from '../publish/sequence.ts';
import { StatusReporter } from '../publish/status.ts';
import type { WindowSink } from '../publish/window-sink.ts';
import type { IngestHalf } from './ingest.ts';
import { createModelStates, routeModelCommands } from './models.ts';
import { closeServices } from './shutdown.ts';
import { wireTelemetry } from './telemetry.ts';

export const AGENT_VERSION = '0.1.0';

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

export interface ServicesDeps {
  readonly log: Logger;
  readonly clock: Clock;
  /** The metrics registry; built here (and closed with the services) when absent. */
  readonly metrics?: AgentMetrics | undefined;
  /** The message sequence (runId, msgSeq). Pass it with `metrics` so both name the same runId. */
  readonly sequence?: MessageSequence | undefined;
  readonly agentVersion?: string | undefined;
  /** Default: onnxruntime-node. */
  readonly loadSession?: OnnxSessionLoader | undefined;
  /** Model manager options beyond the config (download retry timings and the like). */
  readonly modelOptions?: Partial<ModelManagerConfig> | undefined;
  /** First reconnect delay ceiling of the MQTT link, ms. Default 1000. */
  readonly mqttReconnectPeriodMs?: number | undefined;
}

export interface RunningServices {
  readonly services: AgentServices;
  /** /healthz answers unhealthy from now on (shutdown has begun). */
  beginShutdown(): void;
  /** Closes in the documented order (runtime/shutdown.ts). Call once, after the ingestion half closed. */
  close(): Promise<void>;
}

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

/** The broker URL for the log, without a password that a user may have put in it. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

function createLink(config: AgentConfig, status: StatusReporter, reconnectPeriodMs?: number): MqttLink {
  // Throws CONFIG_INVALID for a TLS file that cannot be read, before the outbox file is opened.
  return createMqttLink({
    url: config.mqtt,
    clientId: config.deviceId,
    will: () => status.will(),
    keepaliveSec: config.mqttKeepaliveSec,
    reconnectMaxMs: config.mqttReconnectMaxMs,
    protocolVersion: config.mqttProtocolVersion,
    ...(reconnectPeriodMs === undefined ? {} : { reconnectPeriodMs }),
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
}

/** Builds and starts the runtime half. Throws EdgeloopError for bad config (unreadable file). */
export async function startServices(
  config: AgentConfig,
  ingest: IngestHalf,
  deps: ServicesDeps,
): Promise<RunningServices> {
  const { log, clock } = deps;
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
  const ownMetrics =
    deps.metrics === undefined
      ? new AgentMetrics({ deviceId: config.deviceId, agentVersion, runId: sequence.runId })
      : null;
  const metrics = deps.metrics ?? (ownMetrics as AgentMetrics);
  const undo: (() => Promise<void> | void)[] = [() => ownMetrics?.close()];
  let shuttingDown = false;
  try {
    const status = new StatusReporter({ deviceId: config.deviceId, agentVersion, sequence, clock });
    const link = createLink(config, status, deps.mqttReconnectPeriodMs);
    undo.push(() => link.close({ timeoutMs: 100 }));
    const outbox = openSqliteOutbox(join(config.dataDir, 'outbox.sqlite'), {
      maxOutboxBytes: config.maxOutboxBytes,
      maxAgeMs: config.outboxMaxAgeMs,
      replayRatePerSec: config.replayRatePerSec,
      clock,
    });
    undo.push(() => {
      outbox.close();
    });
    const publisher = new Publisher({
      outbox,
      link,
      status,
      observer: metrics,
      maxInFlight: config.publishMaxInFlight,
      clock,
    });
    const runner = new InferenceRunner();
    const { pipeline, reader } = ingest;
    // /healthz reasons and their limits (agent/health.ts, docs/agent.md "Health endpoint").
    const health = new HealthMonitor(
      {
        serialDownMaxMs: config.healthSerialDownMaxMs,
        brokerDownMaxMs: config.healthBrokerDownMaxMs,
        outboxHighWaterPercent: config.healthOutboxHighWaterPercent,
        inferenceFailedWindows: config.healthInferenceFailedWindows,
      },
      clock,
    );
    watchHealth(health, { link, runner });
    // Drops, returns and an unreachable broker in the log, once each or with backoff (issue #8 §2).
    watchLink({ link, url: redacted(config.mqtt), backlog: () => outbox.stats().depth, log, clock });
    const telemetry = wireTelemetry({
      config,
      sequence,
      clock,
      outbox,
      publisher,
      runner,
      pipeline,
      metrics,
      log,
    });

    const states = createModelStates({
      config,
      sequence,
      clock,
      link,
      status,
      metrics,
      log,
      raiseAlert: telemetry.raiseAlert,
    });
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
        states.report(r);
      },
      sensors: () => pipeline.device?.sensors,
      ...(deps.loadSession === undefined ? {} : { loadSession: deps.loadSession }),
    });
    undo.push(() => manager.close());
    routeModelCommands({ config, link, manager, runner, states, log });
    const started = await manager.start();
    if (!started.ok)
      log.warn('model store unusable; serving no model', { code: started.code, detail: started.message });

    const http = await startAgentHttpServer({
      port: config.metricsPort,
      host: config.metricsHost,
      // The data path never waits for the metrics listener: a taken port is logged and retried (issue #8 §2).
      retryListen: { log },
      metrics: () => metrics.text(),
      health: () => {
        if (shuttingDown) health.stopping();
        const verdict = health.check({ bytes: outbox.stats().bytes, maxBytes: config.maxOutboxBytes });
        return {
          healthy: verdict.healthy,
          reasons: verdict.reasons,
          deviceId: config.deviceId,
          serial: { path: config.serial, connected: reader.stats.connected, connects: reader.stats.connects },
          mqtt: { connected: publisher.stats().connected, connections: publisher.stats().connections },
          outbox: (({ depth, bytes, backlogDepth, droppedTotal, storageErrorsTotal }) => ({
            depth,
            bytes,
            backlogDepth,
            droppedTotal,
            storageErrorsTotal,
          }))(outbox.stats()),
          model: { active: runner.active?.model ?? null, phase: manager.status().phase },
          windows: ingest.windows(),
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

    ingest.subscribe({
      window: (w) => {
        metrics.recordWindow(w);
        runner.submit(w, pipeline.device?.sensors ?? []);
      },
      notice: (n) => {
        telemetry.counters.onNotice(n);
        if (n.kind === 'hello') states.hello(n.device);
      },
      readerState: (st) => {
        health.serial(st.kind === 'connected');
      },
    });
    publisher.start();
    // A taken port was already warned about by the listener; this line must not claim it is serving.
    if (http.value.listening) log.info('metrics at /metrics, health at /healthz', { url: http.value.url });
    else
      log.info('metrics listener not bound yet; /metrics and /healthz follow when it binds', {
        url: http.value.url,
      });
    log.info('publishing', {
      deviceId: config.deviceId,
      broker: redacted(config.mqtt),
      runId: sequence.runId,
    });

    const services: AgentServices = {
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
    return {
      services,
      beginShutdown: () => {
        shuttingDown = true;
      },
      close: () =>
        closeServices(
          { runner, manager, states, outbox, publisher, link, http: http.value, ownMetrics },
          config.drainTimeoutMs,
        ),
    };
  } catch (err) {
    for (const u of undo.reverse()) await u();
    throw err;
  }
}
