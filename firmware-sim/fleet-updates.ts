// A simulated device's model update state machine (docs/firmware-sim.md §Model commands), imitating the
// agent's (docs/agent-models.md "The update state machine"; agent/models/manager.ts) on shared pieces only:
//
//   install:  deploySeq guard -> DOWNLOADING (retry with backoff while unreachable) -> VERIFYING (digest,
//             hashes, pinned-key signature, name/version) -> STAGED -> ACTIVATING -> HEALTH_CHECK ->
//             COMMITTED | ROLLED_BACK;  any refusal -> FAILED, the old model still serving.
//   rollback: deploySeq guard -> ACTIVATING -> ROLLED_BACK to the last known good model, or FAILED.
//
// Commands run one at a time; one more may wait, and a newer one replaces it (FAILED, superseded). The
// health window is simulated: it lasts the injected latency and passes, unless the seeded rollback rate
// says it failed. Failure and rollback injection and latencies are drawn from a stream seeded by
// (fleet seed, device, deploySeq), so one seed gives the same outcomes. No I/O here: the download, the
// model cache, the report sink and the model swap are injected (fleet.ts wires them).

import type { TrustedKey } from '../shared/bundle/signing.ts';
import type { ErrorCode, Result } from '../shared/errors.ts';
import { parseJsonPayload } from '../shared/mqtt/codec.ts';
import type {
  ModelCommandPayload,
  ModelRef,
  ModelStateName,
  ModelStatePayload,
} from '../shared/mqtt/schemas.ts';
import { deriveSeed, uniform } from '../shared/random.ts';
import type { FleetModel } from './fleet-model.ts';
import { checkCommandedBundle, type FleetModelCache, type InstallCommand } from './fleet-models.ts';

export type ModelStateReport = Omit<ModelStatePayload, 'v' | 'deviceId' | 'runId' | 'msgSeq' | 'tsMs'>;

/** Injection and limits shared by every device of a fleet (fleet-cli.ts fills them from flags). */
export interface FleetUpdateConfig {
  readonly trustedKeys: ReadonlyMap<string, TrustedKey>;
  /** The fleet seed: injections are drawn from deriveSeed(seed, "fleet-update", deviceId, deploySeq). */
  readonly seed: number;
  /** Share of installs that end FAILED with failureCode after VERIFYING, 0..1. Default 0. */
  readonly failureRate: number;
  /** The code of an injected failure. Default EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH. */
  readonly failureCode: ErrorCode;
  /** Share of installs rolled back after HEALTH_CHECK (as a failed health window), 0..1. Default 0. */
  readonly rollbackRate: number;
  /** Time spent in each state before the next, ms. Default 0. */
  readonly stateLatencyMs: number;
  /** Relative jitter of stateLatencyMs: each wait is latency × (1 ± jitter), 0..1. Default 0. */
  readonly stateLatencyJitter: number;
  /** Largest bundle accepted, bytes. Default 64 MiB (the agent's maxBundleBytes). */
  readonly maxBundleBytes: number;
  /** How long one install keeps retrying an unreachable server, ms. Default 1,800,000. */
  readonly downloadDeadlineMs: number;
  /** One download attempt, ms. Default 60,000. */
  readonly downloadAttemptTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
}

export const updateDefaults = {
  failureRate: 0,
  failureCode: 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
  rollbackRate: 0,
  stateLatencyMs: 0,
  stateLatencyJitter: 0,
  maxBundleBytes: 64 * 1024 * 1024,
  downloadDeadlineMs: 1_800_000,
  downloadAttemptTimeoutMs: 60_000,
  retryBaseMs: 500,
  retryCapMs: 30_000,
} as const;

export interface DownloadRequest {
  readonly url: string;
  readonly random: () => number;
  readonly signal: AbortSignal;
  readonly onRetry: (r: { attempt: number; delayMs: number; code: ErrorCode; message: string }) => void;
}

