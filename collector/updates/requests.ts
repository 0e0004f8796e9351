// Model-update requests (issue #10 §1; contract-10 U; docs/update-requests.md). Every monitor cycle's
// observations come in through handle(): qualifying drift (trigger.ts) raises a request per model, or
// adds the device to the model's request that has not ended; the request decides (decide.ts) between a
// rollout of a newer approved version that fits better and a retraining job, follows the job and the
// rollout to their ends, and is an alert of its own (alert.ts). All state is in the update_ tables.

import { fail, ok, type Result } from '../../shared/errors.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { ChannelHealth, Observation, ReferenceSource } from '../monitor/types.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { CLEAR_EMITS, requestObservation } from './alert.ts';
import { decide } from './decide.ts';
import { jobEnd, rolloutEnd } from './outcomes.ts';
import { joined, newRequest, refreshed } from './membership.ts';
import { isEnded, openUpdateStore } from './store.ts';
import { judgeObservation, MODEL_SUBJECT, type Trigger } from './trigger.ts';
import type {
  RetrainingPort,
  RolloutPlanPort,
  RolloutPort,
  RolloutViewPort,
  UpdatePolicy,
  UpdateRequestState,
  UpdateRequestView,
} from './types.ts';

/** A request waiting for windows tries to decide again after this long, ms. */
export const DECIDE_RETRY_MS = 60_000;
/** The actor of what the module does by itself. */
export const SYSTEM_ACTOR = 'update-requests';

export interface UpdateRequestDeps {
  readonly db: SqliteDatabase;
  readonly store: Pick<TelemetryStore, 'windows' | 'devices'>;
  readonly registry: Pick<Registry, 'listVersions' | 'aliasHistory' | 'listAliases'> | undefined;
  readonly references: ReferenceSource;
  readonly channelHealth: ChannelHealth;
  readonly rollouts: RolloutPort | undefined;
  readonly retraining: RetrainingPort | undefined;
  readonly clock: Pick<Clock, 'nowMs'>;
  readonly logger: Logger;
  readonly policy: UpdatePolicy;
}

export interface UpdateRequests {
  /** Every monitor cycle's observations; returns this cycle's own `model_update` observations. */
  handle(observations: readonly Observation[], nowMs: number): readonly Observation[];
  list(options?: { state?: string; model?: string; limit?: number }): UpdateRequestView[];
  get(id: string): UpdateRequestView | undefined;
  dismiss(id: string, actor: string, reason: string): Result<UpdateRequestView>;
  /** Starts the rollout a request proposed (state `rollout_proposed`). */
  approve(id: string, actor: string): Result<UpdateRequestView>;
  close(): void;
}

type Patch = Partial<Omit<UpdateRequestView, 'id' | 'history' | 'state'>>;

