// How a rollout advances (issue #10 §3; docs/rollouts.md §Lifecycle): the steps the controller's tick, its
// observe() and its operator commands share. Every step reads and writes the rollout's stored rows, so a
// new controller on the same database continues where the last one stopped.
//
//   phase: deploying (install commands out, following model states; a device with no terminal state after
//          deviceTimeoutS is timed_out and never blocks) → baking (bakeS) → analysis:
//          pass → next phase (or pause when autoProceed is off; the last phase completes the rollout)
//          fail → rolling_back: canary alias back, a rollback command to every device that committed
//          inconclusive → paused for an operator (resume proceeds as after a pass)

import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { analyseStoredPhase } from './phase-inputs.ts';
import type { CommandBuilder } from './commands.ts';
import { nextDeploySeq } from './plan.ts';
import type { RolloutRow, RolloutStore } from './store.ts';
import type { DeviceRolloutState, RolloutStats, RolloutView, Verdict } from './types.ts';

export interface FlowDeps {
  readonly store: RolloutStore;
  readonly registry: Pick<Registry, 'getVersion' | 'moveAlias'>;
  readonly telemetry: Pick<TelemetryStore, 'windows'>;
  readonly publish: (
    topic: string,
    payload: Uint8Array,
    options: { qos: 0 | 1 | 2; retain: boolean },
  ) => Promise<void>;
  readonly bundleUrl: (model: string, version: string) => string;
  readonly reference: (model: ModelRef) => ReferenceProfile | undefined;
  readonly commands: CommandBuilder;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly ended: (id: string) => void;
}

export interface MutableStats {
  commandsSent: { install: number; rollback: number };
  publishFailures: number;
  analyses: Record<Verdict, number>;
  deviceTimeouts: number;
}

export const SETTLED: ReadonlySet<DeviceRolloutState> = new Set([
  'committed',
  'rolled_back',
  'failed',
  'timed_out',
]);
/** Most install attempts per device answered with DOWNGRADE (each one above what the device reported). */
export const MAX_DOWNGRADE_RETRIES = 3;
const SYSTEM = 'controller';

export class RolloutFlow {
  readonly stats: MutableStats = {
    commandsSent: { install: 0, rollback: 0 },
    publishFailures: 0,
    analyses: { pass: 0, fail: 0, inconclusive: 0 },
    deviceTimeouts: 0,
  };

  constructor(private readonly d: FlowDeps) {}

  event(id: string, kind: string, message: string, actor = SYSTEM): void {
    this.d.store.addEvent(id, { atMs: this.d.clock.nowMs(), actor, kind, message });
    this.d.logger.info(`rollout ${id} ${kind}: ${message}`);
  }

  private send(id: string, deviceId: string, topic: string, payload: Uint8Array, action: string): void {
    this.d.publish(topic, payload, { qos: 1, retain: false }).then(
      () => undefined,
      (err: unknown) => {
        this.stats.publishFailures++;
        const why = err instanceof Error ? err.message : String(err);
        this.d.logger.warn(`rollout ${id}: ${action} command to ${deviceId} not published: ${why}`);
        try {
          this.event(id, 'publish_failed', `${action} to ${deviceId}: ${why} (retried when it comes online)`);
        } catch {
          // the database closed under us (shutdown): the timeout or the next start handles the device
        }
      },
    );
  }

  private seqFor(deviceId: string, aboveReported: number | null): number {
    const inv = this.d.store.inventoryRow(deviceId);
    const reported = Math.max(inv?.deploySeq ?? 0, aboveReported ?? 0);
    const seq = nextDeploySeq(
      this.d.store.lastSeq(deviceId),
      reported === 0 ? null : reported,
      this.d.clock.nowMs(),
    );
    this.d.store.setLastSeq(deviceId, seq);
    return seq;
  }

  /** Publishes an install of the rollout's version to one device and records it. */
  sendInstall(r: RolloutRow, deviceId: string, attempts: number, aboveReported: number | null = null): void {
    const now = this.d.clock.nowMs();
    const v = this.d.registry.getVersion(r.model, r.toVersion);
    const seq = this.seqFor(deviceId, aboveReported);
    const base = { deploySeq: seq, sentMs: now, attempts, modelState: null, code: null, settledMs: null };
    if (!v.ok) {
      // The registry cannot say (unreachable, removed): the device times out and is retried when online.
      this.d.store.updateDevice(r.id, deviceId, { ...base, state: 'installing', reason: v.message }, now);
      this.event(r.id, 'registry_error', `${deviceId}: ${v.message}`);
      return;
    }
    const cmd = this.d.commands.install(
      deviceId,
      {
        deploySeq: seq,
        model: { name: r.model, version: r.toVersion },
        url: this.d.bundleUrl(r.model, r.toVersion),
        digest: v.value.manifestDigest.startsWith('sha256:')
          ? v.value.manifestDigest
          : `sha256:${v.value.manifestDigest}`,
        rolloutId: r.id,
      },
      now,
    );
    this.d.store.updateDevice(
      r.id,
      deviceId,
      { ...base, state: 'installing', reason: cmd.ok ? `install ${r.toVersion} sent` : cmd.message },
      now,
    );
    this.d.store.putCommander(deviceId, r.id);
    if (!cmd.ok) return;
    this.stats.commandsSent.install++;
    this.send(r.id, deviceId, cmd.value.topic, cmd.value.payload, 'install');
  }

