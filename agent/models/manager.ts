// The model manager (issue #4 §4, docs/agent-models.md): applies model commands one at a time.
//
//   install:  deploySeq guard -> DOWNLOADING (retry, resume) -> VERIFYING (digest, hashes, pinned-key
//             signature, name, I/O, golden) -> STAGED -> ACTIVATING (swap between two windows) ->
//             HEALTH_CHECK -> COMMITTED | ROLLED_BACK;  any refusal -> FAILED, the old model still serving.
//   rollback: deploySeq guard -> ACTIVATING -> ROLLED_BACK to the last known good model.
//
// The download is fetch.ts, verifying and loading a bundle stage.ts, the health window health.ts.
// Every transition goes to the injected reportState() (the MQTT side publishes it retained). The manager
// never touches MQTT: the composition root passes commands in and state out.

import { quantile } from 'simple-statistics';
import { trustedKeySet, type TrustedKey } from '../../shared/bundle/signing.ts';
import { fail, ok, type ErrorCode, type Result } from '../../shared/errors.ts';
import type { FeatureParams } from '../../shared/features/params.ts';
import {
  modelCommandSchema,
  type ModelCommandPayload,
  type ModelRef,
  type ModelStateName,
} from '../../shared/mqtt/schemas.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';
import { loadOnnxSession, type OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import type { InferenceRunner } from '../inference/runner.ts';
import type { ModelManagerConfig } from './config.ts';
import { fetchBundle, type InstallCommand } from './fetch.ts';
import { watchHealth } from './health.ts';
import type { ModelStateReport } from './report.ts';
import { stageBundle, stageStored, type StagedModel, type StageOptions } from './stage.ts';
import { emptyActiveState, ModelStore, type ActiveState, type StoredModel } from './store.ts';

export interface ModelManagerOptions {
  readonly dataDir: string;
  readonly config: ModelManagerConfig;
  readonly runner: InferenceRunner;
  /** Called on every transition, synchronously, with the payload body (see ./report.ts). */
  readonly reportState: (report: ModelStateReport) => void;
  /** Default: onnxruntime-node (shared/platform/onnx.ts). */
  readonly loadSession?: OnnxSessionLoader;
  /** The device's sensors once a HELLO described them, to check a model fits before it serves. */
  readonly sensors?: () => readonly SensorDescriptor[] | undefined;
  /** Feature parameters, when bundles are trained on non-default ones. */
  readonly featureParams?: Partial<FeatureParams>;
}

/** Recent latencies kept for the serving model, the baseline a new model's health window is judged by. */
const BASELINE_SAMPLES = 256;

interface Pending {
  readonly cmd: ModelCommandPayload;
  readonly resolve: (r: ModelStateReport) => void;
}

const toStored = (s: StagedModel): StoredModel => ({
  name: s.manifest.name,
  version: s.manifest.version,
  manifestDigest: s.manifestDigest,
});
const ref = (m: { name: string; version: string } | null | undefined): ModelRef | null =>
  m == null ? null : { name: m.name, version: m.version };

export class ModelManager {
  readonly store: ModelStore;
  private readonly keys: ReadonlyMap<string, TrustedKey>;
  private readonly loadSession: OnnxSessionLoader;
  private state: ActiveState = emptyActiveState;
  private phase: ModelStateName = 'IDLE';
  private busy = false;
  private pending: Pending | null = null;
  private closed = false;
  private readonly abort = new AbortController();
  private stopHealth: (() => void) | undefined;
  private readonly recent: number[] = [];
  private readonly unobserve: () => void;

  constructor(private readonly options: ModelManagerOptions) {
    this.store = new ModelStore(options.dataDir);
    // Bad pinned keys are bad config: trustedKeySet throws EDGELOOP_ERR_KEY_INVALID at construction.
    this.keys = trustedKeySet(options.config.trustedKeys);
    this.loadSession = options.loadSession ?? ((b) => loadOnnxSession(b));
    this.unobserve = options.runner.observe((o) => {
      if (o.engine !== null && o.engine === options.runner.active && o.result?.ok === true) {
        this.recent.push(o.result.value.latencyMs);
        if (this.recent.length > BASELINE_SAMPLES) this.recent.shift();
      }
    });
  }

  /** The persisted state (active, last known good, last deploySeq) and the current phase. */
  status(): ActiveState & { readonly phase: ModelStateName } {
    return { ...this.state, phase: this.phase };
  }

  /**
   * Loads active.json and the active bundle, verifies it again against the pinned keys, replays its
   * golden cases and puts it in the runner. Falls back to the last known good model, then to none.
   */
  async start(): Promise<Result<ActiveState>> {
    const init = await this.store.init();
    if (!init.ok) return this.startFailed(init.code, init.message);
    const read = await this.store.readState();
    if (!read.ok) return this.startFailed(read.code, read.message);
    this.state = read.value;
    const { active, lastKnownGood } = this.state;
    if (active === null) {
      this.report('IDLE', { reason: 'no model installed yet' });
      return ok(this.state);
    }
    const loaded = await this.loadStored(active);
    if (loaded.ok) {
      this.options.runner.swap(loaded.value.engine);
      this.report('IDLE', {
        reason: `serving ${active.name}@${active.version}, restored from disk and verified`,
      });
      return ok(this.state);
    }
    const why = `stored model ${active.name}@${active.version} refused at start: ${loaded.message}`;
    const fallback = lastKnownGood === null ? null : await this.loadStored(lastKnownGood);
    if (fallback?.ok === true && lastKnownGood !== null) {
      this.options.runner.swap(fallback.value.engine);
      await this.persist({ active: lastKnownGood, lastKnownGood: null });
    } else {
      await this.persist({ active: null, lastKnownGood: null });
    }
    this.report('FAILED', {
      target: ref(active),
      reason: `${why}; ${fallback?.ok === true ? 'serving the last known good model' : 'no model serving'}`,
      code: 'EDGELOOP_ERR_MODEL_ACTIVE_INVALID',
    });
    return ok(this.state);
  }

  /**
   * Applies a model command (install or rollback). Commands run one at a time; one more may wait, and a
   * newer one replaces it (the replaced one is reported FAILED, superseded). Resolves with the final report.
   */
  handleCommand(input: ModelCommandPayload): Promise<ModelStateReport> {
    const parsed = modelCommandSchema.safeParse(input);
    if (!parsed.success)
      return Promise.resolve(
        this.finish('FAILED', {
          reason: 'model command does not match its schema',
          code: 'EDGELOOP_ERR_MQTT_PAYLOAD',
        }),
      );
    const cmd = parsed.data;
    if (this.closed)
      return Promise.resolve(
        this.finish('FAILED', {
          deploySeq: cmd.deploySeq,
          reason: 'model manager is closed',
          code: 'EDGELOOP_ERR_MODEL_CLOSED',
        }),
      );
    if (!this.busy) return this.drain(cmd);
    const waiting = this.pending;
    if (waiting !== null) {
      if (cmd.deploySeq <= waiting.cmd.deploySeq)
        return Promise.resolve(this.refuseDowngrade(cmd, waiting.cmd.deploySeq));
      waiting.resolve(
        this.finish('FAILED', {
          deploySeq: waiting.cmd.deploySeq,
          target: waiting.cmd.action === 'install' ? waiting.cmd.model : null,
          reason: `superseded by deploySeq ${cmd.deploySeq} before it started`,
          code: 'EDGELOOP_ERR_MODEL_SUPERSEDED',
        }),
      );
    }
    return new Promise((resolve) => (this.pending = { cmd, resolve }));
  }

  /** Aborts a download or health window in progress, takes the engine out of the runner, closes it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.stopHealth?.();
    this.unobserve();
    this.pending?.resolve(
      this.finish('FAILED', { reason: 'model manager closed', code: 'EDGELOOP_ERR_MODEL_CLOSED' }),
    );
    this.pending = null;
    const engine = this.options.runner.swap(null);
    if (engine !== null) {
      await this.options.runner.whenReleased(engine);
      await engine.close();
    }
  }

  private async drain(first: ModelCommandPayload): Promise<ModelStateReport> {
    this.busy = true;
    try {
      const result = await this.apply(first);
      for (let p = this.pending; p !== null && !this.closed; p = this.pending) {
        this.pending = null;
        p.resolve(await this.apply(p.cmd));
      }
      return result;
    } finally {
      this.busy = false;
    }
  }

  private async apply(cmd: ModelCommandPayload): Promise<ModelStateReport> {
    const last = this.state.lastDeploySeq;
    if (last !== null && cmd.deploySeq <= last) return this.refuseDowngrade(cmd, last);
    // Recorded before any work: a crash or a failure later must not let the same command (a replay) in again.
    const saved = await this.persist({ lastDeploySeq: cmd.deploySeq });
    const target = cmd.action === 'install' ? cmd.model : ref(this.state.lastKnownGood);
    if (!saved.ok)
      return this.finish('FAILED', {
        deploySeq: cmd.deploySeq,
        target,
        reason: saved.message,
        code: saved.code,
      });
    return cmd.action === 'install' ? this.install(cmd) : this.rollbackTo(cmd.deploySeq, cmd.reason);
  }

  private refuseDowngrade(cmd: ModelCommandPayload, last: number): ModelStateReport {
    return this.finish('FAILED', {
      deploySeq: cmd.deploySeq,
      target: cmd.action === 'install' ? cmd.model : null,
      reason: `deploySeq ${cmd.deploySeq} is not greater than ${last}, the last one applied; refused`,
      code: 'EDGELOOP_ERR_MODEL_DOWNGRADE',
    });
  }

  private async install(cmd: InstallCommand): Promise<ModelStateReport> {
    const base = { deploySeq: cmd.deploySeq, target: cmd.model };
    const failed = (code: ErrorCode, reason: string) => this.finish('FAILED', { ...base, reason, code });
    const hex = cmd.digest.slice('sha256:'.length);
    const active = this.state.active;
    if (active?.manifestDigest === hex && this.options.runner.active !== null)
      return this.finish('COMMITTED', {
        ...base,
        reason: `${active.name}@${active.version} is already serving`,
      });

    const fetched = await fetchBundle({
      cmd,
      config: this.options.config,
      downloadsDir: this.store.downloadsDir,
      signal: this.abort.signal,
      serving: () => this.servingText(),
      report: ({ state, ...p }) => this.report(state, { ...base, ...p }),
    });
    if (!fetched.ok) return failed(fetched.code, fetched.message);
    const { contents, discard } = fetched.value;
    const staged = await stageBundle(contents, this.stageOptions(cmd.model));
    if (!staged.ok) {
      await discard();
      return failed(staged.code, `${staged.message}; ${this.servingText()}`);
    }
    const stored = toStored(staged.value);
    const written = await this.store.writeBundle(stored.name, stored.version, contents);
    await discard();
    if (!written.ok) {
      await staged.value.engine.close();
      return failed(written.code, written.message);
    }
    this.report('STAGED', {
      ...base,
      reason: `verified (key ${staged.value.keyId}), loaded beside the serving model, ${staged.value.golden.cases} golden case(s) reproduced (max abs error ${staged.value.golden.maxAbsError})`,
    });
    return this.activate(staged.value.engine, stored, base);
  }

  private async activate(
    engine: InferenceEngine,
    stored: StoredModel,
    base: { deploySeq: number; target: ModelRef },
  ): Promise<ModelStateReport> {
    const runner = this.options.runner;
    const baseline = this.recent.length > 0 ? quantile(this.recent, 0.95) : undefined;
    this.report('ACTIVATING', { ...base, reason: 'swapping between two windows' });
    const previous = runner.swap(engine);
    this.recent.length = 0;
    this.report('HEALTH_CHECK', {
      ...base,
      reason: `watching ${this.options.config.healthWindows} windows or ${this.options.config.healthMaxMs} ms`,
    });
    // On a bad verdict the previous engine is already back, swapped between two windows (health.ts).
    const health = watchHealth(
      runner,
      engine,
      previous,
      this.options.config,
      previous === null ? undefined : baseline,
    );
    this.stopHealth = health.stop;
    const verdict = await health.verdict.finally(() => (this.stopHealth = undefined));
    if (verdict.healthy) {
      const saved = await this.persist({
        active: stored,
        lastKnownGood: this.state.active ?? this.state.lastKnownGood,
      });
      if (saved.ok) {
        await this.retire(previous);
        await this.store.prune([this.state.active, this.state.lastKnownGood]);
        return this.finish('COMMITTED', { ...base, reason: verdict.reason });
      }
      runner.swap(previous);
      await this.retire(engine);
      return this.finish('FAILED', {
        ...base,
        reason: `${saved.message}; the previous model serves again`,
        code: saved.code,
      });
    }
    await this.retire(engine);
    if (this.state.active?.manifestDigest !== stored.manifestDigest)
      await this.store.removeVersion(stored.name, stored.version);
    this.recent.length = 0;
    return this.finish('ROLLED_BACK', { ...base, reason: verdict.reason, code: verdict.code });
  }

  private async rollbackTo(deploySeq: number, why: string): Promise<ModelStateReport> {
    const lkg = this.state.lastKnownGood;
    const base = { deploySeq, target: ref(lkg) };
    if (lkg === null)
      return this.finish('FAILED', {
        ...base,
        reason: `rollback requested (${why}) but no last known good model is stored`,
        code: 'EDGELOOP_ERR_MODEL_NO_ROLLBACK_TARGET',
      });
    this.report('ACTIVATING', { ...base, reason: `rolling back to ${lkg.name}@${lkg.version}: ${why}` });
    const loaded = await this.loadStored(lkg);
    if (!loaded.ok) return this.finish('FAILED', { ...base, reason: loaded.message, code: loaded.code });
    const previous = this.options.runner.swap(loaded.value.engine);
    this.recent.length = 0;
    const saved = await this.persist({ active: lkg, lastKnownGood: null });
    await this.retire(previous);
    if (!saved.ok) return this.finish('FAILED', { ...base, reason: saved.message, code: saved.code });
    await this.store.prune([lkg]);
    return this.finish('ROLLED_BACK', { ...base, reason: `rolled back by command: ${why}` });
  }

  private loadStored(m: StoredModel): Promise<Result<StagedModel>> {
    return stageStored(this.store, m, this.stageOptions(m));
  }

  private stageOptions(expect: ModelRef): StageOptions {
    return {
      trustedKeys: this.keys,
      loadSession: this.loadSession,
      sensors: this.options.sensors?.(),
      expect,
      ...(this.options.featureParams === undefined ? {} : { featureParams: this.options.featureParams }),
    };
  }

  private async retire(engine: InferenceEngine | null): Promise<void> {
    if (engine === null) return;
    await this.options.runner.whenReleased(engine);
    await engine.close();
  }

  private async persist(patch: Partial<ActiveState>): Promise<Result<void>> {
    const next = { ...this.state, ...patch };
    const r = await this.store.writeState(next);
    if (r.ok) this.state = next;
    return r;
  }

  private startFailed(code: ErrorCode, message: string): Result<ActiveState> {
    this.report('FAILED', { reason: `model store unusable, no model serving: ${message}`, code });
    return fail(code, message);
  }

  private servingText(): string {
    const m = this.options.runner.active?.model;
    return m === undefined ? 'no model serving' : `${m.name}@${m.version} keeps serving`;
  }

  private report(
    state: ModelStateName,
    p: { deploySeq?: number | null; target?: ModelRef | null; reason: string; code?: ErrorCode | null },
  ): ModelStateReport {
    this.phase = state;
    const r: ModelStateReport = {
      state,
      deploySeq: p.deploySeq ?? this.state.lastDeploySeq,
      target: p.target ?? null,
      active: ref(this.options.runner.active?.model),
      reason: p.reason,
      code: p.code ?? null,
    };
    this.options.reportState(r);
    return r;
  }

  /** A final report: the phase returns to IDLE for the next command. */
  private finish(state: ModelStateName, p: Parameters<ModelManager['report']>[1]): ModelStateReport {
    const r = this.report(state, p);
    this.phase = 'IDLE';
    return r;
  }
}
