// Builds the collector's loop half (issue #10; docs/update-requests.md, docs/retraining.md,
// docs/rollouts.md) from its config: the rollout controller, the retraining jobs (a child process each)
// and the update requests that join them to the monitors. All three keep their state in one SQLite file,
// <data-dir>/loop.sqlite, each in tables of its own prefix, so a restarted collector resumes a rollout and
// keeps its requests. collector/main.ts wires the result to ingest (model states), the monitors
// (observations) and the HTTP API, and owns the shutdown order.

import { join } from 'node:path';
import { sendError, type HttpApp, type HttpReply, type HttpRequest } from '../adapters/http.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { rolloutRoutes } from '../api/rollouts.ts';
import { trainingRoutes } from '../api/training.ts';
import { updateRequestRoutes } from '../api/update-requests.ts';
import type { CollectorConfig } from '../config.ts';
import type { ChannelHealth, Observation, ReferenceSource } from '../monitor/types.ts';
import type { RegistryAuth } from '../registry/auth.ts';
import type { Registry } from '../registry/registry.ts';
import { createRetraining, type RetrainingService } from '../retrain/retraining.ts';
import { createRolloutController } from '../rollout/controller.ts';
import type { RolloutController } from '../rollout/types.ts';
import type { IncomingMessage, TelemetryStore } from '../storage/types.ts';
import { createUpdateRequests, type UpdateRequests } from '../updates/requests.ts';
import type { CollectorSigningKey } from './signing-key.ts';

export const LOOP_DB_FILE = 'loop.sqlite';

export interface LoopDeps {
  readonly config: CollectorConfig;
  readonly store: TelemetryStore;
  readonly registry: Registry;
  readonly references: ReferenceSource;
  readonly channelHealth: ChannelHealth;
  /** The subscriber's publish (model commands go out on the collector's own MQTT session). */
  publish(topic: string, payload: Uint8Array, options: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  /** The base URL devices download bundles from (--public-url, else the listen address once known). */
  baseUrl(): string;
  readonly signingKey: CollectorSigningKey;
  /** The retraining child's entry (cli/retrain-worker.ts or its dist .js); retraining is off without it. */
  readonly retrainWorkerPath?: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface Loop {
  readonly rollouts: RolloutController;
  readonly updates: UpdateRequests;
  /** Undefined with --retraining false or no worker. */
  readonly retraining: RetrainingService | undefined;
  /** The monitors' observations in, the update requests' own `model_update` observations out. */
  handle(observations: readonly Observation[], nowMs: number): readonly Observation[];
  /** Every committed message (model states, status, telemetry) for the rollout controller. */
  observe(messages: readonly IncomingMessage[]): void;
  /** Mounts the rollout, update-request and training APIs; writes need the registry's write token. */
  register(app: HttpApp, auth: RegistryAuth): Promise<void>;
  /** Starts the rollout timer. */
  start(): void;
  /** Idempotent: stops the timer, kills a running training child, closes the database. */
  close(): Promise<void>;
}

/** The registry's write check as the loop's APIs want it: the actor, or undefined once refused. */
export function writeAuthorizer(auth: RegistryAuth) {
  return async (req: HttpRequest, reply: HttpReply): Promise<string | undefined> => {
    const a = auth.write(req.headers.authorization);
    if (a.ok) return a.actor;
    await sendError(reply, a.status, a.code, a.message);
    return undefined;
  };
}

export function createLoop(d: LoopDeps): Loop {
  const log = d.logger;
  const db: SqliteDatabase = openSqliteDatabase(join(d.config.dataDir, LOOP_DB_FILE));
  const rollouts = createRolloutController({
    db,
    registry: d.registry,
    store: d.store,
    publish: (topic, payload, options) => d.publish(topic, payload, options),
    bundleUrl: (model, version) =>
      `${d.baseUrl()}/api/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/bundle`,
    reference: (m) => d.references.reference(m),
    clock: d.clock,
    logger: log.child({ component: 'rollouts' }),
  });
  let retraining: RetrainingService | undefined;
  if (d.config.retraining && d.retrainWorkerPath !== undefined) {
    retraining = createRetraining({
      db,
      store: d.store,
      registry: d.registry,
      signingKeyPem: d.signingKey.privateKeyPem,
      workerPath: d.retrainWorkerPath,
      workDir: join(d.config.dataDir, 'training'),
      clock: d.clock,
      logger: log,
    });
  } else if (d.config.retraining)
    log.warn('no retraining worker given to this collector: update requests cannot open retraining jobs');
  const updates = createUpdateRequests({
    db,
    store: d.store,
    registry: d.registry,
    references: d.references,
    channelHealth: d.channelHealth,
    rollouts,
    retraining,
    clock: d.clock,
    logger: log.child({ component: 'update-requests' }),
    policy: {
      autoRollout: d.config.autoRollout,
      cooldownS: d.config.driftCooldownS,
      fitWindowS: d.config.updateFitWindowS,
      fitMargin: d.config.updateFitMargin,
      captureS: d.config.updateCaptureS,
      requireDeviceChange: d.config.updateRequireDeviceChange,
      onEstimatedDrop: d.config.updateOnEstimatedDrop,
      rollout: {
        canaryBakeS: d.config.rolloutCanaryBakeS,
        phases: [
          { percent: 50, bakeS: d.config.rolloutBakeS },
          { percent: 100, bakeS: 0 },
        ],
        maxLatencyP95Ratio: d.config.rolloutMaxLatencyRatio,
      },
    },
  });
  let closing: Promise<void> | undefined;
  return {
    rollouts,
    updates,
    retraining,
    handle: (observations, nowMs) => updates.handle(observations, nowMs),
    observe(messages) {
      rollouts.observe(messages);
    },
    async register(app, auth) {
      const authorize = writeAuthorizer(auth);
      await app.register(rolloutRoutes, { controller: rollouts, authorize });
      await app.register(updateRequestRoutes, { requests: updates, authorize });
      if (retraining !== undefined)
        await app.register(trainingRoutes, {
          retraining,
          labels: retraining.labels,
          authorize,
        });
    },
    start() {
      rollouts.startTimer();
    },
    close() {
      closing ??= (async () => {
        rollouts.close();
        updates.close();
        await retraining?.close();
        db.close();
      })();
      return closing;
    },
  };
}