  /** Publishes a rollback (to the device's last known good model) and records it. */
  sendRollback(r: RolloutRow, deviceId: string, attempts: number, aboveReported: number | null = null): void {
    const now = this.d.clock.nowMs();
    const seq = this.seqFor(deviceId, aboveReported);
    const cmd = this.d.commands.rollback(
      deviceId,
      { deploySeq: seq, reason: `rollout ${r.id} rolled back`, rolloutId: r.id },
      now,
    );
    this.d.store.updateDevice(
      r.id,
      deviceId,
      {
        state: 'reverting',
        deploySeq: seq,
        sentMs: now,
        attempts,
        modelState: null,
        code: null,
        reason: cmd.ok ? 'rollback sent' : cmd.message,
      },
      now,
    );
    this.d.store.putCommander(deviceId, r.id);
    if (!cmd.ok) return;
    this.stats.commandsSent.rollback++;
    this.send(r.id, deviceId, cmd.value.topic, cmd.value.payload, 'rollback');
  }

  startPhase(r: RolloutRow, idx: number): void {
    const now = this.d.clock.nowMs();
    const phase = this.d.store.phases(r.id)[idx];
    if (phase === undefined) return;
    this.d.store.updateRollout(r.id, { currentPhase: idx }, now);
    this.d.store.updatePhase(r.id, idx, { state: 'deploying', startedMs: now });
    this.event(r.id, 'phase_started', `${phase.name}: ${phase.devices.length} device(s)`);
    // Devices already on the version get the command too: an install of the model already serving ends
    // COMMITTED at once (docs/agent-models.md), so the answer, not a guess, settles them.
    for (const dev of phase.devices) this.sendInstall(r, dev, 1);
  }

  /** Advances one rollout by the clock: timeouts, settle, bake, analysis, rollback progress. */
  advance(r: RolloutRow, now: number): void {
    const timeoutMs = r.plan.deviceTimeoutS * 1000;
    for (const dev of this.d.store.devices(r.id)) {
      if (
        (dev.state === 'installing' || dev.state === 'reverting') &&
        (dev.sentMs ?? now) + timeoutMs <= now
      ) {
        this.d.store.updateDevice(
          r.id,
          dev.deviceId,
          {
            state: 'timed_out',
            settledMs: now,
            reason: `no terminal model state within ${r.plan.deviceTimeoutS} s`,
          },
          now,
        );
        this.stats.deviceTimeouts++;
        this.event(r.id, 'device_timed_out', `${dev.deviceId} (${dev.state}); retried when it comes online`);
      }
    }
    if (r.state === 'rolling_back') {
      this.advanceRollback(r, now);
      return;
    }
    if (r.state !== 'running') return;
    const phase = this.d.store.phases(r.id)[r.currentPhase];
    if (phase === undefined) return;
    const devices = this.d.store.devices(r.id).filter((x) => x.phase === phase.index);
    if (phase.state === 'deploying') {
      if (!devices.every((x) => SETTLED.has(x.state))) return;
      const bad = devices.filter((x) => x.state === 'rolled_back' || x.state === 'failed').length;
      const share = devices.length === 0 ? 0 : bad / devices.length;
      // Failures over the policy already: no reason to bake before rolling back.
      // An empty phase (no device left for its percentage) has nothing to bake.
      const bakeMs =
        share > r.plan.analysis.maxDeviceFailureShare || devices.length === 0 ? 0 : phase.bakeS * 1000;
      this.d.store.updatePhase(r.id, phase.index, {
        state: 'baking',
        settledMs: now,
        bakeUntilMs: now + bakeMs,
      });
      this.event(
        r.id,
        'phase_settled',
        `${phase.name}: ${countText(devices.map((x) => x.state))}; bake ${bakeMs / 1000} s`,
      );
      return;
    }
    if (phase.state === 'baking' && now >= (phase.bakeUntilMs ?? now)) this.analyse(r, now);
  }

