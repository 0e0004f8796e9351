// The training API (docs/retraining.md §HTTP API) through Fastify's inject() on the collector's app: job
// listing, opening (202), cancelling, 404/409/422 codes, write authorization, operator labels on a real
// SQLite loop database (the label_ tables), and the jobs store's tables.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createHttpApp } from '../../collector/adapters/http.ts';
import { trainingRoutes } from '../../collector/api/training.ts';
import { openJobsStore } from '../../collector/retrain/jobs-store.ts';
import { openLabelStore } from '../../collector/retrain/labels.ts';
import type { Retraining, TrainingJobView } from '../../collector/retrain/types.ts';
import { KNOWN_CLASSES } from '../../collector/training/dataset.ts';
import { fail, ok } from '../../shared/errors.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';

function tempDb(t: TestContext): SqliteDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-retrain-api-'));
  const db = openSqliteDatabase(join(dir, 'loop.sqlite'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

/** A Retraining over the real jobs store, without children: jobs stay queued until cancelled. */
function queueOnly(db: SqliteDatabase): Retraining {
  const jobs = openJobsStore(db);
  return {
    open(input, actor) {
      if (input.model.version === '9.9.9')
        return fail('EDGELOOP_ERR_TRAINING_JOB_INVALID', 'unknown version');
      return ok(
        jobs.insert({ input, actor, candidateVersion: '1.0.1', productionVersion: '1.0.0', createdMs: 5 }),
      );
    },
    get: (id) => jobs.get(id),
    list: (o) => jobs.list(o),
    cancel(id) {
      const j = jobs.get(id);
      if (j === undefined) return fail('EDGELOOP_ERR_HTTP_NOT_FOUND', `no training job ${id}`);
      if (j.state !== 'queued') return fail('EDGELOOP_ERR_TRAINING_JOB_STATE', 'ended');
      return ok(
        jobs.update(id, { state: 'cancelled', code: 'EDGELOOP_ERR_TRAINING_CANCELLED' }) as TrainingJobView,
      );
    },
    onEnded: () => undefined,
    close: () => Promise.resolve(),
  };
}

async function app(t: TestContext) {
  const db = tempDb(t);
  const labels = openLabelStore(db, KNOWN_CLASSES);
  const a = createHttpApp();
  await a.register(trainingRoutes, {
    retraining: queueOnly(db),
    labels,
    nowMs: () => 42,
    authorize: (req, reply) => {
      if (req.headers.authorization === 'Bearer good') return 'ops';
      void reply.code(401).send({ error: { code: 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED', message: 'no' } });
      return undefined;
    },
  });
  t.after(() => a.close());
  return { a, db };
}

const auth = { authorization: 'Bearer good' };
const jobBody = {
  model: { name: 'machine-condition', version: '1.0.0' },
  devices: ['d1'],
  fromMs: 1,
  toMs: 2,
};

test('training jobs: open (202), get, list with filters, cancel, and the refusals', async (t) => {
  const { a } = await app(t);
  const refused = await a.inject({ method: 'POST', url: '/api/v1/training-jobs', payload: jobBody });
  assert.equal(refused.statusCode, 401, 'writes need authorization');
  const r = await a.inject({ method: 'POST', url: '/api/v1/training-jobs', payload: jobBody, headers: auth });
  assert.equal(r.statusCode, 202, r.body);
  const job = r.json<{ job: TrainingJobView }>().job;
  assert.equal(job.id, 'tj-1');
  assert.equal(job.state, 'queued');
  assert.equal(job.actor, 'ops');
  assert.equal(job.input.requestId, null);

  const g = await a.inject({ method: 'GET', url: '/api/v1/training-jobs/tj-1' });
  assert.equal(g.statusCode, 200);
  assert.equal(g.json<{ job: TrainingJobView }>().job.candidateVersion, '1.0.1');
  const missing = await a.inject({ method: 'GET', url: '/api/v1/training-jobs/tj-99' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  const badId = await a.inject({ method: 'GET', url: '/api/v1/training-jobs/7' });
  assert.equal(badId.statusCode, 400);

  const list = await a.inject({ method: 'GET', url: '/api/v1/training-jobs?state=queued' });
  assert.equal(list.json<{ jobs: unknown[] }>().jobs.length, 1);
  const typo = await a.inject({ method: 'GET', url: '/api/v1/training-jobs?status=queued' });
  assert.equal(typo.statusCode, 400);
  assert.match(typo.json<{ error: { message: string } }>().error.message, /unknown query parameter status/);
  const badState = await a.inject({ method: 'GET', url: '/api/v1/training-jobs?state=done' });
  assert.equal(badState.statusCode, 400);

  const invalid = await a.inject({
    method: 'POST',
    url: '/api/v1/training-jobs',
    payload: { ...jobBody, model: { name: 'machine-condition', version: '9.9.9' } },
    headers: auth,
  });
  assert.equal(invalid.statusCode, 422);
  assert.equal(invalid.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
  const extra = await a.inject({
    method: 'POST',
    url: '/api/v1/training-jobs',
    payload: { ...jobBody, devcies: [] },
    headers: auth,
  });
  assert.equal(extra.statusCode, 400, 'a misspelled field is refused');
  const noDevices = await a.inject({
    method: 'POST',
    url: '/api/v1/training-jobs',
    payload: { ...jobBody, devices: [] },
    headers: auth,
  });
  assert.equal(noDevices.statusCode, 400);

  const c = await a.inject({ method: 'POST', url: '/api/v1/training-jobs/tj-1/cancel', headers: auth });
  assert.equal(c.statusCode, 200);
  assert.equal(c.json<{ job: TrainingJobView }>().job.state, 'cancelled');
  const c2 = await a.inject({ method: 'POST', url: '/api/v1/training-jobs/tj-1/cancel', headers: auth });
  assert.equal(c2.statusCode, 409);
  assert.equal(c2.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_TRAINING_JOB_STATE');
  const c3 = await a.inject({ method: 'POST', url: '/api/v1/training-jobs/tj-5/cancel', headers: auth });
  assert.equal(c3.statusCode, 404);
});

test('labels: record, list by device and range, delete; invalid labels refused with a code', async (t) => {
  const { a, db } = await app(t);
  const add = (payload: Record<string, unknown>) =>
    a.inject({ method: 'POST', url: '/api/v1/labels', payload, headers: auth });
  const r1 = await add({
    deviceId: 'd1',
    state: 'normal',
    fromMs: 1000,
    toMs: 5000,
    note: 'after maintenance',
  });
  assert.equal(r1.statusCode, 201, r1.body);
  const l1 = r1.json<{ label: { id: string; actor: string; createdMs: number } }>().label;
  assert.equal(l1.id, 'lb-1');
  assert.equal(l1.actor, 'ops');
  assert.equal(l1.createdMs, 42);
  assert.equal((await add({ deviceId: 'd2', state: 'imbalance', fromMs: 0, toMs: 10 })).statusCode, 201);

  const unknownState = await add({ deviceId: 'd1', state: 'broken', fromMs: 0, toMs: 10 });
  assert.equal(unknownState.statusCode, 422);
  assert.equal(unknownState.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_LABEL_INVALID');
  const inverted = await add({ deviceId: 'd1', state: 'normal', fromMs: 10, toMs: 10 });
  assert.equal(inverted.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_LABEL_INVALID');
  const badDevice = await add({ deviceId: 'a/b', state: 'normal', fromMs: 0, toMs: 10 });
  assert.equal(badDevice.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_LABEL_INVALID');
  const noAuth = await a.inject({
    method: 'POST',
    url: '/api/v1/labels',
    payload: { deviceId: 'd1', state: 'normal', fromMs: 0, toMs: 1 },
  });
  assert.equal(noAuth.statusCode, 401);

  const byDevice = await a.inject({ method: 'GET', url: '/api/v1/labels?deviceId=d1' });
  assert.deepEqual(
    byDevice.json<{ labels: { id: string }[] }>().labels.map((l) => l.id),
    ['lb-1'],
  );
  const overlapping = await a.inject({ method: 'GET', url: '/api/v1/labels?from=5000&to=9000' });
  assert.deepEqual(
    overlapping.json<{ labels: unknown[] }>().labels,
    [],
    '[from, to) of the label ends at 5000',
  );
  const inRange = await a.inject({ method: 'GET', url: '/api/v1/labels?from=4999&to=9000' });
  assert.equal(inRange.json<{ labels: unknown[] }>().labels.length, 1);

  const del = await a.inject({ method: 'DELETE', url: '/api/v1/labels/lb-1', headers: auth });
  assert.equal(del.statusCode, 200);
  const delAgain = await a.inject({ method: 'DELETE', url: '/api/v1/labels/lb-1', headers: auth });
  assert.equal(delAgain.statusCode, 404);
  // Its own tables only, with their prefix.
  const tables = db
    .all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .map((r) => r.name);
  assert.deepEqual(tables, ['label_entries', 'label_schema', 'training_jobs', 'training_schema']);
});
