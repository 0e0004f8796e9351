// The rollouts HTTP API through inject() (auth on writes, schemas, codes), and `edgeloop rollout` against a
// real listening server (port 0): start --wait following a rollout to its end, status as a table, pause,
// resume, abort, inventory, --help of every subcommand, and an unreachable collector.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createHttpApp,
  listenHttp,
  sendError,
  type HttpReply,
  type HttpRequest,
} from '../../collector/adapters/http.ts';
import { rolloutRoutes } from '../../collector/api/rollouts.ts';
import { rolloutCommand } from '../../cli/rollout.ts';
import { runCommand } from '../helpers/run-command.ts';
import { fleet, MODEL, startBench, type Bench } from './rollout-fixture.ts';

const TOKEN = 'rollout-token-0123456789';

function authorize(req: HttpRequest, reply: HttpReply): string | undefined {
  if (req.headers.authorization === `Bearer ${TOKEN}`) return 'ops';
  void sendError(reply, 401, 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED', 'a write token is required');
  return undefined;
}

async function appFor(t: { after(fn: () => unknown): void }, b: Bench) {
  const app = createHttpApp();
  await app.register(rolloutRoutes, { controller: b.controller, authorize });
  await app.ready();
  t.after(() => app.close());
  return app;
}

const auth = { authorization: `Bearer ${TOKEN}` };
const plan = {
  model: MODEL,
  toVersion: '1.1.0',
  canary: { devices: ['dev-01'] },
  canaryBakeS: 30,
  phases: [{ percent: 100, bakeS: 0 }],
  analysis: { minWindows: 10 },
};

test('HTTP API: writes need authorize, plans are validated, codes are stable', async (t) => {
  const b = await startBench(t, fleet(3));
  const app = await appFor(t, b);
  const code = (res: { json(): unknown }): string => (res.json() as { error: { code: string } }).error.code;

  const anon = await app.inject({ method: 'POST', url: '/api/v1/rollouts', payload: plan });
  assert.equal(anon.statusCode, 401);
  assert.equal(b.controller.list().length, 0);

  const bad = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts',
    headers: auth,
    payload: { ...plan, toVersion: '9.0.0' },
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(code(bad), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  const typo = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts',
    headers: auth,
    payload: { ...plan, canaryBake: 3 },
  });
  assert.equal(typo.statusCode, 400);
  assert.equal(code(typo), 'EDGELOOP_ERR_HTTP_BAD_REQUEST');

  const created = await app.inject({ method: 'POST', url: '/api/v1/rollouts', headers: auth, payload: plan });
  assert.equal(created.statusCode, 201, created.body);
  const r = created.json<{ rollout: { id: string; actor: string; phases: unknown[] } }>().rollout;
  assert.equal(r.id, 'ro-1');
  assert.equal(r.actor, 'ops');
  assert.equal(r.phases.length, 2);

  const conflict = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts',
    headers: auth,
    payload: plan,
  });
  assert.equal(conflict.statusCode, 409);
  assert.equal(code(conflict), 'EDGELOOP_ERR_ROLLOUT_CONFLICT');

  const listed = await app.inject({ url: '/api/v1/rollouts?state=running' });
  assert.deepEqual(
    listed.json<{ rollouts: { id: string }[] }>().rollouts.map((x) => x.id),
    ['ro-1'],
  );
  const unknownQ = await app.inject({ url: '/api/v1/rollouts?status=running' });
  assert.equal(unknownQ.statusCode, 400);
  assert.equal(code(unknownQ), 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  const missing = await app.inject({ url: '/api/v1/rollouts/ro-77' });
  assert.equal(missing.statusCode, 404);
  assert.equal(code(missing), 'EDGELOOP_ERR_ROLLOUT_NOT_FOUND');

  const noAuthPause = await app.inject({ method: 'POST', url: '/api/v1/rollouts/ro-1/pause', payload: {} });
  assert.equal(noAuthPause.statusCode, 401);
  const paused = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts/ro-1/pause',
    headers: auth,
    payload: { reason: 'look' },
  });
  assert.equal(paused.statusCode, 200, paused.body);
  assert.equal(paused.json<{ rollout: { state: string } }>().rollout.state, 'paused');
  const again = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts/ro-1/pause',
    headers: auth,
    payload: {},
  });
  assert.equal(again.statusCode, 409);
  assert.equal(code(again), 'EDGELOOP_ERR_ROLLOUT_STATE');
  const resumed = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts/ro-1/resume',
    headers: auth,
    payload: {},
  });
  assert.equal(resumed.statusCode, 200, resumed.body);
  await b.deliver();
  const aborted = await app.inject({
    method: 'POST',
    url: '/api/v1/rollouts/ro-1/abort',
    headers: auth,
    payload: { reason: 'test' },
  });
  assert.equal(aborted.statusCode, 200, aborted.body);
  await b.deliver();
  b.advance(1000);
  const detail = (await app.inject({ url: '/api/v1/rollouts/ro-1' })).json<{
    rollout: {
      state: string;
      events: { kind: string; actor: string }[];
      devices: { deploySeq: number | null }[];
    };
  }>();
  assert.equal(detail.rollout.state, 'aborted');
  assert.ok(detail.rollout.events.some((e) => e.kind === 'abort' && e.actor === 'ops'));
  const inv = (await app.inject({ url: '/api/v1/inventory' })).json<{
    devices: { deviceId: string; model: { version: string } | null; state: string | null }[];
  }>();
  assert.deepEqual(
    inv.devices.map((d) => d.deviceId),
    ['dev-01', 'dev-02', 'dev-03'],
  );
  const first = inv.devices[0];
  assert.ok(first !== undefined);
  assert.equal(first.model === null ? null : first.model.version, '1.0.0');
  assert.equal(first.state, 'ROLLED_BACK');
});