  analyse(r: RolloutRow, now: number): void {
    const phase = this.d.store.phases(r.id)[r.currentPhase];
    if (phase === undefined) return;
    const result = analyseStoredPhase(this.d, r, phase, this.d.store.devices(r.id), now);
    // Too few windows of the new model yet: the bake is stretched (the next tick tries again) until
    // maxDataWaitS after its end, then the phase is inconclusive.
    const waitMs = r.plan.analysis.maxDataWaitS * 1000;
    if (result.shortOfData && now < (phase.bakeUntilMs ?? now) + waitMs) return;
    this.stats.analyses[result.verdict]++;
    const last = phase.index === this.d.store.phases(r.id).length - 1;
    this.d.store.tx(() => {
      this.d.store.addAnalysis(r.id, { phase: phase.index, atMs: now, ...result });
      this.d.store.updatePhase(r.id, phase.index, {
        state: result.verdict === 'pass' ? 'passed' : result.verdict === 'fail' ? 'failed' : 'inconclusive',
        verdict: result.verdict,
        endedMs: now,
      });
      this.event(
        r.id,
        'analysis',
        `${phase.name}: ${result.verdict}${result.reasons.length > 0 ? ` (${result.reasons.join('; ')})` : ''}`,
      );
    });
    if (result.verdict === 'fail')
      this.beginRollback(r, 'rolled_back', `${phase.name} analysis failed`, SYSTEM);
    else if (result.verdict === 'inconclusive')
      this.pause(r, `${phase.name} analysis inconclusive: ${result.reasons.join('; ')}`, SYSTEM);
    else if (last) this.complete(r);
    else if (!r.plan.autoProceed) this.pause(r, `${phase.name} passed; autoProceed is off`, SYSTEM);
    else this.startPhase(r, phase.index + 1);
  }

  pause(r: RolloutRow, reason: string, actor: string): void {
    this.d.store.updateRollout(r.id, { state: 'paused', pauseReason: reason }, this.d.clock.nowMs());
    this.event(r.id, 'paused', reason, actor);
  }

  /** After resume: a phase that ended passed or inconclusive moves on, as an operator decided. */
  proceed(r: RolloutRow): void {
    const phases = this.d.store.phases(r.id);
    const phase = phases[r.currentPhase];
    if (phase === undefined || (phase.state !== 'passed' && phase.state !== 'inconclusive')) return;
    if (phase.index === phases.length - 1) this.complete(r);
    else this.startPhase(r, phase.index + 1);
  }

  beginRollback(r: RolloutRow, endState: 'rolled_back' | 'aborted', reason: string, actor: string): void {
    const now = this.d.clock.nowMs();
    this.d.store.tx(() => {
      this.d.store.updateRollout(r.id, { state: 'rolling_back', endState, pauseReason: null }, now);
      for (const p of this.d.store.phases(r.id))
        if (p.state === 'pending' || p.state === 'deploying' || p.state === 'baking')
          this.d.store.updatePhase(r.id, p.index, { state: 'cancelled', endedMs: now });
      for (const dev of this.d.store.devices(r.id))
        if (dev.state === 'pending')
          this.d.store.updateDevice(
            r.id,
            dev.deviceId,
            { state: 'untouched', reason: 'never commanded' },
            now,
          );
      this.event(r.id, endState === 'aborted' ? 'abort' : 'rollback', reason, actor);
    });
    // The canary alias goes back to where it was (issue #10 §3 "the alias goes back").
    const back = r.canaryPrev ?? r.fromVersion;
    if (back !== null) {
      const moved = this.d.registry.moveAlias({
        model: r.model,
        alias: 'canary',
        version: back,
        expectedVersion: r.toVersion,
        reason: `rollout ${r.id} ${endState === 'aborted' ? 'aborted' : 'rolled back'}: ${reason}`,
        actor: `rollout:${r.id}`,
      });
      this.event(
        r.id,
        'alias',
        moved.ok ? `canary back to ${back}` : `canary not moved back: ${moved.message}`,
      );
    }
    const again = this.d.store.rollout(r.id);
    if (again !== undefined) this.advanceRollback(again, now);
  }

  private advanceRollback(r: RolloutRow, now: number): void {
    const devices = this.d.store.devices(r.id);
    for (const dev of devices) if (dev.state === 'committed') this.sendRollback(r, dev.deviceId, 1);
    const busy = this.d.store.devices(r.id).some((x) => x.state === 'installing' || x.state === 'reverting');
    if (busy) return;
    const end = r.endState ?? 'rolled_back';
    this.d.store.updateRollout(r.id, { state: end, endedMs: now }, now);
    this.event(
      r.id,
      'ended',
      `${end}: ${countText(this.d.store.devices(r.id).map((x) => x.state))}; production not moved`,
    );
    this.d.ended(r.id);
  }