export function createUpdateRequests(deps: UpdateRequestDeps): UpdateRequests {
  const { policy, logger } = deps;
  const db = openUpdateStore(deps.db);
  const lastAttempt = new Map<string, number>();
  let closed = false;

  /** Moves a request to `to` (or only patches it when to === its state), records history, saves. */
  function change(
    r: UpdateRequestView,
    to: UpdateRequestState,
    actor: string,
    note: string,
    patch: Patch = {},
  ): UpdateRequestView {
    const nowMs = deps.clock.nowMs();
    const ends = to !== r.state && isEnded(to);
    const next: UpdateRequestView = {
      ...r,
      ...patch,
      state: to,
      updatedMs: nowMs,
      endedMs: ends ? nowMs : r.endedMs,
      history: [...r.history, { atMs: nowMs, from: r.state, to, actor, note }],
    };
    db.save(next);
    if (ends) {
      // The devices stay quiet for a cooldown after their request ended, whatever its outcome: a failed
      // rollout or a refused candidate is not retried at every monitor cycle.
      for (const d of next.devices)
        db.setCooldown(next.model.name, d.deviceId, nowMs + policy.cooldownS * 1000);
      db.setClears(next.id, CLEAR_EMITS);
    }
    logger.info('update request changed', { id: r.id, from: r.state, to, actor, note });
    return next;
  }

  const block = (r: UpdateRequestView, code: string, reason: string): UpdateRequestView =>
    change(r, 'blocked', SYSTEM_ACTOR, reason, { blocked: { code, reason } });

  function planFor(r: UpdateRequestView, toVersion: string, why: string): RolloutPlanPort {
    const canary = r.devices.map((d) => d.deviceId);
    const fleet = new Set(canary);
    for (const d of deps.store.devices()) if (d.model?.name === r.model.name) fleet.add(d.deviceId);
    return {
      model: r.model.name,
      toVersion,
      devices: [...fleet].sort(),
      canary: { devices: canary },
      ...(deps.policy.rollout === undefined
        ? {}
        : {
            canaryBakeS: deps.policy.rollout.canaryBakeS,
            phases: deps.policy.rollout.phases,
            ...(deps.policy.rollout.maxLatencyP95Ratio === undefined
              ? {}
              : { analysis: { maxLatencyP95Ratio: deps.policy.rollout.maxLatencyP95Ratio } }),
          }),
      reason: `update request ${r.id}: ${why}`,
      updateRequestId: r.id,
    };
  }

  function startRollout(r: UpdateRequestView, actor: string): Result<UpdateRequestView> {
    const plan = r.rolloutPlan;
    if (plan === null) return fail('EDGELOOP_ERR_UPDATE_STATE', `${r.id} has no rollout plan`);
    if (deps.rollouts === undefined)
      return fail('EDGELOOP_ERR_UPDATE_CANNOT_ACT', 'no rollout controller is configured in this collector');
    const started = deps.rollouts.start(plan, actor);
    if (!started.ok) return started;
    return ok(
      change(r, 'rolling_out', actor, `rollout ${started.value.id} of ${plan.toVersion} started`, {
        rolloutId: started.value.id,
        blocked: null,
      }),
    );
  }

  /** Proposes a rollout of `toVersion`, and starts it when policy.autoRollout. */
  function propose(r: UpdateRequestView, toVersion: string, why: string): UpdateRequestView {
    if (deps.rollouts === undefined)
      return block(r, 'EDGELOOP_ERR_UPDATE_CANNOT_ACT', `${why}, but no rollout controller is configured`);
    const proposed = change(r, 'rollout_proposed', SYSTEM_ACTOR, `rollout of ${toVersion} proposed: ${why}`, {
      rolloutPlan: planFor(r, toVersion, why),
    });
    if (!policy.autoRollout) return proposed;
    const started = startRollout(proposed, SYSTEM_ACTOR);
    if (started.ok) return started.value;
    return block(proposed, started.code, `the rollout of ${toVersion} could not start: ${started.message}`);
  }

  function retrain(r: UpdateRequestView, nowMs: number): UpdateRequestView {
    if (deps.retraining === undefined)
      return block(
        r,
        'EDGELOOP_ERR_UPDATE_CANNOT_ACT',
        'retraining is needed but no retraining service is configured',
      );
    // Device time: the newest window judged among the request's devices (the collector's clock without one).
    const ends = r.devices.flatMap((d) => (d.lastWindowToMs === null ? [] : [d.lastWindowToMs]));
    const toMs = ends.length > 0 ? Math.max(...ends) + 1 : nowMs;
    // The data since the drift: from the start of the earliest window judged drifting (what the model no
    // longer fits), at most captureS back. Older windows would describe the device before the change, and
    // dilute the conditions the job estimates from them (a calibration offset, the ambient temperature).
    const starts = r.evidence.flatMap((e) => (e.window === null ? [] : [e.window.fromMs]));
    const earliest = toMs - policy.captureS * 1000;
    const fromMs = starts.length > 0 ? Math.max(earliest, Math.min(...starts)) : earliest;
    const opened = deps.retraining.open(
      {
        requestId: r.id,
        model: r.model,
        devices: r.devices.map((d) => d.deviceId),
        fromMs,
        toMs,
      },
      SYSTEM_ACTOR,
    );
    if (!opened.ok) return block(r, opened.code, `the retraining job could not open: ${opened.message}`);
    return change(r, 'retraining', SYSTEM_ACTOR, `training job ${opened.value.id} opened`, {
      trainingJobId: opened.value.id,
      blocked: null,
    });
  }

  function tryDecide(r: UpdateRequestView, nowMs: number): void {
    const last = lastAttempt.get(r.id);
    if (last !== undefined && nowMs - last < DECIDE_RETRY_MS) return;
    lastAttempt.set(r.id, nowMs);
    let outcome: ReturnType<typeof decide>;
    try {
      outcome = decide(r.model, r.devices, { ...deps, registry: deps.registry }, policy, nowMs);
    } catch (err) {
      // A fit must never take the monitor cycle down; the request says why it cannot decide.
      logger.error('update request decision failed', { id: r.id, error: (err as Error).message });
      block(r, 'EDGELOOP_ERR_UPDATE_CANNOT_ACT', `the decision failed: ${(err as Error).message}`);
      return;
    }
    if (!outcome.decided) return;
    const decided = change(r, r.state, SYSTEM_ACTOR, `decided: ${outcome.decision.action}`, {
      decision: outcome.decision,
    });
    lastAttempt.delete(r.id);
    if (outcome.decision.toVersion !== null)
      propose(decided, outcome.decision.toVersion, outcome.decision.reason);
    else retrain(decided, nowMs);
  }

  function onRollout(v: RolloutViewPort): void {
    const { id } = v;
    const end = rolloutEnd(v);
    if (end === undefined) return;
    const r = db.live().find((x) => x.state === 'rolling_out' && x.rolloutId === id);
    if (r === undefined) return;
    if (end === 'completed') {
      // "If the promotion gate refuses production, the rollout is completed but says so" (contract R).
      const p = v.production;
      const outcome =
        p === null || p === undefined || p.moved
          ? `rollout ${id} completed`
          : `rollout ${id} completed, but production did not move: ${p.message}`;
      change(r, 'resolved', SYSTEM_ACTOR, outcome, { outcome });
    } else {
      const outcome = `rollout ${id} ${end === 'aborted' ? 'was aborted' : 'was rolled back'}; the devices keep the old model`;
      change(r, 'rollout_failed', SYSTEM_ACTOR, outcome, { outcome });
    }
  }

  function onJob(job: Parameters<Parameters<RetrainingPort['onEnded']>[0]>[0]): void {
    const end = jobEnd(job);
    if (end === undefined) return;
    const r = db.live().find((x) => x.state === 'retraining' && x.trainingJobId === job.id);
    if (r === undefined) return;
    if (end.kind === 'refused') {
      const outcome = `the gate refused the candidate of ${job.id}: ${end.reasons.length > 0 ? end.reasons.join('; ') : 'no reasons given'}`;
      change(r, 'candidate_refused', SYSTEM_ACTOR, outcome, { outcome });
    } else if (end.kind === 'failed') {
      const outcome = `training job ${job.id} ended ${end.reasons.join(': ')}`;
      change(r, 'retraining_failed', SYSTEM_ACTOR, outcome, { outcome });
    } else {
      const version = end.version ?? stagedVersion(r);
      if (version === undefined)
        block(
          r,
          'EDGELOOP_ERR_UPDATE_CANNOT_ACT',
          `training job ${job.id} succeeded but names no candidate version`,
        );
      else
        propose(
          r,
          version,
          `training job ${job.id} produced ${r.model.name}@${version}, which passed the gate`,
        );
    }
  }

  /** The version staging points at, when it is not the request's own (the job's candidate goes there). */
  function stagedVersion(r: UpdateRequestView): string | undefined {
    const aliases = deps.registry?.listAliases(r.model.name);
    const v = aliases?.ok === true ? aliases.value.find((a) => a.alias === 'staging')?.version : undefined;
    return v === r.model.version ? undefined : v;
  }

  /** Ends the listeners missed (a restart while a job or rollout ran): asks for the state of each. */
  function catchUp(): void {
    for (const r of db.live()) {
      if (r.state === 'rolling_out' && r.rolloutId !== null && deps.rollouts !== undefined) {
        const v = deps.rollouts.get(r.rolloutId);
        if (v !== undefined) onRollout(v);
      } else if (r.state === 'retraining' && r.trainingJobId !== null && deps.retraining !== undefined) {
        const j = deps.retraining.get(r.trainingJobId);
        if (j !== undefined) onJob(j);
      }
    }
  }

  const guarded =
    <A extends unknown[]>(what: string, fn: (...a: A) => void) =>
    (...a: A): void => {
      if (closed) return;
      try {
        fn(...a);
      } catch (err) {
        logger.error('update request listener failed', { what, error: (err as Error).message });
      }
    };
  deps.rollouts?.onEnded(
    guarded('rollout', (v) => {
      onRollout(v);
    }),
  );
  deps.retraining?.onEnded(guarded('training job', onJob));

  function admit(t: Trigger, nowMs: number): void {
    const live = db.liveFor(t.model.name);
    const member = live?.devices.find((d) => d.deviceId === t.deviceId);
    if (live !== undefined && member !== undefined) {
      const next = refreshed(live, member, t);
      if (next !== undefined) db.save(next);
      return;
    }
    if (db.cooldownUntil(t.model.name, t.deviceId) > nowMs) return;
    db.setCooldown(t.model.name, t.deviceId, nowMs + policy.cooldownS * 1000);
    if (live !== undefined) {
      const note = `device ${t.deviceId} joined (${t.subject})`;
      change(live, live.state, SYSTEM_ACTOR, note, joined(live, t, nowMs));
      return;
    }
    const created = db.insert((id) => newRequest(id, t, nowMs, SYSTEM_ACTOR));
    logger.info('update request raised', {
      id: created.id,
      model: `${t.model.name}@${t.model.version}`,
      deviceId: t.deviceId,
      subject: t.subject,
    });
  }

  /** States before a rollout has started: the request's devices may still change. */
  const BEFORE_ROLLOUT: ReadonlySet<UpdateRequestState> = new Set([
    'open',
    'retraining',
    'rollout_proposed',
    'blocked',
  ]);

  /**
   * A member whose device is now diagnosed as changing condition (an active observation with cause
   * machine_condition_change) is withdrawn: its earlier move was the machine, not
   * the data (bearing wear grows in the features before the prediction mix follows). A request left with
   * no device ends `dismissed`.
   */
  function withdraw(observations: readonly Observation[]): void {
    const changing = new Set<string>();
    for (const o of observations)
      // The cause, not the kind: a moved prediction mix alone is a `condition` observation with cause
      // unknown, and a calibration drift moves the mix too (the model misreads the biased sensor).
      if (o.active && o.deviceId !== null && o.cause === 'machine_condition_change') changing.add(o.deviceId);
    if (changing.size === 0) return;
    for (const r of db.live()) {
      if (!BEFORE_ROLLOUT.has(r.state)) continue;
      const gone = r.devices.filter((d) => changing.has(d.deviceId)).map((d) => d.deviceId);
      if (gone.length === 0) continue;
      const devices = r.devices.filter((d) => !changing.has(d.deviceId));
      const note = `withdrawn ${gone.join(', ')}: now diagnosed as a machine condition change`;
      const patch = {
        devices,
        channels: [...new Set(devices.flatMap((d) => d.channels))],
        evidence: r.evidence.filter((e) => !changing.has(e.deviceId)),
      };
      if (devices.length === 0)
        change(r, 'dismissed', SYSTEM_ACTOR, note, { ...patch, outcome: `dismissed: ${note}` });
      else change(r, r.state, SYSTEM_ACTOR, note, patch);
    }
  }

  function cycle(observations: readonly Observation[], nowMs: number): Observation[] {
    withdraw(observations);
    // Groups whose move the device's own baseline confirms this cycle (see UpdatePolicy.requireDeviceChange).
    const changed = new Set<string>();
    for (const o of observations)
      if (o.active && o.check === 'drift.device_baseline' && o.deviceId !== null && o.subject !== null)
        changed.add(`${o.deviceId}|${o.subject}`);
    for (const o of observations) {
      const v = judgeObservation(o, deps.channelHealth);
      if (!v.raise) continue;
      if (v.trigger.subject === MODEL_SUBJECT && policy.onEstimatedDrop !== true) continue;
      if (
        policy.requireDeviceChange === true &&
        v.trigger.subject !== MODEL_SUBJECT &&
        !changed.has(`${v.trigger.deviceId}|${v.trigger.subject}`)
      )
        continue;
      admit(v.trigger, nowMs);
    }
    catchUp();
    for (const r of db.live()) if (r.state === 'open' && r.decision === null) tryDecide(r, nowMs);
    const out: Observation[] = [];
    const liveModels = new Set<string>();
    for (const r of db.live()) {
      liveModels.add(r.model.name);
      out.push(requestObservation(r, true, nowMs));
    }
    for (const c of db.clears()) {
      const r = db.get(c.id);
      // A newer request of the same model has the same alert identity: it carries the alert on.
      if (r === undefined || liveModels.has(r.model.name)) db.setClears(c.id, 0);
      else {
        out.push(requestObservation(r, false, nowMs));
        db.setClears(c.id, c.left - 1);
      }
    }
    return out;
  }

  return {
    handle(observations, nowMs) {
      if (closed) return [];
      try {
        return cycle(observations, nowMs);
      } catch (err) {
        // The monitor cycle goes on (the alert manager and the other monitors); the log says why the
        // requests did not. A missing observation never resolves an alert, only an inactive one does.
        logger.error('update request cycle failed', { error: (err as Error).message });
        return [];
      }
    },
    list: (options) => db.list(options),
    get: (id) => db.get(id),
    dismiss(id, actor, reason) {
      const r = db.get(id);
      if (r === undefined) return fail('EDGELOOP_ERR_UPDATE_NOT_FOUND', `no update request ${id}`);
      if (isEnded(r.state))
        return fail('EDGELOOP_ERR_UPDATE_STATE', `${id} already ended (${r.state}); it cannot be dismissed`);
      return ok(change(r, 'dismissed', actor, reason, { outcome: `dismissed by ${actor}: ${reason}` }));
    },
    approve(id, actor) {
      const r = db.get(id);
      if (r === undefined) return fail('EDGELOOP_ERR_UPDATE_NOT_FOUND', `no update request ${id}`);
      if (r.state !== 'rollout_proposed')
        return fail(
          'EDGELOOP_ERR_UPDATE_STATE',
          `${id} is ${r.state}; only a proposed rollout can be approved`,
        );
      return startRollout(r, actor);
    },
    close() {
      closed = true;
    },
  };
}
