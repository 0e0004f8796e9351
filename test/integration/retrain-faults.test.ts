// Retraining faults (issue 10 §2 "a crash/kill of the child -> job failed with a code"): the real worker
// child SIGKILLed from outside mid-job, a cancelled running job and a cancelled queued one, close() with a
// job running (interrupted, child gone), a restart finding a job still marked running, and refused inputs.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import type { TrainingJobView } from '../../collector/retrain/types.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { BASE_VERSION, MODEL, retrainWorld, T0 } from './retrain-fixture.ts';

const TERMINAL = ['succeeded', 'refused', 'failed', 'cancelled'];

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pids of this process's children running the retraining worker. */
function workerChildren(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child
  }
  return out
    .split('\n')
    .filter((l) => l.includes('retrain-worker'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('retraining faults: killed child, cancel, close, restart, bad input', async (t) => {
  const w = await retrainWorld(t, 20);
  const input = {
    requestId: null,
    model: { name: MODEL, version: BASE_VERSION },
    devices: [...w.field.keys()],
    fromMs: T0,
    toMs: T0 + 3_600_000,
    trials: 2,
  };

  await t.test('refused inputs', async () => {
    const rt = w.retraining();
    const unknown = rt.open({ ...input, model: { name: MODEL, version: '9.9.9' } }, 'ops');
    assert.ok(!unknown.ok && unknown.code === 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
    const empty = rt.open({ ...input, fromMs: T0, toMs: T0 }, 'ops');
    assert.ok(!empty.ok && empty.code === 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
    const noDevices = rt.open({ ...input, devices: [] }, 'ops');
    assert.ok(!noDevices.ok && noDevices.code === 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
    const existing = rt.open({ ...input, version: BASE_VERSION }, 'ops');
    assert.ok(!existing.ok && existing.code === 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
    assert.deepEqual(rt.list(), []);
    // One service per database, as in the collector: a second one would take queued jobs too.
    await rt.close();
  });

  await t.test(
    'child SIGKILLed from outside: failed with WORKER_CRASHED; the next job still runs',
    async () => {
      const rt = w.retraining();
      const a = rt.open(input, 'ops');
      const b = rt.open(input, 'ops');
      assert.ok(a.ok && b.ok);
      const pid = await until('a running worker', () => {
        const j = rt.get(a.value.id);
        return j?.state === 'running' && j.progress?.phase === 'lab' ? workerChildren()[0] : undefined;
      });
      t.diagnostic(`killing ${pid} of ${JSON.stringify(workerChildren())}`);
      process.kill(pid, 'SIGKILL');
      const ended = await until('job a ended', () => {
        const j = rt.get(a.value.id);
        return j !== undefined && TERMINAL.includes(j.state) ? j : undefined;
      });
      t.diagnostic(JSON.stringify({ ...ended, result: null, input: null }));
      assert.equal(ended.state, 'failed');
      assert.equal(ended.code, 'EDGELOOP_ERR_TRAINING_WORKER_CRASHED');
      assert.match(ended.message ?? '', /SIGKILL/);
      // The queue moves on: b starts (and we cancel it while it runs).
      await until('job b running', () => (rt.get(b.value.id)?.state === 'running' ? true : undefined));
      const pidB = await until('b worker', () => workerChildren()[0]);
      const c = rt.cancel(b.value.id, 'ops');
      assert.ok(c.ok);
      const bEnded = await until('job b ended', () => {
        const j = rt.get(b.value.id);
        return j !== undefined && TERMINAL.includes(j.state) ? j : undefined;
      });
      assert.equal(bEnded.state, 'cancelled');
      assert.equal(bEnded.code, 'EDGELOOP_ERR_TRAINING_CANCELLED');
      await until('b worker gone', () => (alive(pidB) ? undefined : true));
      const again = rt.cancel(b.value.id, 'ops');
      assert.ok(!again.ok && again.code === 'EDGELOOP_ERR_TRAINING_JOB_STATE');
      await rt.close();
    },
  );

  await t.test(
    'cancel a queued job; close() with a job running ends it as interrupted and kills the child',
    async () => {
      const rt = w.retraining();
      const a = rt.open(input, 'ops');
      const b = rt.open(input, 'ops');
      assert.ok(a.ok && b.ok);
      const cb = rt.cancel(b.value.id, 'ops');
      assert.ok(cb.ok);
      assert.equal(rt.get(b.value.id)?.state, 'cancelled');
      const pid = await until('a worker', () =>
        rt.get(a.value.id)?.state === 'running' ? workerChildren()[0] : undefined,
      );
      await rt.close();
      await rt.close(); // idempotent
      const j = rt.get(a.value.id) as TrainingJobView;
      assert.equal(j.state, 'failed');
      assert.equal(j.code, 'EDGELOOP_ERR_TRAINING_INTERRUPTED');
      await until('worker gone', () => (alive(pid) ? undefined : true));
      const late = rt.open(input, 'ops');
      assert.ok(!late.ok && late.code === 'EDGELOOP_ERR_TRAINING_INTERRUPTED');
    },
  );

  await t.test(
    'a candidate signed by a key the registry does not pin: failed with the registry code, nothing staged',
    async () => {
      const rt = w.retraining(undefined, generateSigningKeyPair().privateKeyPem);
      for (const [deviceId, state] of w.field)
        assert.ok(rt.labels.add({ deviceId, state, fromMs: T0, toMs: T0 + 60_000 }, 'ops', Date.now()).ok);
      const j = rt.open({ ...input, conditionsLab: { devicesPerState: 3, secondsPerDevice: 5 } }, 'ops');
      assert.ok(j.ok);
      const ended = await until(
        'job ended',
        () => {
          const v = rt.get(j.value.id);
          return v !== undefined && TERMINAL.includes(v.state) ? v : undefined;
        },
        300_000,
      );
      assert.equal(ended.state, 'failed', `${ended.code ?? ''} ${ended.message ?? ''}`);
      assert.equal(ended.code, 'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY');
      assert.ok(!w.registry.getVersion(MODEL, j.value.candidateVersion).ok, 'not registered');
      const aliases = w.registry.listAliases(MODEL);
      assert.ok(aliases.ok && !aliases.value.some((a) => a.alias === 'staging'));
      await rt.close();
    },
  );

  await t.test('a restart finds a job marked running (collector killed): failed, interrupted', () => {
    w.db.run("UPDATE training_jobs SET state = 'running' WHERE id = (SELECT MAX(id) FROM training_jobs)");
    const id = w.db.get<{ id: number }>('SELECT MAX(id) AS id FROM training_jobs')?.id;
    const rt = w.retraining();
    const j = rt.get(`tj-${String(id)}`);
    assert.ok(j !== undefined);
    assert.equal(j.state, 'failed');
    assert.equal(j.code, 'EDGELOOP_ERR_TRAINING_INTERRUPTED');
  });
});