  complete(r: RolloutRow): void {
    const now = this.d.clock.nowMs();
    const moved = this.d.registry.moveAlias({
      model: r.model,
      alias: 'production',
      version: r.toVersion,
      expectedVersion: r.productionPrev,
      reason: `rollout ${r.id} completed${r.reason === '' ? '' : `: ${r.reason}`}`,
      actor: `rollout:${r.id}`,
    });
    const production = moved.ok
      ? {
          moved: true,
          from: moved.value.from,
          code: null,
          message: `production ${moved.value.from ?? 'none'} -> ${r.toVersion}`,
        }
      : { moved: false, from: r.productionPrev, code: moved.code, message: moved.message };
    this.d.store.updateRollout(
      r.id,
      { state: 'completed', endedMs: now, production, pauseReason: null },
      now,
    );
    this.event(r.id, 'completed', production.message);
    this.d.ended(r.id);
  }

  /** A device's answer to our last command for it (matched by deploySeq). */
  onModelState(
    r: RolloutRow,
    deviceId: string,
    s: { state: string; code: string | null; reason: string; active: ModelRef | null },
    lastReported: number | null,
  ): void {
    const now = this.d.clock.nowMs();
    const dev = this.d.store.device(r.id, deviceId);
    if (dev === undefined) return;
    const base = { modelState: s.state as never, code: s.code, reason: s.reason };
    const rollingBack = r.state === 'rolling_back' || r.state === 'rolled_back' || r.state === 'aborted';
    if (dev.state !== 'installing' && dev.state !== 'timed_out' && dev.state !== 'reverting') return;
    if (s.state === 'FAILED' && s.code === 'EDGELOOP_ERR_MODEL_DOWNGRADE') {
      // The device applied a higher deploySeq than we sent (a wiped collector data dir): one more command
      // above the one it reports (contract-10 R).
      if (dev.attempts > MAX_DOWNGRADE_RETRIES) {
        this.d.store.updateDevice(r.id, deviceId, { ...base, state: 'failed', settledMs: now }, now);
        return;
      }
      this.event(
        r.id,
        'downgrade',
        `${deviceId} refused deploySeq ${dev.deploySeq ?? '?'}: sending above ${lastReported ?? '?'}`,
      );
      if (dev.state === 'reverting') this.sendRollback(r, deviceId, dev.attempts + 1, lastReported);
      else this.sendInstall(r, deviceId, dev.attempts + 1, lastReported);
      return;
    }
    if (dev.state === 'reverting') {
      if (s.state === 'ROLLED_BACK' || s.state === 'FAILED')
        this.d.store.updateDevice(
          r.id,
          deviceId,
          { ...base, state: s.state === 'ROLLED_BACK' ? 'reverted' : 'failed', settledMs: now },
          now,
        );
      else this.d.store.updateDevice(r.id, deviceId, base, now);
      return;
    }
    if (s.state === 'COMMITTED') {
      this.d.store.updateDevice(r.id, deviceId, { ...base, state: 'committed', settledMs: now }, now);
      // Late commit of a rollout being (or already) rolled back: undo it on this device too.
      if (rollingBack) this.sendRollback(r, deviceId, 1);
    } else if (s.state === 'ROLLED_BACK' || s.state === 'FAILED')
      this.d.store.updateDevice(
        r.id,
        deviceId,
        { ...base, state: s.state === 'ROLLED_BACK' ? 'rolled_back' : 'failed', settledMs: now },
        now,
      );
    else this.d.store.updateDevice(r.id, deviceId, base, now);
  }

  statsView(counts: Record<string, number>): RolloutStats {
    return {
      rollouts: {
        running: counts.running ?? 0,
        paused: counts.paused ?? 0,
        completed: counts.completed ?? 0,
        rolling_back: counts.rolling_back ?? 0,
        rolled_back: counts.rolled_back ?? 0,
        aborted: counts.aborted ?? 0,
      },
      commandsSent: { ...this.stats.commandsSent },
      publishFailures: this.stats.publishFailures,
      analyses: { ...this.stats.analyses },
      deviceTimeouts: this.stats.deviceTimeouts,
    };
  }
}

export function countText(states: readonly string[]): string {
  const m = new Map<string, number>();
  for (const s of states) m.set(s, (m.get(s) ?? 0) + 1);
  return [...m].map(([k, v]) => `${v} ${k}`).join(', ') || 'no devices';
}

export type { RolloutView };
