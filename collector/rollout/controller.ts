// The rollout controller (issue #10 §3; contract-10 "R"; docs/rollouts.md): operator commands (start, pause,
// resume, abort), the device messages it follows (observe), the timer that advances rollouts (tick) and
// the inventory of which device runs which model. The phase steps are flow.ts; the tables are store.ts.

import { fail, ok, type Result } from '../../shared/errors.ts';
import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Clock, ClockTimer } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { createCommandBuilder } from './commands.ts';
import { RolloutFlow } from './flow.ts';
import { reportedLastSeq, resolvePlan, selectPhases } from './plan.ts';
import { RolloutStore, type RolloutRow } from './store.ts';
import {
  endedStates,
  type DeviceRolloutState,
  type InventoryRow,
  type RolloutController,
  type RolloutView,
} from './types.ts';

export interface RolloutControllerDeps {
  readonly db: SqliteDatabase;
  readonly registry: Registry;
  readonly store: TelemetryStore;
  publish(topic: string, payload: Uint8Array, options: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  bundleUrl(model: string, version: string): string;
  reference(model: ModelRef): ReferenceProfile | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Period of the timer that advances rollouts, ms. Default 1000. */
  readonly tickMs?: number;
}

export const DEFAULT_TICK_MS = 1000;

export function createRolloutController(deps: RolloutControllerDeps): RolloutController {
  const store = new RolloutStore(deps.db);
  const listeners: ((r: RolloutView) => void)[] = [];
  let timer: ClockTimer | undefined;
  let closed = false;
  const pendingEnded: string[] = [];

  const flow = new RolloutFlow({
    store,
    registry: deps.registry,
    telemetry: deps.store,
    publish: (t, p, o) => deps.publish(t, p, o),
    bundleUrl: (m, v) => deps.bundleUrl(m, v),
    reference: (m) => deps.reference(m),
    commands: createCommandBuilder(),
    clock: deps.clock,
    logger: deps.logger,
    ended: (id) => pendingEnded.push(id),
  });

  function view(row: RolloutRow): RolloutView {
    const devices = store.devices(row.id);
    const counts: Partial<Record<DeviceRolloutState, number>> = {};
    for (const d of devices) counts[d.state] = (counts[d.state] ?? 0) + 1;
    return {
      id: row.id,
      model: row.model,
      fromVersion: row.fromVersion,
      toVersion: row.toVersion,
      state: row.state,
      actor: row.actor,
      reason: row.reason,
      createdMs: row.createdMs,
      updatedMs: row.updatedMs,
      endedMs: row.endedMs,
      currentPhase: row.currentPhase,
      pauseReason: row.pauseReason,
      production: row.production,
      plan: row.plan,
      phases: store.phases(row.id),
      devices,
      analyses: store.analyses(row.id),
      events: store.events(row.id),
      counts,
    };
  }

  /** Tells listeners about rollouts that ended in this call (after the rows are written). */
  function flushEnded(): void {
    while (pendingEnded.length > 0) {
      const id = pendingEnded.shift() as string;
      const row = store.rollout(id);
      if (row === undefined) continue;
      const v = view(row);
      for (const l of listeners) {
        try {
          l(v);
        } catch (err) {
          deps.logger.error(`rollout ${id}: onEnded listener threw: ${String(err)}`);
        }
      }
    }
  }

  const notFound = (id: string): Result<never> =>
    fail('EDGELOOP_ERR_ROLLOUT_NOT_FOUND', `no rollout ${id}: list them with GET /api/v1/rollouts`);
  const badState = (row: RolloutRow, what: string): Result<never> =>
    fail('EDGELOOP_ERR_ROLLOUT_STATE', `rollout ${row.id} is ${row.state}: cannot ${what}`);

  function guarded<T>(fn: () => Result<T>): Result<T> {
    if (closed) return fail('EDGELOOP_ERR_ROLLOUT_STATE', 'the rollout controller is closed');
    const r = fn();
    flushEnded();
    return r;
  }

  /** What a step of advance() can change; while it changes, the rollout is advanced again at once. */
  const stepOf = (id: string): string => {
    const r = store.rollout(id);
    if (r === undefined) return '';
    const phase = store.phases(id)[r.currentPhase];
    return `${r.state}|${String(r.currentPhase)}|${phase?.state ?? ''}`;
  };

  function tick(nowMs: number): void {
    if (closed) return;
    for (const first of store.active()) {
      try {
        // A settled phase bakes, an empty one passes, a passed one starts the next: each is a step, and
        // waiting a timer period between steps would add a tick per phase to every rollout.
        let row: RolloutRow | undefined = first;
        for (let i = 0; i < 16 && row !== undefined; i++) {
          const before = stepOf(row.id);
          flow.advance(row, nowMs);
          if (stepOf(row.id) === before) break;
          row = store.rollout(row.id);
        }
      } catch (err) {
        deps.logger.error(
          `rollout ${first.id}: tick failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    flushEnded();
  }

  function schedule(): void {
    if (closed) return;
    timer = deps.clock.setTimeout(() => {
      tick(deps.clock.nowMs());
      schedule();
    }, deps.tickMs ?? DEFAULT_TICK_MS);
  }

  return {
    start(input, actor) {
      return guarded(() => {
        const plan = resolvePlan(input, { registry: deps.registry, knownDevices: deps.store.devices() });
        if (!plan.ok) return plan;
        const p = plan.value;
        const busy = store
          .active()
          .find((r) => r.model === p.model || r.plan.devices.some((d) => p.devices.includes(d)));
        if (busy !== undefined)
          return fail(
            'EDGELOOP_ERR_ROLLOUT_CONFLICT',
            `rollout ${busy.id} (${busy.model} ${busy.state}) still covers this model or some of these devices: abort it or wait for it to end`,
          );
        const aliases = deps.registry.listAliases(p.model);
        const aliasOf = (a: string): string | null =>
          aliases.ok ? (aliases.value.find((x) => x.alias === a)?.version ?? null) : null;
        const canaryPrev = aliasOf('canary');
        const { id, n } = store.nextId();
        const moved = deps.registry.moveAlias({
          model: p.model,
          alias: 'canary',
          version: p.toVersion,
          expectedVersion: canaryPrev,
          reason: `rollout ${id} started${p.reason === '' ? '' : `: ${p.reason}`}`,
          actor,
        });
        if (!moved.ok) return fail('EDGELOOP_ERR_ROLLOUT_INVALID_PLAN', `canary alias: ${moved.message}`);
        const now = deps.clock.nowMs();
        const selection = selectPhases(p);
        store.tx(() => {
          store.insertRollout(
            n,
            {
              id,
              model: p.model,
              fromVersion: p.fromVersion,
              toVersion: p.toVersion,
              state: 'running',
              actor,
              reason: p.reason,
              plan: p,
              currentPhase: 0,
              canaryPrev,
              productionPrev: aliasOf('production'),
              createdMs: now,
              updatedMs: now,
            },
            selection.map((devices, i) => ({
              name: i === 0 ? 'canary' : `phase ${i}`,
              percent: i === 0 ? (p.canary.percent ?? null) : (p.phases[i - 1]?.percent ?? null),
              bakeS: i === 0 ? p.canaryBakeS : (p.phases[i - 1]?.bakeS ?? 0),
              devices,
            })),
          );
          flow.event(
            id,
            'started',
            `${p.model} ${p.fromVersion ?? 'none'} -> ${p.toVersion} on ${p.devices.length} device(s), seed ${p.seed}; canary ${canaryPrev ?? 'none'} -> ${p.toVersion}`,
            actor,
          );
        });
        const row = store.rollout(id) as RolloutRow;
        flow.startPhase(row, 0);
        return ok(view(store.rollout(id) as RolloutRow));
      });
    },
    pause(id, actor, reason) {
      return guarded(() => {
        const row = store.rollout(id);
        if (row === undefined) return notFound(id);
        if (row.state !== 'running') return badState(row, 'pause (only a running rollout pauses)');
        flow.pause(row, reason === '' ? `paused by ${actor}` : reason, actor);
        return ok(view(store.rollout(id) as RolloutRow));
      });
    },
    resume(id, actor) {
      return guarded(() => {
        const row = store.rollout(id);
        if (row === undefined) return notFound(id);
        if (row.state !== 'paused') return badState(row, 'resume (only a paused rollout resumes)');
        store.updateRollout(id, { state: 'running', pauseReason: null }, deps.clock.nowMs());
        flow.event(id, 'resumed', `resumed by ${actor}`, actor);
        flow.proceed(store.rollout(id) as RolloutRow);
        tick(deps.clock.nowMs());
        return ok(view(store.rollout(id) as RolloutRow));
      });
    },
    abort(id, actor, reason) {
      return guarded(() => {
        const row = store.rollout(id);
        if (row === undefined) return notFound(id);
        if (row.state !== 'running' && row.state !== 'paused') return badState(row, 'abort');
        flow.beginRollback(row, 'aborted', reason === '' ? `aborted by ${actor}` : reason, actor);
        return ok(view(store.rollout(id) as RolloutRow));
      });
    },
    get(id) {
      const row = store.rollout(id);
      return row === undefined ? undefined : view(row);
    },
    list(options = {}) {
      return store.rollouts(options).map(view);
    },
    inventory() {
      const rows = new Map<string, InventoryRow>(store.inventory().map((r) => [r.deviceId, r]));
      const out: InventoryRow[] = [];
      for (const d of deps.store.devices()) {
        const inv = rows.get(d.deviceId);
        rows.delete(d.deviceId);
        const online = d.lastStatus === null ? null : d.lastStatus.state === 'online';
        out.push({
          deviceId: d.deviceId,
          model: inv?.model ?? d.model,
          state: inv?.state ?? null,
          target: inv?.target ?? null,
          deploySeq: inv?.deploySeq ?? null,
          code: inv?.code ?? null,
          reason: inv?.reason ?? null,
          stateMs: inv?.stateMs ?? null,
          online: inv?.online ?? online,
          rolloutId: inv?.rolloutId ?? null,
        });
      }
      out.push(...rows.values());
      return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    },
    observe(messages) {
      if (closed) return;
      let touched = false;
      for (const { message: m, receivedMs } of messages) {
        try {
          if (m.kind === 'modelState') {
            const s = m.payload;
            store.putModelState(m.deviceId, {
              active: s.active,
              state: s.state,
              target: s.target,
              deploySeq: s.deploySeq,
              code: s.code,
              reason: s.reason,
              atMs: receivedMs,
            });
            if (s.deploySeq === null) continue;
            touched = true;
            for (const id of store.rolloutsOfDevice(m.deviceId)) {
              const row = store.rollout(id);
              const dev = row && store.device(id, m.deviceId);
              // Only the answer to our last command counts: a retained state of an older one is history.
              if (row === undefined || dev === undefined || dev.deploySeq !== s.deploySeq) continue;
              flow.onModelState(row, m.deviceId, s, reportedLastSeq(s.reason));
            }
          } else if (m.kind === 'status') {
            const online = m.payload.state === 'online';
            store.putOnline(m.deviceId, online);
            // A device that started again (a new run) lost the command it was working on: commands are not
            // retained, and a restarted device may have come back before its timeout.
            if (online) retryOnline(m.deviceId, m.payload.reason === 'startup');
          }
        } catch (err) {
          deps.logger.error(
            `rollout observe ${m.kind} ${m.deviceId}: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      // A device's answer may settle its phase: move on now rather than at the next timer tick.
      if (touched) tick(deps.clock.nowMs());
      else flushEnded();
    },
    tick,
    startTimer() {
      if (timer === undefined && !closed) schedule();
    },
    onEnded(listener) {
      listeners.push(listener);
    },
    stats() {
      const counts: Record<string, number> = {};
      for (const r of store.rollouts({ limit: 1_000_000 })) counts[r.state] = (counts[r.state] ?? 0) + 1;
      return flow.statsView(counts);
    },
    close() {
      if (closed) return;
      closed = true;
      timer?.cancel();
      timer = undefined;
    },
  };

  /** A device online again: re-send what timed out (issue #10 §3 "retried when they return"). */
  function retryOnline(deviceId: string, restarted: boolean): void {
    const inv = store.inventoryRow(deviceId);
    for (const id of store.rolloutsOfDevice(deviceId)) {
      const row = store.rollout(id);
      const dev = store.device(id, deviceId);
      if (row === undefined || dev === undefined) continue;
      if (restarted && dev.state === 'installing' && (row.state === 'running' || row.state === 'paused')) {
        flow.event(id, 'retry', `${deviceId} restarted while installing: install re-sent`);
        flow.sendInstall(row, deviceId, dev.attempts + 1);
        continue;
      }
      if (dev.state !== 'timed_out') continue;
      const onNew = inv?.model?.name === row.model && inv.model.version === row.toVersion;
      if (row.state === 'running' || row.state === 'paused' || row.state === 'completed') {
        flow.event(id, 'retry', `${deviceId} is online again: install re-sent`);
        flow.sendInstall(row, deviceId, dev.attempts + 1);
      } else if (onNew && (row.state === 'rolling_back' || endedStates.has(row.state))) {
        // Only a device known to run the new version gets a rollback: on any other, the agent would go
        // back to its last known good model, older than the one it serves.
        flow.event(id, 'retry', `${deviceId} is online again on ${row.toVersion}: rollback re-sent`);
        flow.sendRollback(row, deviceId, dev.attempts + 1);
      }
    }
  }
}
