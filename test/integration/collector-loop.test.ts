// The loop as the collector mounts it (collector/loop/setup.ts): its database, its APIs behind the
// registry's write token, its metrics on /metrics (checked by promtool), the collector's own signing key
// (created once in <data-dir>/keys, trusted by its registry, kept across restarts), and no loop without a
// registry.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { retrainWorkerPath } from '../../cli/collector.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { promtoolCheck, requireTool } from '../helpers/tools.ts';
import { startTestCollector } from './collector-fixture.ts';

const TOKEN = 'loop-test-token-0123456789';

async function withRegistry(t: TestContext, dataDir?: string) {
  const key = generateSigningKeyPair();
  const fx = await startTestCollector(
    { ...(dataDir === undefined ? {} : { dataDir }), trustedKeys: [] },
    {
      trustedKeys: [key.publicKeyPem],
      registryTokens: [{ token: TOKEN, actor: 'ops' }],
      retrainWorkerPath: retrainWorkerPath(),
    },
  );
  t.after(() => fx.close());
  return fx;
}

test('with a registry: the loop APIs answer, writes need the token, /metrics carries the loop and passes promtool', async (t) => {
  const fx = await withRegistry(t);
  const inject = fx.collector.app.inject.bind(fx.collector.app);
  for (const url of [
    '/api/v1/rollouts',
    '/api/v1/update-requests',
    '/api/v1/training-jobs',
    '/api/v1/labels',
    '/api/v1/inventory',
  ]) {
    const r = await inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
  }
  const plan = { model: 'pump-condition', toVersion: '1.0.0' };
  const anonymous = await inject({ method: 'POST', url: '/api/v1/rollouts', payload: plan });
  assert.equal(anonymous.statusCode, 401, anonymous.body);
  assert.equal(
    anonymous.json<{ error: { code: string } }>().error.code,
    'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED',
  );
  const unknown = await inject({
    method: 'POST',
    url: '/api/v1/rollouts',
    payload: plan,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(unknown.statusCode, 400, unknown.body);
  assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  const label = await inject({
    method: 'POST',
    url: '/api/v1/labels',
    payload: { deviceId: 'pump-1', state: 'normal', fromMs: 1000, toMs: 2000 },
  });
  assert.equal(label.statusCode, 401, label.body);

  const m = await inject({ method: 'GET', url: '/metrics' });
  for (const name of [
    'edgeloop_collector_rollouts{state="running"} 0',
    'edgeloop_collector_rollout_commands_total{action="install"} 0',
    'edgeloop_collector_update_requests{state="open"} 0',
    'edgeloop_collector_training_jobs{state="running"} 0',
  ])
    assert.ok(m.body.includes(name), `${name} in /metrics`);
  const checked = promtoolCheck(m.body);
  if (
    !requireTool(t, checked !== undefined, 'promtool', 'apt-get install prometheus') ||
    checked === undefined
  )
    return;
  assert.equal(checked.status, 0, `promtool check metrics:\n${checked.output}`);
});

test('the collector signing key: created 0600 in <data-dir>/keys on first start, the same after a restart', async (t) => {
  const first = await startTestCollector({}, { trustedKeys: [generateSigningKeyPair().publicKeyPem] });
  const dataDir = join(first.dir, 'data');
  const keyPath = join(dataDir, 'keys', 'collector-signing.key');
  const pubPath = join(dataDir, 'keys', 'collector-signing.pub');
  const keyId = first.collector.signingKey?.keyId;
  assert.ok(keyId !== undefined);
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.equal(readFileSync(pubPath, 'utf8'), first.collector.signingKey?.publicKeyPem);
  await first.collector.close();
  // Same data directory, new process: the same key, so agents that pinned it keep accepting its models.
  const again = await withRegistry(t, dataDir);
  assert.equal(again.collector.signingKey?.keyId, keyId);
  t.after(() => first.close());
});

test('--signing-key: the operator key is used, nothing is created; a file that is not a key is refused', async (t) => {
  const pair = generateSigningKeyPair();
  const fx0 = await withRegistry(t);
  const keyFile = join(fx0.dir, 'ops.key');
  writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
  const fx = await startTestCollector(
    { signingKey: keyFile },
    { trustedKeys: [generateSigningKeyPair().publicKeyPem] },
  );
  t.after(() => fx.close());
  assert.equal(fx.collector.signingKey?.keyId, pair.keyId);
  assert.equal(existsSync(join(fx.dir, 'data', 'keys')), false);
  const bad = join(fx0.dir, 'bad.key');
  writeFileSync(bad, 'not a key');
  await assert.rejects(
    startTestCollector({ signingKey: bad }, { trustedKeys: [generateSigningKeyPair().publicKeyPem] }),
    (err: Error & { code?: string }) => err.code === 'EDGELOOP_ERR_KEY_INVALID',
  );
});

test('without a retraining worker: rollouts and update requests, but no training routes', async (t) => {
  const fx = await startTestCollector({}, { trustedKeys: [generateSigningKeyPair().publicKeyPem] });
  t.after(() => fx.close());
  assert.equal(fx.collector.loop?.retraining, undefined);
  const inject = fx.collector.app.inject.bind(fx.collector.app);
  assert.equal((await inject({ method: 'GET', url: '/api/v1/rollouts' })).statusCode, 200);
  assert.equal((await inject({ method: 'GET', url: '/api/v1/training-jobs' })).statusCode, 404);
  assert.ok(fx.logs.some((l) => l.includes('no retraining worker')));
});

test('without a registry there is no loop: its routes are 404 and no key is made', async (t) => {
  const fx = await startTestCollector();
  t.after(() => fx.close());
  assert.equal(fx.collector.loop, undefined);
  const r = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/rollouts' });
  assert.equal(r.statusCode, 404);
  assert.equal(existsSync(join(fx.dir, 'data', 'keys')), false);
});
