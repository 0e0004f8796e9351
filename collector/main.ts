// The collector's composition root (STYLE.md): builds the store, the broker (embedded, or none with
// --mqtt), ingest, the subscriber, metrics and the one HTTP app, wires them, and owns the shutdown order
// (docs/collector.md §Shutdown). Nothing else in collector/ reaches for globals; the clock and the logger
// come in through CollectorDeps.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { EdgeloopError } from '../shared/errors.ts';
import { fleetFilter, topicKinds, topicSpecs, validateDeviceId } from '../shared/mqtt/topics.ts';
import { loadOnnxSession } from '../shared/platform/onnx.ts';
import { systemClock, type Clock } from '../shared/platform/clock.ts';
import type { Logger } from '../shared/platform/logger.ts';
import { startEmbeddedBroker, type BrokerCredentials, type EmbeddedBroker } from './adapters/broker.ts';
import { createHttpApp, listenHttp, type HttpApp, type HttpServerHandle } from './adapters/http.ts';
import { startSubscriber, type Subscriber } from './adapters/mqtt.ts';
import { createCollectorMetrics } from './api/metrics.ts';
import { collectorRoutes } from './api/routes.ts';
import type { CollectorConfig } from './config.ts';
import { DeadLetterRing } from './ingest/dead-letters.ts';
import { Ingest } from './ingest/ingest.ts';
import { alertRoutes, findAlert } from './api/alerts.ts';
import { telemetryRoutes } from './api/telemetry.ts';
import type { MonitorEngine } from './monitor/engine.ts';
import { registerLoopMetrics } from './loop/metrics.ts';
import { createLoop, type Loop } from './loop/setup.ts';
import { loadCollectorSigningKey, type CollectorSigningKey } from './loop/signing-key.ts';
import { createMonitoring, type Monitoring } from './monitor/setup.ts';
import { createRegistryAuth, type RegistryToken } from './registry/auth.ts';
import { openRegistry, type Registry } from './registry/registry.ts';
import { registryRoutes } from './registry/routes.ts';
import { explanationRoutes } from './api/explanations.ts';
import { registryExplainModels } from './explain/registry-models.ts';
import { createExplainService } from './explain/service.ts';
import { dashboardChannels } from './dashboard/channels.ts';
import type { FleetSources } from './dashboard/fleet.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { openSqliteTelemetryStore } from './storage/sqlite-store.ts';
import type { TelemetryStore } from './storage/types.ts';

export interface CollectorDeps {
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** PEM texts of the registry's trusted keys (read by the caller from config.trustedKeys). */
  readonly trustedKeys?: readonly string[];
  /** Registry tokens (EDGELOOP_REGISTRY_TOKEN in the CLI). */
  readonly registryTokens?: readonly RegistryToken[];
  /**
   * The retraining child's entry (cli/retrain-worker.ts, or dist/cli/retrain-worker.js): collector/ cannot
   * name it, since the worker runs firmware-sim's lab simulator. Without it no retraining job can start.
   */
  readonly retrainWorkerPath?: string;
}

export interface Collector {
  readonly httpUrl: string;
  readonly httpPort: number;
  /** The broker the subscriber uses (the embedded one's URL, or --mqtt). */
  readonly brokerUrl: string;
  /** The embedded broker's port; undefined with --mqtt. */
  readonly brokerPort: number | undefined;
  readonly app: HttpApp;
  readonly store: TelemetryStore;
  readonly ingest: Ingest;
  /** The integrity and drift monitors (docs/monitors.md); evaluate() runs a cycle now. */
  readonly monitors: MonitorEngine;
  /** Update requests, retraining and rollouts; undefined without a registry (no --trusted-key). */
  readonly loop: Loop | undefined;
  /** The collector's signing key for retrained models; undefined without a registry. */
  readonly signingKey: CollectorSigningKey | undefined;
  /** True while the subscriber is connected to the broker (readiness). */
  connected(): boolean;
  /**
   * Drains and stops, idempotent: stop accepting, write the batch in hand, close the MQTT session without
   * cleaning it (the broker keeps our queue), close HTTP, the broker, the registry and the store.
   */
  close(): Promise<void>;
}

const credentialsSchema = z
  .object({
    devices: z.record(z.string(), z.string().min(1)),
    collector: z.object({ username: z.string().min(1), password: z.string().min(1) }).strict(),
  })
  .strict();

