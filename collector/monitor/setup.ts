// Builds the collector's monitoring half from its config (docs/monitors.md, docs/alerts.md): the central
// integrity monitor, the live drift monitor (which asks integrity for channel health, and the registry
// for the reference profile of the model each device runs), the alert manager with its delivery channels,
// and the engine that feeds and evaluates them. collector/main.ts wires the result to ingest, the metrics
// and the HTTP API, and owns the shutdown order.

import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { createAlerting, type Alerting } from '../alerts/delivery.ts';
import type { DeliveryObserver, PublishFn } from '../alerts/types.ts';
import type { CollectorConfig } from '../config.ts';
import { createDriftMonitor, type DriftMonitor } from '../drift/live/monitor.ts';
import { createIntegrityMonitor } from '../integrity/monitor.ts';
import type { IntegrityMonitor } from '../integrity/types.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { MonitorEngine, type MonitorEngineObserver } from './engine.ts';
import { registryReferences } from './registry-references.ts';
import { createDropMonitor } from '../explain/drop-monitor.ts';
import { registryModelMetrics } from '../explain/registry-models.ts';
import type { Observation, ReferenceSource } from './types.ts';

export interface MonitoringDeps {
  readonly config: CollectorConfig;
  readonly store: TelemetryStore;
  /** The registry mounted in this collector; without one only the device baselines are judged. */
  readonly registry: Registry | undefined;
  /** MQTT delivery of alert changes (the subscriber's publish). */
  readonly publish: PublishFn;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly deliveryObserver: DeliveryObserver;
  readonly engineObserver: MonitorEngineObserver;
  /** This collector's base URL, for links in Alertmanager alerts; absent when not known up front. */
  readonly collectorUrl?: string;
}

/** Sees every cycle's observations before the alert manager, and adds its own (update requests). */
export type ObservationHook = (observations: readonly Observation[], nowMs: number) => readonly Observation[];

export interface Monitoring {
  readonly engine: MonitorEngine;
  readonly integrity: IntegrityMonitor;
  readonly drift: DriftMonitor;
  readonly alerting: Alerting;
  /** Reference profiles of registry models (none without a registry), shared with the loop. */
  readonly references: ReferenceSource;
  /** Installs the hook (built later than the monitors, since it reads them). */
  setObservationHook(hook: ObservationHook): void;
}

const noReferences: ReferenceSource = { reference: () => undefined };

export function createMonitoring(d: MonitoringDeps): Monitoring {
  const { config, logger } = d;
  const integrity = createIntegrityMonitor({
    staleAfterS: config.staleAfterS,
    clockSkewMaxMs: config.clockSkewMaxMs,
    // A recovered subject is reported inactive for longer than the alert manager's hysteresis needs.
    reportGoodCycles: Math.max(6, config.alertClearAfter + 1),
  });
  const references =
    d.registry === undefined
      ? noReferences
      : registryReferences(d.registry, {
          nowMs: () => d.clock.nowMs(),
          onError: (model, message) => {
            logger.warn(
              'cannot read the reference profile of a model; judging its devices by baseline only',
              {
                model: `${model.name}@${model.version}`,
                error: message,
              },
            );
          },
        });
  const drift = createDriftMonitor({
    health: integrity,
    references,
    options: {
      driftWindow: config.driftWindow,
      driftFeatures: config.driftFeatures,
      commissioningS: config.commissioningS,
      driftPersistence: config.driftPersistence,
      driftCooldownS: config.driftCooldownS,
    },
  });
  // The estimated-drop check needs the models' test metrics: from the registry, else it is off.
  const drop =
    d.registry === undefined || config.estimatedDropMargin === 0
      ? undefined
      : createDropMonitor(
          registryModelMetrics(d.registry, () => d.clock.nowMs()),
          {
            margin: config.estimatedDropMargin,
            windows: config.estimatedDropWindows,
          },
        );
  const alerting = createAlerting({
    config,
    store: d.store,
    publish: d.publish,
    clock: d.clock,
    logger,
    observer: d.deliveryObserver,
    ...(d.collectorUrl === undefined ? {} : { collectorUrl: d.collectorUrl }),
  });
  let hook: ObservationHook | undefined;
  let hookFailures = 0;
  const sink = {
    handle(observations: readonly Observation[], nowMs: number): void {
      let extra: readonly Observation[] = [];
      try {
        extra = hook?.(observations, nowMs) ?? [];
      } catch (err) {
        // The monitors' own alerts still go out; the hook's failure is logged (bounded).
        if (hookFailures++ < 10)
          logger.error('the observation hook failed (update requests)', { error: (err as Error).message });
      }
      alerting.manager.handle(extra.length === 0 ? observations : [...observations, ...extra], nowMs);
    },
  };
  const engine = new MonitorEngine({
    // Integrity first: drift reads this batch's channel health.
    monitors: drop === undefined ? [integrity, drift] : [integrity, drift, drop],
    store: d.store,
    sink,
    intervalMs: config.evaluateIntervalMs,
    nowMs: () => d.clock.nowMs(),
    logger,
    observer: d.engineObserver,
  });
  return {
    engine,
    integrity,
    drift,
    alerting,
    references,
    setObservationHook(h) {
      hook = h;
    },
  };
}
