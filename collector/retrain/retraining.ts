// Retraining jobs in the collector (issue 10 §2): queue (one job at a time), the job directory for the
// child (captured windows, operator labels, the production model), the child process (runner.ts), and the
// end of a job: push the signed candidate into the registry (certified like any push), move `staging`
// to it only when the gate passed, and tell listeners (update requests follow their job).

import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fail, ok } from '../../shared/errors.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { KNOWN_CLASSES } from '../training/dataset.ts';
import { openJobsStore } from './jobs-store.ts';
import { openLabelStore, type LabelStore } from './labels.ts';
import { prepareJobDir } from './job-dir.ts';
import { runChild, type ChildOutcome, type ChildRun } from './runner.ts';
import { endedStates, type RetrainInput, type Retraining, type TrainingJobView } from './types.ts';
import { BUNDLE_FILE, CAPTURED_FILE, RESULT_FILE, type WorkerResult } from './worker.ts';

export interface RetrainingDeps {
  readonly db: SqliteDatabase;
  readonly store: TelemetryStore;
  readonly registry: Registry;
  /** The collector's Ed25519 signing key (PEM); its public key must be pinned by the registry and agents. */
  readonly signingKeyPem: string;
  /** cli/retrain-worker.ts (from source) or dist/cli/retrain-worker.js, forked per job. */
  readonly workerPath: string;
  /** Node options for the child. Default: the collector's own process.execArgv. */
  readonly execArgv?: readonly string[];
  /** <data-dir>/training: one directory per job. */
  readonly workDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

const SEMVER = /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:[-+].*)?$/;
function nextPatch(versions: readonly string[]): string {
  let best: [number, number, number] = [0, 0, 0];
  for (const v of versions) {
    const m = SEMVER.exec(v);
    if (m === null) continue;
    const t: [number, number, number] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (t[0] > best[0] || (t[0] === best[0] && (t[1] > best[1] || (t[1] === best[1] && t[2] > best[2]))))
      best = t;
  }
  return `${best[0]}.${best[1]}.${best[2] + 1}`;
}

export interface RetrainingService extends Retraining {
  /** The operator labels (maintenance log) the jobs read; served by the training API. */
  readonly labels: LabelStore;
}