/** Parses the embedded broker's credentials file (docs/collector.md §Credentials). */
export function parseBrokerCredentials(text: string, path: string): BrokerCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `credentialsFile ${path}: ${(err as Error).message}`,
    );
  }
  const r = credentialsSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `credentialsFile ${path}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  for (const id of Object.keys(r.data.devices)) {
    const v = validateDeviceId(id);
    if (!v.ok)
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `credentialsFile ${path}: ${v.message}`);
  }
  if (r.data.collector.username in r.data.devices)
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `credentialsFile ${path}: the collector user name ${r.data.collector.username} is also a device id`,
    );
  return { devices: new Map(Object.entries(r.data.devices)), collector: r.data.collector };
}

/** Every kind a device publishes; model commands are the collector's own. */
export const ingestFilters: readonly string[] = topicKinds
  .filter((k) => topicSpecs[k].from === 'device')
  .map((k) => fleetFilter(k));

export async function startCollector(config: CollectorConfig, deps: CollectorDeps): Promise<Collector> {
  const log = deps.logger;
  const nowMs = deps.nowMs ?? Date.now;
  const clock: Clock = deps.nowMs === undefined ? systemClock : { ...systemClock, nowMs };
  // Kernel pseudo-filesystems hold no data, and Node 20's recursive mkdir spins forever under /proc.
  if (/^\/(proc|sys)(\/|$)/.test(resolve(config.dataDir)))
    throw new EdgeloopError(
      'EDGELOOP_ERR_PATH',
      `--data-dir ${config.dataDir}: not a place for data (a kernel filesystem)`,
    );
  mkdirSync(config.dataDir, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.error('shutdown step failed', { error: (err as Error).message });
      }
    }
  };
  try {
    const store = openSqliteTelemetryStore(join(config.dataDir, 'collector.sqlite'));
    let storeOpen = true;
    cleanups.push(() => {
      storeOpen = false;
      store.close();
    });

    let broker: EmbeddedBroker | undefined;
    let brokerUrl = config.mqtt;
    let username = config.mqttUsername === '' ? undefined : config.mqttUsername;
    let password = config.mqttPassword === '' ? undefined : config.mqttPassword;
    if (config.mqtt === '') {
      const credentials: BrokerCredentials =
        config.credentialsFile === ''
          ? {
              devices: new Map(),
              collector: { username: 'edgeloop-collector', password: randomBytes(24).toString('hex') },
            }
          : parseBrokerCredentials(readFileSync(config.credentialsFile, 'utf8'), config.credentialsFile);
      if (credentials.devices.size === 0)
        log.warn('no device credentials (--credentials-file): the embedded broker refuses every device');
      let refusalsLogged = 0;
      broker = await startEmbeddedBroker({
        credentials,
        port: config.brokerPort,
        host: config.brokerHost,
        onRefused(kind, who, detail) {
          // Bounded logging: a hostile client must not fill the disk; the metric keeps counting.
          if (refusalsLogged++ < 100) log.warn(`broker refused ${kind}`, { client: who, detail });
        },
      });
      const started = broker;
      cleanups.push(() => started.close());
      brokerUrl = broker.url;
      username = credentials.collector.username;
      password = credentials.collector.password;
    }

    const b = broker;
    const deadLetters = new DeadLetterRing(config.deadLetterCapacity);
    // Built later than the metrics and probes that read them.
    const late: { subscriber?: Subscriber; ingest?: Ingest; monitoring?: Monitoring } = {};
    const metrics = createCollectorMetrics(
      {
        queueDepth: () => late.ingest?.queueDepth() ?? 0,
        subscriberConnected: () => late.subscriber?.connected() ?? false,
        heldAcks: () => late.subscriber?.heldAcks() ?? 0,
        devices: () => late.monitoring?.integrity.summary() ?? { online: 0, offline: 0, stale: 0 },
        alerts: { live: () => late.monitoring?.alerting.manager.live() ?? [] },
        ...(b === undefined
          ? {}
          : {
              broker: () => ({ clients: b.connectedClients(), refusals: b.refusals() }),
            }),
      },
      (err) => {
        log.error('ingest batch write failed; its messages are lost', { error: (err as Error).message });
      },
    );

    const maxBundleBytes = 256 * 1024 * 1024;
    let registry: Registry | undefined;
    let signingKey: CollectorSigningKey | undefined;
    if ((deps.trustedKeys ?? []).length > 0) {
      // The registry trusts the collector's own key too: what it retrains is certified like any push.
      signingKey = loadCollectorSigningKey(config.dataDir, config.signingKey);
      if (signingKey.created)
        log.info('created the collector signing key; agents must pin its public key', {
          key: signingKey.path.replace(/\.key$/, '.pub'),
          keyId: signingKey.keyId,
        });
      registry = openRegistry({
        dataDir: join(config.dataDir, 'registry'),
        trustedKeys: [...(deps.trustedKeys ?? []), signingKey.publicKeyPem],
        maxBundleBytes,
        loadModel: (bytes) => loadOnnxSession(bytes),
      });
      const r = registry;
      cleanups.push(() => {
        r.close();
      });
    } else log.info('no --trusted-key: the model registry is not mounted');

    const monitoring = createMonitoring({
      config,
      store,
      registry,
      publish: (topic, payload, options) =>
        late.subscriber === undefined
          ? Promise.reject(new Error('the MQTT session is not started'))
          : late.subscriber.publish(topic, payload, options),
      clock,
      logger: log.child({ component: 'monitors' }),
      deliveryObserver: metrics.alertObserver,
      engineObserver: {
        cycle: (seconds) => {
          metrics.monitorCycle(seconds);
        },
        failed: () => undefined,
      },
      // The URL others reach us at (--public-url), else the listen address: a link to 0.0.0.0 helps nobody.
      ...(config.publicUrl !== ''
        ? { collectorUrl: config.publicUrl }
        : config.httpPort === 0
          ? {}
          : { collectorUrl: `http://${config.httpHost}:${String(config.httpPort)}` }),
    });
    late.monitoring = monitoring;
    const monitors = monitoring.engine;

    const httpBase: { url?: string } = {};
    let loop: Loop | undefined;
    if (registry !== undefined && signingKey !== undefined) {
      loop = createLoop({
        config,
        store,
        registry,
        references: monitoring.references,
        channelHealth: monitoring.integrity,
        publish: (topic, payload, options) =>
          late.subscriber === undefined
            ? Promise.reject(new Error('the MQTT session is not started'))
            : late.subscriber.publish(topic, payload, {
                qos: options.qos === 0 ? 0 : 1,
                retain: options.retain,
              }),
        baseUrl: () =>
          config.publicUrl === '' ? (httpBase.url ?? '') : config.publicUrl.replace(/\/+$/, ''),
        signingKey,
        ...(deps.retrainWorkerPath === undefined ? {} : { retrainWorkerPath: deps.retrainWorkerPath }),
        clock,
        logger: log.child({ component: 'loop' }),
      });
      const l = loop;
      registerLoopMetrics(metrics.registry, l);
      monitoring.setObservationHook((observations, now) => l.handle(observations, now));
      // Before the registry's cleanup is reached (reverse order): no rollout publishes into a closed store.
      cleanups.push(() => l.close());
    }
    // Runs after the subscriber's close (cleanups run in reverse): the queued MQTT alerts had their chance.
    cleanups.push(() => monitoring.alerting.close());

    let deadLettersLogged = 0;
    const ingest = new Ingest({
      // PUBACKs of a batch go out once it is written (collector/adapters/mqtt.ts).
      onCommitted: (batch) => late.subscriber?.release(batch),
      onWritten: (messages) => {
        metrics.committed(messages, nowMs());
        monitors.observe(messages);
        loop?.observe(messages);
      },
      store,
      deadLetters,
      maxMessageBytes: config.maxMessageBytes,
      batchMaxMessages: config.batchMaxMessages,
      batchMaxDelayMs: config.batchMaxDelayMs,
      nowMs,
      observer: {
        ...metrics.observer,
        deadLettered(reason) {
          metrics.observer.deadLettered(reason);
          if (deadLettersLogged++ === 0)
            log.warn('dead-lettering messages (GET /api/v1/dead-letters; counted by reason in /metrics)', {
              reason,
            });
        },
      },
    });
    late.ingest = ingest;
    cleanups.push(() => {
      ingest.stop();
    });

    const app = createHttpApp({
      onError: (err) => {
        log.error('http handler failed', { error: err instanceof Error ? (err.stack ?? err.message) : err });
      },
    });
    await app.register(collectorRoutes, {
      store,
      deadLetters,
      metrics,
      sequenceStats: () => ingest.sequenceStats(),
      readiness: [
        { name: 'store', ok: () => storeOpen },
        { name: 'mqtt', ok: () => late.subscriber?.connected() ?? false },
      ],
    });
    await app.register(telemetryRoutes, {
      store,
      nowMs,
      health: (id) => monitoring.integrity.deviceHealth(id),
      drift: (id) => monitoring.drift.snapshot(id),
      fleetDrift: () => monitoring.drift.snapshot(),
    });
    await app.register(alertRoutes, { manager: monitoring.alerting.manager, store, clock });
    const registryAuth = createRegistryAuth(deps.registryTokens ?? [], 'open');
    if (registry !== undefined)
      await app.register(registryRoutes, {
        prefix: '/api/v1',
        registry,
        auth: registryAuth,
        maxBundleBytes,
      });
    if (loop !== undefined) await loop.register(app, registryAuth);
    if (registry !== undefined) {
      // Explanations (docs/explanations.md) run the registry's models in this process, on request.
      const models = registryExplainModels(registry, (bytes) => loadOnnxSession(bytes));
      cleanups.push(() => models.close());
      const alertById = (id: number) => findAlert(monitoring.alerting.manager, store, id);
      const labels = loop?.retraining?.labels;
      await app.register(explanationRoutes, {
        service: createExplainService({
          store,
          models,
          alert: alertById,
          ...(labels === undefined ? {} : { labels }),
        }),
        store,
        alert: alertById,
        clock,
      });
    }
    const fleet: FleetSources = {
      devices: () => store.devices(),
      health: (id) => monitoring.integrity.deviceHealth(id),
      drift: () => monitoring.drift.snapshot(),
      liveAlerts: () => monitoring.alerting.manager.live(),
    };
    await app.register(dashboardRoutes, {
      fleet,
      channels: dashboardChannels({
        fleet,
        store,
        rollouts: loop?.rollouts,
        updates: loop?.updates,
        retraining: loop?.retraining,
      }),
      clock,
      store,
      references: monitoring.references,
      mounted: {
        registry: registry !== undefined,
        loop: loop !== undefined,
        retraining: loop?.retraining !== undefined,
      },
      onError: (err) => {
        log.warn('dashboard feed source failed', { error: (err as Error).message });
      },
    });
    // After the registry's cleanup, so it runs before it: no request is in flight when the registry closes.
    cleanups.push(() => app.close());
    await app.ready();
    const http: HttpServerHandle = await listenHttp(app, { port: config.httpPort, host: config.httpHost });
    httpBase.url = http.url;

    const sub = startSubscriber({
      url: brokerUrl,
      clientId: config.mqttClientId,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      filters: ingestFilters,
      onMessage: (topic, payload) => ingest.offer(topic, payload),
      ackTag: () => ingest.ackTag(),
      onEvent(e) {
        if (e.kind === 'connected') log.info('mqtt connected', { sessionPresent: e.sessionPresent });
        else if (e.kind === 'disconnected') log.warn('mqtt disconnected', { reason: e.reason });
        else log.error('mqtt subscription refused by the broker (check its ACL)', { filter: e.filter });
      },
    });
    late.subscriber = sub;
    if (!sub.holdsAcks())
      log.warn('this MQTT.js cannot hold PUBACKs until commit: a crash may lose the batch in hand');
    // Shutdown order (reverse of cleanups): stop ingest and write the batch in hand, then DISCONNECT the
    // session (kept by the broker), then HTTP, registry, broker, store.
    cleanups.push(() => sub.close(2000));
    cleanups.push(() => {
      ingest.stop();
    });

    // Retention and rollups (docs/storage.md): bounded transactions once a minute, so ingest is never held
    // for long; a call that stops with work left is simply continued next minute.
    const compactTimer = setInterval(() => {
      try {
        store.compact(nowMs(), { maxBatches: 50 });
      } catch (err) {
        log.error('storage compaction failed', { error: (err as Error).message });
      }
    }, config.compactIntervalMs);
    compactTimer.unref();
    cleanups.push(() => {
      clearInterval(compactTimer);
    });
    monitors.start();
    cleanups.push(() => {
      monitors.stop();
    });
    loop?.start();

    let closing: Promise<void> | undefined;
    return {
      httpUrl: http.url,
      httpPort: http.port,
      brokerUrl,
      brokerPort: broker?.port,
      app,
      store,
      ingest,
      monitors,
      loop,
      signingKey,
      connected: () => sub.connected(),
      close() {
        closing ??= unwind();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
