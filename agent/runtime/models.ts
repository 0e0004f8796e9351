// Model wiring, in two pieces so they build in dependency order (states before the manager that reports
// to them, commands after it):
//
//  - createModelStates: every ModelManager transition → the retained model/state topic; the active model →
//    metrics and the retained status; a failed or rolled-back update → an edge alert;
//  - routeModelCommands: model commands on the device's command topic → ModelManager (or refused).
//
// Model state goes straight to the link, like status, never through the outbox: it is retained, and a
// stale state replayed from a backlog after a newer one would overwrite the truth on the broker. While
// offline only the newest state is kept, and it is published again on every connect.

import type { ErrorCode } from '../../shared/errors.ts';
import { decodeMessage, encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { ModelCommandPayload, ModelRef } from '../../shared/mqtt/schemas.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { DeviceDescriptor } from '../../shared/sensors.ts';
import type { MqttLink, MqttMessageOut } from '../adapters/mqtt.ts';
import type { AgentConfig } from '../config.ts';
import type { InferenceRunner } from '../inference/runner.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { ModelManager } from '../models/manager.ts';
import { modelStatePayload, type ModelStateReport } from '../models/report.ts';
import type { AlertInput } from '../publish/alerts.ts';
import type { MessageSequence } from '../publish/sequence.ts';
import type { StatusReporter } from '../publish/status.ts';

export interface ModelStates {
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

function deviceTopic(k: 'modelCommand' | 'modelState', deviceId: string): string {
  const t = buildTopic(k, deviceId);
  if (!t.ok) throw new Error(t.message); // the config validated the device id
  return t.value;
}

export function createModelStates(o: {
  readonly config: AgentConfig;
  readonly sequence: MessageSequence;
  readonly clock: Pick<Clock, 'nowMs'>;
  readonly link: MqttLink;
  readonly status: StatusReporter;
  readonly metrics: Pick<AgentMetrics, 'setActiveModel'>;
  readonly log: Logger;
  /** Edge alerts for a model update that FAILED or was ROLLED_BACK (docs/mqtt.md §alert). */
  readonly raiseAlert?: (a: AlertInput) => void;
}): ModelStates {
  const { config, link, status } = o;
  const stateTopic = deviceTopic('modelState', config.deviceId);
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
      tsMs: Math.floor(o.clock.nowMs()),
    });
    const bytes = p.ok ? encodeJsonPayload('modelState', p.value) : p;
    if (bytes.ok)
      return { topic: stateTopic, payload: bytes.value, qos: topicSpecs.modelState.qos, retain: true };
    o.log.warn('model state not published', { code: bytes.code, detail: bytes.message });
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
    if (bad)
      o.raiseAlert?.({
        severity: 'warning',
        source: 'model',
        message: `model update ${r.state === 'FAILED' ? 'failed' : 'rolled back'}${r.target === null ? '' : ` (${r.target.name}@${r.target.version})`}: ${r.reason}`,
        ...(r.code === null ? {} : { code: r.code }),
      });
    o.log[bad ? 'warn' : 'info']('model state', {
      state: r.state,
      ...(r.target === null ? {} : { target: `${r.target.name}@${r.target.version}` }),
      reason: r.reason,
      ...(r.code === null ? {} : { code: r.code }),
    });
    if (!sameModel(active, r.active)) {
      active = r.active;
      o.metrics.setActiveModel(r.active);
      status.update({ model: r.active });
      publishStatus();
    }
  };

  link.onEvent((e) => {
    if (e.kind === 'connected') flush();
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

/** Subscribes to the device's model command topic and hands valid commands to the manager. */
export function routeModelCommands(o: {
  readonly config: AgentConfig;
  readonly link: MqttLink;
  readonly manager: ModelManager;
  readonly runner: InferenceRunner;
  readonly states: ModelStates;
  readonly log: Logger;
}): void {
  const { config, link } = o;
  const commandTopic = deviceTopic('modelCommand', config.deviceId);
  const refuse = (code: ErrorCode, reason: string, cmd?: ModelCommandPayload): void => {
    o.states.report({
      state: 'FAILED',
      deploySeq: cmd?.deploySeq ?? o.manager.status().lastDeploySeq,
      target: cmd?.action === 'install' ? cmd.model : null,
      active: o.runner.active?.model ?? null,
      reason,
      code,
    });
  };

  link.subscribe(commandTopic, topicSpecs.modelCommand.qos);
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
      o.log.error('model command failed unexpectedly', { error: err });
    });
  });
}