test('edgeloop rollout against a real server: start --wait, status table, inventory, errors, --help', async (t) => {
  const b = await startBench(t, fleet(4));
  const app = createHttpApp();
  await app.register(rolloutRoutes, { controller: b.controller, authorize });
  const server = await listenHttp(app, { port: 0 });
  t.after(() => server.close());
  // The manual clock moves while the CLI waits, as time would.
  let busy = false;
  const pump = setInterval(() => {
    if (busy) return;
    busy = true;
    void b.deliver().then(() => {
      b.advance(2000);
      busy = false;
    });
  }, 5);
  t.after(() => {
    clearInterval(pump);
  });
  const env = { EDGELOOP_REGISTRY_TOKEN: TOKEN };
  const base = ['--url', server.url];

  const noToken = await runCommand(rolloutCommand, ['start', ...base, '--model', MODEL, '--to', '1.1.0']);
  assert.equal(noToken.code, 1);
  assert.match(noToken.err, /EDGELOOP_ERR_REGISTRY_UNAUTHORIZED/);

  const run = await runCommand(
    rolloutCommand,
    [
      'start',
      ...base,
      '--model',
      MODEL,
      '--to',
      '1.1.0',
      '--canary-devices',
      'dev-02',
      '--canary-bake-s',
      '20',
      '--phases',
      '100:0',
      '--analysis',
      'minWindows=5',
      '--wait',
      '--interval-ms',
      '20',
      '--reason',
      'cli test',
    ],
    env,
  );
  assert.equal(run.code, 0, run.err + run.out);
  assert.match(run.out, /started ro-1/);
  assert.match(run.out, /ro-1 completed/);
  assert.match(run.out, /PHASE\s+PERCENT\s+BAKE_S\s+DEVICES\s+STATE/);
  assert.match(run.out, /canary\s+-\s+20\s+1\s+passed/);
  assert.match(run.out, /production: production 1\.0\.0 -> 1\.1\.0/);

  const status = await runCommand(rolloutCommand, ['status', ...base]);
  assert.equal(status.code, 0);
  assert.match(status.out, /ro-1\s+pump-condition\s+1\.0\.0\s+1\.1\.0\s+completed/);
  const one = await runCommand(rolloutCommand, ['status', 'ro-1', ...base, '--json']);
  assert.equal((JSON.parse(one.out) as { rollout: { state: string } }).rollout.state, 'completed');
  const inv = await runCommand(rolloutCommand, ['inventory', ...base]);
  assert.match(inv.out, /dev-04\s+pump-condition@1\.1\.0\s+COMMITTED/);

  const missing = await runCommand(rolloutCommand, ['pause', 'ro-9', ...base], env);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /EDGELOOP_ERR_ROLLOUT_NOT_FOUND/);
  const ended = await runCommand(rolloutCommand, ['abort', 'ro-1', ...base], env);
  assert.equal(ended.code, 1);
  assert.match(ended.err, /EDGELOOP_ERR_ROLLOUT_STATE/);
  const usage = await runCommand(rolloutCommand, ['start', ...base, '--model', MODEL]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /EDGELOOP_ERR_USAGE/);
  const badPhase = await runCommand(
    rolloutCommand,
    ['start', ...base, '--model', MODEL, '--to', '1.1.0', '--phases', '50'],
    env,
  );
  assert.equal(badPhase.code, 2);

  const down = await runCommand(rolloutCommand, ['status', '--url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.err, /EDGELOOP_ERR_ROLLOUT_UNREACHABLE/);

  for (const sub of ['start', 'status', 'pause', 'resume', 'abort']) {
    const h = await runCommand(rolloutCommand, [sub, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, new RegExp(`edgeloop rollout ${sub}`));
    assert.match(h.out, /--url/);
  }
  const top = await runCommand(rolloutCommand, ['--help']);
  assert.equal(top.code, 0);
  assert.match(top.out, /edgeloop rollout start/);
});
