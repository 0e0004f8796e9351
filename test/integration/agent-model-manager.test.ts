// Issue #4 §4 and §6 ("Bad bundles", "Regression"): the agent's model manager against real onnxruntime
// sessions, a real HTTP server on port 0 and a real data directory.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadOnnxSession, type OnnxSession } from '../../shared/platform/onnx.ts';
import { modelStatePayload, type ModelStateReport } from '../../agent/models/report.ts';
import { generateSigningKeyPair, sha256Hex } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import {
  archiveOf,
  installCommand,
  makeModelBundle,
  startAgent,
  startFileServer,
  tempDir,
  type AgentHarness,
} from './agent-model-fixture.ts';

const key = generateSigningKeyPair();
const pinned = [key.publicKeyPem];
const v1 = archiveOf(await makeModelBundle(key, { version: '1.0.0', seed: 7 }));
const v2 = archiveOf(await makeModelBundle(key, { version: '2.0.0', seed: 11 }));

const states = (h: AgentHarness) => h.reports.map((r) => r.state);
const servingVersion = (h: AgentHarness) => h.runner.active?.model.version;

function assertValidPayloads(reports: readonly ModelStateReport[]): void {
  reports.forEach((r, i) => {
    const p = modelStatePayload(r, { deviceId: 'dev-1', runId: 7, msgSeq: i + 1, tsMs: Date.now() });
    assert.ok(p.ok, p.ok ? '' : p.message);
  });
}

/** Installs v1 and commits it while windows flow. */
async function withV1(t: Parameters<typeof startFileServer>[0], dataDir = tempDir(t)) {
  const srv = await startFileServer(t);
  srv.set('/v1.tar', v1);
  srv.set('/v2.tar', v2);
  const h = await startAgent(t, { dataDir, trustedKeys: pinned });
  h.startFeed();
  const r = await h.manager.handleCommand(installCommand(`${srv.url}/v1.tar`, v1, { deploySeq: 1 }));
  assert.equal(r.state, 'COMMITTED', r.reason);
  return { srv, h, dataDir };
}