export interface FleetUpdaterDeps {
  readonly deviceId: string;
  readonly config: FleetUpdateConfig;
  readonly models: FleetModelCache;
  /** GET with retry, bounded across the fleet (fleet.ts); config limits are applied by the caller. */
  readonly download: (r: DownloadRequest) => Promise<Result<Uint8Array>>;
  /** Publishes one transition (retained, in order). */
  readonly report: (r: ModelStateReport) => void;
  /** Swaps the model the device's windows run on (undefined: none). */
  readonly serve: (model: FleetModel | undefined) => void;
  /** Called after COMMITTED and ROLLED_BACK, so the device's status names the model now serving. */
  readonly changed?: () => void;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

interface ReportInput {
  readonly deploySeq?: number | null;
  readonly target?: ModelRef | null;
  readonly reason: string;
  readonly code?: ErrorCode | null;
}

interface Final {
  readonly state: 'COMMITTED' | 'ROLLED_BACK' | 'FAILED';
  readonly reason: string;
  readonly code?: ErrorCode;
}

interface Pending {
  readonly cmd: ModelCommandPayload;
  readonly resolve: () => void;
}

const refOf = (m: FleetModel | undefined): ModelRef | null =>
  m === undefined ? null : { name: m.model.name, version: m.model.version };
const text = (m: ModelRef | null): string => (m === null ? 'no model' : `${m.name}@${m.version}`);

interface Serving {
  readonly model: FleetModel;
  /** SHA-256 of the archive it was installed from (a command may name either digest). */
  readonly archiveDigest: string | null;
}

export class FleetUpdater {
  readonly #d: FleetUpdaterDeps;
  #active: Serving | undefined;
  #lastKnownGood: Serving | undefined;
  #lastDeploySeq: number | null = null;
  #busy = false;
  #running: Promise<void> | undefined;
  #pending: Pending | null = null;
  #closed = false;
  readonly #abort = new AbortController();
  /** Counts by final state, for the summary. */
  readonly outcomes = { committed: 0, rolledBack: 0, failed: 0 };

  /** initial: the --model every device starts with (the caller adopted it in the cache). */
  constructor(deps: FleetUpdaterDeps, initial?: FleetModel) {
    this.#d = deps;
    if (initial !== undefined) this.#active = { model: initial, archiveDigest: null };
  }