export function createRetraining(deps: RetrainingDeps): RetrainingService {
  const jobs = openJobsStore(deps.db);
  const labels = openLabelStore(deps.db, KNOWN_CLASSES);
  const listeners: ((job: TrainingJobView) => void)[] = [];
  const log = deps.logger.child({ component: 'retraining' });
  let current: { id: string; run: ChildRun | null; cancelled: boolean; done: Promise<void> } | undefined;
  let closing = false;

  // A job running when the collector stopped cannot be resumed (its child died with it).
  for (const j of jobs.list({ state: 'running', limit: 1000 }))
    jobs.update(j.id, {
      state: 'failed',
      endedMs: deps.clock.nowMs(),
      code: 'EDGELOOP_ERR_TRAINING_INTERRUPTED',
      message: 'the collector stopped while this job ran',
    });

  function end(id: string, patch: Parameters<typeof jobs.update>[1]): void {
    const v = jobs.update(id, { ...patch, endedMs: deps.clock.nowMs() });
    if (v === undefined) return;
    log.info('training job ended', { job: id, state: v.state, code: v.code ?? '' });
    for (const l of listeners) {
      try {
        l(v);
      } catch (err) {
        log.error('training job listener failed', { error: (err as Error).message });
      }
    }
  }

  async function finish(
    job: TrainingJobView,
    dir: string,
    outcome: ChildOutcome,
    cancelled: boolean,
  ): Promise<void> {
    if (cancelled) {
      end(job.id, {
        state: 'cancelled',
        code: 'EDGELOOP_ERR_TRAINING_CANCELLED',
        message: 'cancelled; the child process was stopped',
      });
      return;
    }
    if (closing && outcome.kind !== 'done') {
      end(job.id, {
        state: 'failed',
        code: 'EDGELOOP_ERR_TRAINING_INTERRUPTED',
        message: 'the collector stopped while this job ran',
      });
      return;
    }
    if (outcome.kind === 'crashed') {
      end(job.id, {
        state: 'failed',
        code: 'EDGELOOP_ERR_TRAINING_WORKER_CRASHED',
        message: outcome.message,
      });
      return;
    }
    if (outcome.kind === 'failed') {
      end(job.id, { state: 'failed', code: outcome.code, message: outcome.message });
      return;
    }
    const result = JSON.parse(await readFile(join(dir, RESULT_FILE), 'utf8')) as WorkerResult;
    const bytes = new Uint8Array(await readFile(join(dir, BUNDLE_FILE)));
    jobs.update(job.id, { progress: { phase: 'push', done: 0, of: 1, message: 'registry push' }, result });
    const name = job.input.model.name;
    // Certified like any push (signature against the registry's pinned keys, ONNX load, golden outputs).
    const pushed = await deps.registry.push(name, bytes, job.actor, job.candidateVersion);
    if (!pushed.ok) {
      end(job.id, {
        state: 'failed',
        code: pushed.code,
        message: `registry push refused the candidate: ${pushed.message}`,
      });
      return;
    }
    await rm(join(dir, CAPTURED_FILE), { force: true });
    if (result.verdict !== 'pass') {
      // Registered for the record, never staged: update requests treat staged versions as approved.
      end(job.id, {
        state: 'refused',
        code: result.code ?? 'EDGELOOP_ERR_TRAINING_GATE_REFUSED',
        message: `candidate ${name} ${job.candidateVersion} does not beat production ${job.productionVersion}`,
        reasons: result.reasons,
      });
      return;
    }
    const moved = deps.registry.moveAlias({
      model: name,
      alias: 'staging',
      version: job.candidateVersion,
      reason: `training job ${job.id}${job.input.requestId === null ? '' : ` for update request ${job.input.requestId}`}: beats production ${job.productionVersion} on the same test rows`,
      actor: job.actor,
    });
    if (!moved.ok) {
      end(job.id, { state: 'failed', code: moved.code, message: `staging not moved: ${moved.message}` });
      return;
    }
    end(job.id, { state: 'succeeded', code: null, message: `${name} ${job.candidateVersion} staged` });
  }

  const stopping = (slot: { cancelled: boolean }): boolean => slot.cancelled || closing;

  function pump(): void {
    if (closing || current !== undefined) return;
    const job = jobs.nextQueued();
    if (job === undefined) return;
    if (!jobs.claim(job.id, deps.clock.nowMs())) return;
    jobs.update(job.id, { progress: { phase: 'prepare', done: 0, of: 1, message: 'reading captured data' } });
    const slot: { id: string; run: ChildRun | null; cancelled: boolean; done: Promise<void> } = {
      id: job.id,
      run: null,
      cancelled: false,
      done: Promise.resolve(),
    };
    current = slot;
    slot.done = (async () => {
      try {
        const dir = await prepareJobDir(
          { registry: deps.registry, store: deps.store, labels, workDir: deps.workDir },
          job,
        );
        if (!dir.ok) {
          end(job.id, { state: 'failed', code: dir.code, message: dir.message });
          return;
        }
        // Cancelled or closing while the job directory was written (the flags change across that await).
        if (stopping(slot)) {
          await finish(job, dir.value, { kind: 'crashed', message: 'not started' }, slot.cancelled);
          return;
        }
        const run = runChild({
          workerPath: deps.workerPath,
          ...(deps.execArgv === undefined ? {} : { execArgv: deps.execArgv }),
          dir: dir.value,
          signingKeyPem: deps.signingKeyPem,
          logger: log,
          onProgress: (progress) => {
            if (!closing) jobs.update(job.id, { progress });
          },
        });
        slot.run = run;
        const outcome = await run.ended;
        await finish(job, dir.value, outcome, slot.cancelled);
      } catch (err) {
        end(job.id, { state: 'failed', code: 'EDGELOOP_ERR_INTERNAL', message: (err as Error).message });
      } finally {
        current = undefined;
        pump();
      }
    })();
  }

  setImmediate(pump);

  return {
    labels,
    open(input: RetrainInput, actor: string) {
      if (closing) return fail('EDGELOOP_ERR_TRAINING_INTERRUPTED', 'the collector is stopping');
      const name = input.model.name;
      const base = deps.registry.getVersion(name, input.model.version);
      if (!base.ok)
        return fail(
          'EDGELOOP_ERR_TRAINING_JOB_INVALID',
          `model ${name} ${input.model.version}: ${base.message}`,
        );
      if (input.devices.length === 0)
        return fail(
          'EDGELOOP_ERR_TRAINING_JOB_INVALID',
          'devices is empty: name the devices whose captured data to use',
        );
      if (!(
        Number.isSafeInteger(input.fromMs) &&
        Number.isSafeInteger(input.toMs) &&
        input.fromMs < input.toMs
      ))
        return fail(
          'EDGELOOP_ERR_TRAINING_JOB_INVALID',
          `fromMs (${input.fromMs}) must be before toMs (${input.toMs})`,
        );
      const aliases = deps.registry.listAliases(name);
      const productionVersion =
        (aliases.ok ? aliases.value.find((a) => a.alias === 'production')?.version : undefined) ??
        input.model.version;
      const versions = deps.registry.listVersions(name);
      const existing = versions.ok ? versions.value.map((v) => v.version) : [];
      const pending = jobs.pendingVersions(name);
      const candidateVersion = input.version ?? nextPatch([...existing, ...pending]);
      if (existing.includes(candidateVersion) || pending.includes(candidateVersion))
        return fail(
          'EDGELOOP_ERR_TRAINING_JOB_INVALID',
          `version ${candidateVersion} of ${name} exists or is claimed by another job`,
        );
      const v = jobs.insert({
        input,
        actor,
        candidateVersion,
        productionVersion,
        createdMs: deps.clock.nowMs(),
      });
      log.info('training job queued', { job: v.id, model: name, version: candidateVersion, actor });
      setImmediate(pump);
      return ok(v);
    },
    get: (id) => jobs.get(id),
    list: (options) => jobs.list(options),
    cancel(id, actor) {
      const j = jobs.get(id);
      if (j === undefined) return fail('EDGELOOP_ERR_HTTP_NOT_FOUND', `no training job ${id}`);
      if (endedStates.includes(j.state))
        return fail('EDGELOOP_ERR_TRAINING_JOB_STATE', `training job ${id} is ${j.state}`);
      log.info('training job cancel', { job: id, actor });
      if (current?.id === id) {
        current.cancelled = true;
        current.run?.kill();
        return ok(jobs.get(id) as TrainingJobView);
      }
      end(id, {
        state: 'cancelled',
        code: 'EDGELOOP_ERR_TRAINING_CANCELLED',
        message: `cancelled by ${actor} before it started`,
      });
      return ok(jobs.get(id) as TrainingJobView);
    },
    onEnded(listener) {
      listeners.push(listener);
    },
    async close() {
      if (closing) {
        await current?.done;
        return;
      }
      closing = true;
      const c = current;
      c?.run?.kill();
      await c?.done;
    },
  };
}