test('install: download, verify, stage, golden, swap, health window, commit; reports match the schema', async (t) => {
  const { h, srv, dataDir } = await withV1(t);
  assert.deepEqual(states(h), [
    'IDLE',
    'DOWNLOADING',
    'VERIFYING',
    'STAGED',
    'ACTIVATING',
    'HEALTH_CHECK',
    'COMMITTED',
  ]);
  assert.deepEqual(h.reports.at(-1)?.active, { name: 'pump-condition', version: '1.0.0' });
  assertValidPayloads(h.reports);
  await h.pump(3);
  const last = h.outcomes.at(-1)!;
  assert.ok(last.result?.ok === true);
  const p = last.result.value;
  assert.deepEqual(p.model, { name: 'pump-condition', version: '1.0.0' });
  assert.equal(p.features.length, 192);
  assert.equal(Object.keys(p.probabilities).length, 3);
  assert.ok(Math.abs(Object.values(p.probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.equal(p.label, ['normal', 'imbalance', 'bearing_wear'][p.labelIndex]);
  assert.ok(p.latencyMs >= 0);

  // Upgrade to v2: the last known good becomes v1, and active.json names both.
  const r2 = await h.manager.handleCommand(
    installCommand(`${srv.url}/v2.tar`, v2, { deploySeq: 2, version: '2.0.0' }),
  );
  assert.equal(r2.state, 'COMMITTED', r2.reason);
  assert.equal(servingVersion(h), '2.0.0');
  const active = JSON.parse(readFileSync(join(dataDir, 'models', 'active.json'), 'utf8')) as {
    active: { version: string };
    lastKnownGood: { version: string };
    lastDeploySeq: number;
  };
  assert.equal(active.active.version, '2.0.0');
  assert.equal(active.lastKnownGood.version, '1.0.0');
  assert.equal(active.lastDeploySeq, 2);

  // A rollback command goes back to the last known good model.
  const rb = await h.manager.handleCommand({
    v: 1,
    deviceId: 'dev-1',
    runId: 1,
    msgSeq: 99,
    tsMs: 1,
    action: 'rollback',
    deploySeq: 3,
    reason: 'canary regressed',
  });
  assert.equal(rb.state, 'ROLLED_BACK', rb.reason);
  assert.equal(servingVersion(h), '1.0.0');
});

test('bad bundles are refused with their codes and the old model keeps serving', async (t) => {
  const { h, srv } = await withV1(t);
  const other = generateSigningKeyPair();
  const cases: { name: string; bytes: Uint8Array; digest?: string; code: string }[] = [];

  // Tampered: a model byte flipped after signing. The command names the manifest digest (which the
  // tamperer left alone), so the digest check passes and the per-file SHA-256 catches it.
  const good = await makeModelBundle(key, { version: '3.0.0', seed: 13 });
  const files = new Map(good.contents.files);
  const model = files.get('model.onnx')!.slice();
  model[model.length - 5]! ^= 0xff;
  files.set('model.onnx', model);
  cases.push({
    name: 'tampered',
    bytes: encodeBundleArchive({ ...good.contents, files }),
    digest: `sha256:${sha256Hex(good.contents.manifest)}`,
    code: 'EDGELOOP_ERR_BUNDLE_HASH_MISMATCH',
  });
  // The command's digest names other bytes.
  cases.push({
    name: 'wrong-digest',
    bytes: archiveOf(good),
    digest: `sha256:${'0'.repeat(64)}`,
    code: 'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH',
  });
  // Signed by a key this agent has not pinned.
  cases.push({
    name: 'unpinned-key',
    bytes: archiveOf(await makeModelBundle(other, { version: '3.0.0' })),
    code: 'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY',
  });
  // Golden outputs the model does not reproduce.
  cases.push({
    name: 'golden',
    bytes: archiveOf(await makeModelBundle(key, { version: '3.0.0', goldenShift: 0.05 })),
    code: 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
  });
  // Another model than the command names.
  cases.push({
    name: 'name',
    bytes: archiveOf(await makeModelBundle(key, { version: '3.0.1' })),
    code: 'EDGELOOP_ERR_MODEL_NAME_MISMATCH',
  });

  let seq = 10;
  for (const c of cases) {
    srv.set(`/${c.name}.tar`, c.bytes);
    const before = h.outcomes.length;
    const r = await h.manager.handleCommand(
      installCommand(`${srv.url}/${c.name}.tar`, c.bytes, {
        deploySeq: ++seq,
        version: '3.0.0',
        ...(c.digest === undefined ? {} : { digest: c.digest }),
      }),
    );
    assert.equal(r.state, 'FAILED', `${c.name}: ${r.reason}`);
    assert.equal(r.code, c.code, `${c.name}: ${r.reason}`);
    assert.deepEqual(r.active, { name: 'pump-condition', version: '1.0.0' }, c.name);
    assert.match(r.reason, /pump-condition@1\.0\.0 keeps serving/);
    assert.ok(!states(h).slice(-4).includes('ACTIVATING'), `${c.name} must never activate`);
    await h.pump(2);
    assert.ok(h.outcomes.length >= before + 2);
    assert.equal(h.outcomes.at(-1)?.engine?.model.version, '1.0.0', `${c.name}: v1 still serving`);
  }
  assertValidPayloads(h.reports);
});

test('a downgrade (deploySeq not greater than the last applied) is refused', async (t) => {
  const { h, srv } = await withV1(t);
  const r = await h.manager.handleCommand(
    installCommand(`${srv.url}/v2.tar`, v2, { deploySeq: 1, version: '2.0.0' }),
  );
  assert.equal(r.state, 'FAILED');
  assert.equal(r.code, 'EDGELOOP_ERR_MODEL_DOWNGRADE');
  assert.equal(servingVersion(h), '1.0.0');
  assert.equal(srv.requests.filter((q) => q.path === '/v2.tar').length, 0, 'nothing downloaded');
});

/** A session loader whose sessions after the first misbehave once `armed` is set. */
function sabotage(kind: 'throw' | 'slow') {
  let loads = 0;
  const ctl = { armed: false };
  const loader = async (bytes: Uint8Array) => {
    const r = await loadOnnxSession(bytes);
    if (!r.ok || ++loads === 1) return r;
    const real = r.value;
    const wrapped: OnnxSession = {
      inputs: real.inputs,
      outputs: real.outputs,
      run: async (feeds) => {
        if (ctl.armed && kind === 'throw') throw new Error('injected failure');
        if (ctl.armed) await new Promise((res) => setTimeout(res, 60));
        return real.run(feeds);
      },
      close: () => real.close(),
    };
    return { ok: true as const, value: wrapped };
  };
  return { loader, ctl };
}

for (const kind of ['throw', 'slow'] as const) {
  test(`a model that regresses in its health window (${kind}) is rolled back by itself`, async (t) => {
    const dataDir = tempDir(t);
    const srv = await startFileServer(t);
    srv.set('/v1.tar', v1);
    srv.set('/v2.tar', v2);
    const { loader, ctl } = sabotage(kind);
    const h = await startAgent(t, {
      dataDir,
      trustedKeys: pinned,
      loadSession: loader,
      config: { healthWindows: 6, healthMaxErrorRate: 0.2, healthLatencyFactor: 3 },
      // Armed after golden passed: the failure shows only in service, as a real regression would.
      onReport: (r) => {
        if (r.state === 'ACTIVATING' && r.target?.version === '2.0.0') ctl.armed = true;
      },
    });
    h.startFeed(2);
    assert.equal(
      (await h.manager.handleCommand(installCommand(`${srv.url}/v1.tar`, v1, { deploySeq: 1 }))).state,
      'COMMITTED',
    );
    await h.pump(20); // a latency baseline for v1
    const r = await h.manager.handleCommand(
      installCommand(`${srv.url}/v2.tar`, v2, { deploySeq: 2, version: '2.0.0' }),
    );
    assert.equal(r.state, 'ROLLED_BACK', r.reason);
    assert.equal(
      r.code,
      kind === 'throw' ? 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS' : 'EDGELOOP_ERR_MODEL_HEALTH_LATENCY',
    );
    assert.deepEqual(r.active, { name: 'pump-condition', version: '1.0.0' });
    assert.deepEqual(states(h).slice(-4), ['STAGED', 'ACTIVATING', 'HEALTH_CHECK', 'ROLLED_BACK']);
    await h.pump(3);
    assert.equal(h.outcomes.at(-1)?.engine?.model.version, '1.0.0');
    assert.ok(h.outcomes.at(-1)?.result?.ok);
    const active = JSON.parse(readFileSync(join(dataDir, 'models', 'active.json'), 'utf8')) as {
      active: { version: string };
    };
    assert.equal(active.active.version, '1.0.0');
    assertValidPayloads(h.reports);
  });
}

test('the active model persists across a restart and is verified again', async (t) => {
  const { h, dataDir } = await withV1(t);
  await h.close();
  const h2 = await startAgent(t, { dataDir, trustedKeys: pinned });
  assert.equal(servingVersion(h2), '1.0.0');
  assert.equal(h2.reports.at(0)?.state, 'IDLE');
  assert.match(h2.reports.at(0)?.reason ?? '', /restored from disk and verified/);
  await h2.pump(2);
  assert.equal(h2.outcomes.at(-1)?.result?.ok, true);
  // The downgrade guard persists too.
  const r = await h2.manager.handleCommand(
    installCommand('http://127.0.0.1:9/v.tar', v2, { deploySeq: 1, version: '2.0.0' }),
  );
  assert.equal(r.code, 'EDGELOOP_ERR_MODEL_DOWNGRADE');
  await h2.close();

  // A key that is no longer pinned: the stored model is refused at start, nothing serves, and it says why.
  const h3 = await startAgent(t, { dataDir, trustedKeys: [generateSigningKeyPair().publicKeyPem] });
  assert.equal(h3.runner.active, null);
  assert.equal(h3.reports.at(0)?.state, 'FAILED');
  assert.equal(h3.reports.at(0)?.code, 'EDGELOOP_ERR_MODEL_ACTIVE_INVALID');
});

test('registry unreachable: keeps serving, retries with backoff, reports it, resumes a cut download', async (t) => {
  const { h, srv } = await withV1(t);
  srv.failNext(3);
  srv.cutNext();
  const r = await h.manager.handleCommand(
    installCommand(`${srv.url}/v2.tar`, v2, { deploySeq: 2, version: '2.0.0' }),
  );
  assert.equal(r.state, 'COMMITTED', r.reason);
  const retries = h.reports.filter(
    (x) => x.state === 'DOWNLOADING' && x.code === 'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
  );
  assert.ok(retries.length >= 4, `expected 3 failures and a cut, got ${retries.length} retry reports`);
  assert.ok(retries.every((x) => /pump-condition@1\.0\.0 keeps serving/.test(x.reason)));
  const v2reqs = srv.requests.filter((q) => q.path === '/v2.tar');
  assert.ok(v2reqs.at(-1)?.range?.startsWith('bytes='), 'the last attempt resumed with Range');
  assert.notEqual(v2reqs.at(-1)?.range, 'bytes=0-');

  // A registry that stays down: FAILED at the deadline with the unreachable code, the old model serving.
  await srv.close();
  const v3 = archiveOf(await makeModelBundle(key, { version: '3.0.0' }));
  const h2 = h; // same agent
  const before = h2.outcomes.length;
  const down = await h2.manager.handleCommand(
    installCommand(`${srv.url}/v3.tar`, v3, { deploySeq: 3, version: '3.0.0' }),
  );
  assert.equal(down.state, 'FAILED');
  assert.equal(down.code, 'EDGELOOP_ERR_REGISTRY_UNREACHABLE');
  assert.equal(servingVersion(h2), '2.0.0');
  await h2.pump(2);
  assert.ok(h2.outcomes.length > before);
});