  get active(): ModelRef | null {
    return refOf(this.#active?.model);
  }

  /** One payload from the device's command topic. Resolves when it (or its replacement) is done. */
  handle(bytes: Uint8Array): Promise<void> {
    const parsed = parseJsonPayload('modelCommand', bytes);
    if (!parsed.ok) {
      this.#finish('FAILED', { reason: parsed.message, code: 'EDGELOOP_ERR_MQTT_PAYLOAD' });
      return Promise.resolve();
    }
    const cmd = parsed.value;
    if (cmd.deviceId !== this.#d.deviceId) {
      this.#finish('FAILED', {
        reason: `command for ${cmd.deviceId} on ${this.#d.deviceId}'s topic`,
        code: 'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH',
      });
      return Promise.resolve();
    }
    if (this.#closed) {
      this.#finish('FAILED', {
        deploySeq: cmd.deploySeq,
        reason: 'device shutting down',
        code: 'EDGELOOP_ERR_MODEL_CLOSED',
      });
      return Promise.resolve();
    }
    if (!this.#busy)
      return new Promise((resolve) => {
        this.#running = this.#drain(cmd, resolve);
      });
    const waiting = this.#pending;
    if (waiting !== null) {
      if (cmd.deploySeq <= waiting.cmd.deploySeq) {
        this.#refuseDowngrade(cmd, waiting.cmd.deploySeq);
        return Promise.resolve();
      }
      this.#finish('FAILED', {
        deploySeq: waiting.cmd.deploySeq,
        target: waiting.cmd.action === 'install' ? waiting.cmd.model : null,
        reason: `superseded by deploySeq ${cmd.deploySeq} before it started`,
        code: 'EDGELOOP_ERR_MODEL_SUPERSEDED',
      });
      waiting.resolve();
    }
    return new Promise((resolve) => (this.#pending = { cmd, resolve }));
  }

  /** Aborts the command in progress (it ends FAILED, closed) and the waiting one; releases models. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    const p = this.#pending;
    this.#pending = null;
    if (p !== null) {
      this.#finish('FAILED', {
        deploySeq: p.cmd.deploySeq,
        reason: 'device shutting down',
        code: 'EDGELOOP_ERR_MODEL_CLOSED',
      });
      p.resolve();
    }
    // The command in progress notices the abort at its next step and reports FAILED (closed).
    await this.#running;
  }

  /** Applies `first` (then `done`), then whatever waits, one at a time. */
  async #drain(first: ModelCommandPayload, done: () => void): Promise<void> {
    this.#busy = true;
    try {
      await this.#apply(first);
      done();
      for (let p = this.#pending; p !== null && !this.#closed; p = this.#pending) {
        this.#pending = null;
        await this.#apply(p.cmd);
        p.resolve();
      }
    } finally {
      this.#busy = false;
    }
  }

  async #apply(cmd: ModelCommandPayload): Promise<void> {
    const last = this.#lastDeploySeq;
    if (last !== null && cmd.deploySeq <= last) {
      this.#refuseDowngrade(cmd, last);
      return;
    }
    // Accepted before any work, as the agent persists it: a replay of this command is refused.
    this.#lastDeploySeq = cmd.deploySeq;
    const random = uniform(deriveSeed(this.#d.config.seed, 'fleet-update', this.#d.deviceId, cmd.deploySeq));
    if (cmd.action === 'install') await this.#install(cmd, random);
    else await this.#rollback(cmd.deploySeq, cmd.reason, random);
  }

  #refuseDowngrade(cmd: ModelCommandPayload, last: number): void {
    this.#finish('FAILED', {
      deploySeq: cmd.deploySeq,
      target: cmd.action === 'install' ? cmd.model : null,
      reason: `deploySeq ${cmd.deploySeq} is not greater than ${last}, the last one applied; refused`,
      code: 'EDGELOOP_ERR_MODEL_DOWNGRADE',
    });
  }

  /** The injected time in a state; false when the device is closing meanwhile. */
  async #linger(random: () => number): Promise<boolean> {
    const c = this.#d.config;
    if (c.stateLatencyMs > 0) {
      const ms = c.stateLatencyMs * (1 + c.stateLatencyJitter * (2 * random() - 1));
      await this.#d.sleep(Math.max(0, ms), this.#abort.signal);
    }
    return !this.#closed;
  }

  #serving(): string {
    const a = this.active;
    return a === null ? 'no model serving' : `${text(a)} keeps serving`;
  }

  async #install(cmd: InstallCommand, random: () => number): Promise<void> {
    const base = { deploySeq: cmd.deploySeq, target: cmd.model };
    const before = this.#active;
    const end = await this.#installSteps(cmd, random, base);
    this.#finish(end.state, { ...base, reason: end.reason, code: end.code ?? null });
    // The status names the serving model: a new one after COMMITTED (not after "already serving").
    if (this.#active !== before) this.#d.changed?.();
  }

  /** The steps of an install up to its final state, which the caller reports. */
  async #installSteps(
    cmd: InstallCommand,
    random: () => number,
    base: { readonly deploySeq: number; readonly target: ModelRef },
  ): Promise<Final> {
    const c = this.#d.config;
    // Drawn first, in a fixed order, so the outcome of a (seed, device, deploySeq) never depends on timing.
    const injectFail = random() < c.failureRate;
    const injectRollback = random() < c.rollbackRate;
    const closed = (): Final => ({
      state: 'FAILED',
      reason: `device shutting down; ${this.#serving()}`,
      code: 'EDGELOOP_ERR_MODEL_CLOSED',
    });
    const failed = (code: ErrorCode, reason: string): Final => ({
      state: 'FAILED',
      reason: `${reason}; ${this.#serving()}`,
      code,
    });
    const hex = cmd.digest.slice('sha256:'.length);
    const a = this.#active;
    if (a !== undefined && (a.model.digest === hex || a.archiveDigest === hex))
      return { state: 'COMMITTED', reason: `${text(this.active)} is already serving` };
    this.#report('DOWNLOADING', { ...base, reason: `downloading ${cmd.url}` });
    const serving = this.#serving();
    const got = await this.#d.download({
      url: cmd.url,
      random,
      signal: this.#abort.signal,
      onRetry: (r) => {
        this.#report('DOWNLOADING', {
          ...base,
          reason: `${r.message}; retry ${r.attempt} in ${r.delayMs} ms; ${serving}`,
          code: r.code,
        });
      },
    });
    if (this.#isClosed()) return closed();
    if (!got.ok) return failed(got.code, got.message);
    if (!(await this.#linger(random))) return closed();
    this.#report('VERIFYING', { ...base, reason: 'checking digest, file hashes, signature and name' });
    const checked = checkCommandedBundle(got.value, cmd, c.trustedKeys, c.maxBundleBytes);
    if (!checked.ok) return failed(checked.code, checked.message);
    if (!(await this.#linger(random))) return closed();
    if (injectFail) return failed(c.failureCode, 'failure injected by edgeloop sim (--inject-failure-rate)');
    const loaded = await this.#d.models.acquire(checked.value.digest, checked.value.contents);
    if (!loaded.ok) return failed(loaded.code, loaded.message);
    const next: Serving = { model: loaded.value, archiveDigest: checked.value.archiveDigest };
    if (this.#isClosed()) {
      await this.#d.models.release(next.model);
      return closed();
    }
    this.#report('STAGED', {
      ...base,
      reason: `verified (key ${checked.value.keyId}), loaded beside the serving model`,
    });
    if (!(await this.#linger(random))) {
      await this.#d.models.release(next.model);
      return closed();
    }
    const previous = this.#active;
    this.#report('ACTIVATING', { ...base, reason: 'swapping between two windows' });
    this.#active = next;
    this.#d.serve(next.model);
    const revert = async (end: Final): Promise<Final> => {
      this.#active = previous;
      this.#d.serve(previous?.model);
      await this.#d.models.release(next.model);
      return end;
    };
    if (!(await this.#linger(random))) return revert(closed());
    this.#report('HEALTH_CHECK', { ...base, reason: 'watching the health window (simulated)' });
    if (!(await this.#linger(random))) return revert(closed());
    if (injectRollback)
      return revert({
        state: 'ROLLED_BACK',
        reason: `health window failed (injected by edgeloop sim, --inject-rollback-rate); ${text(refOf(previous?.model))} serves again`,
        code: 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS',
      });
    // Committed: the previous model becomes the last known good one, the one before it is dropped.
    const dropped = this.#lastKnownGood;
    this.#lastKnownGood = previous ?? this.#lastKnownGood;
    if (previous !== undefined && dropped !== undefined) await this.#d.models.release(dropped.model);
    return { state: 'COMMITTED', reason: 'health window passed (simulated)' };
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  async #rollback(deploySeq: number, why: string, random: () => number): Promise<void> {
    const lkg = this.#lastKnownGood;
    const base = { deploySeq, target: refOf(lkg?.model) };
    if (lkg === undefined) {
      this.#finish('FAILED', {
        ...base,
        reason: `rollback requested (${why}) but no last known good model is stored`,
        code: 'EDGELOOP_ERR_MODEL_NO_ROLLBACK_TARGET',
      });
      return;
    }
    this.#report('ACTIVATING', { ...base, reason: `rolling back to ${text(refOf(lkg.model))}: ${why}` });
    if (!(await this.#linger(random))) {
      this.#finish('FAILED', { ...base, reason: 'device shutting down', code: 'EDGELOOP_ERR_MODEL_CLOSED' });
      return;
    }
    const current = this.#active;
    this.#active = lkg;
    this.#lastKnownGood = undefined;
    this.#d.serve(lkg.model);
    if (current !== undefined) await this.#d.models.release(current.model);
    this.#finish('ROLLED_BACK', { ...base, reason: `rolled back by command: ${why}` });
    this.#d.changed?.();
  }

  #report(state: ModelStateName, p: ReportInput): void {
    this.#d.report({
      state,
      deploySeq: p.deploySeq ?? this.#lastDeploySeq,
      target: p.target ?? null,
      active: this.active,
      reason: p.reason,
      code: p.code ?? null,
    });
  }

  #finish(state: ModelStateName, p: ReportInput): void {
    if (state === 'COMMITTED') this.outcomes.committed++;
    if (state === 'FAILED') this.outcomes.failed++;
    if (state === 'ROLLED_BACK') this.outcomes.rolledBack++;
    this.#report(state, p);
  }
}
