// Issue #4 §6 "Model swap under load": windows arrive continuously at about 1 kHz (one window per
// millisecond, a thousand times the normal 1 window/s) while v2 is downloaded, verified, staged, swapped in
// and health-checked. Every window index must be inferred exactly once, in order, and the serving model
// must change from v1 to v2 exactly once: no window skipped, none run twice, none dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import {
  archiveOf,
  installCommand,
  makeModelBundle,
  startAgent,
  startFileServer,
  tempDir,
} from './agent-model-fixture.ts';

test('swap under load: every window inferred exactly once across the swap', async (t) => {
  const key = generateSigningKeyPair();
  const v1 = archiveOf(await makeModelBundle(key, { version: '1.0.0', seed: 7 }));
  const v2 = archiveOf(await makeModelBundle(key, { version: '2.0.0', seed: 11 }));
  const srv = await startFileServer(t);
  srv.set('/v1.tar', v1);
  srv.set('/v2.tar', v2);
  const h = await startAgent(t, {
    dataDir: tempDir(t),
    trustedKeys: [key.publicKeyPem],
    config: { healthWindows: 200 },
  });
  assert.equal(
    (await h.manager.handleCommand(installCommand(`${srv.url}/v1.tar`, v1, { deploySeq: 1 }))).state,
    'COMMITTED',
  );

  const first = h.outcomes.length;
  h.startFeed(1);
  await h.pump(50); // under load before the command arrives
  const r = await h.manager.handleCommand(
    installCommand(`${srv.url}/v2.tar`, v2, { deploySeq: 2, version: '2.0.0' }),
  );
  assert.equal(r.state, 'COMMITTED', r.reason);
  await h.pump(50); // and after
  h.stopFeed();
  await h.runner.whenIdle();

  const seen = h.outcomes.slice(first);
  const indices = seen.map((o) => o.window.index);
  const firstIndex = indices[0]!;
  assert.deepEqual(
    indices,
    Array.from({ length: indices.length }, (_, i) => firstIndex + i),
    'each window index once, in order',
  );
  const stats = h.runner.stats();
  assert.equal(stats.dropped, 0);
  assert.equal(stats.queueDepth, 0);
  assert.equal(stats.submitted, stats.inferred + stats.failed + stats.unserved);
  assert.equal(stats.failed, 0);
  // Exactly one transition from v1 to v2, with windows on both sides.
  const versions = seen.map((o) => o.engine?.model.version);
  const switchAt = versions.indexOf('2.0.0');
  assert.ok(switchAt > 0, 'v1 served before the swap');
  assert.ok(versions.slice(0, switchAt).every((v) => v === '1.0.0'));
  assert.ok(
    versions.slice(switchAt).every((v) => v === '2.0.0'),
    'never back to v1, never null',
  );
  assert.ok(versions.length - switchAt >= 200, 'the health window saw its 200 windows');
  t.diagnostic(`${seen.length} windows, swap after window ${indices[switchAt - 1]}`);
  assert.ok(seen.every((o) => o.result?.ok === true));
});
