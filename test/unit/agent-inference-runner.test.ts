// The inference runner (swap between windows, bounded queue) and the health window verdicts, with fake
// engines; plus the onnxruntime engine on a real session: features, probabilities, feature mismatch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import type { InferenceEngine, Prediction } from '../../agent/inference/engine.ts';
import { createOnnxEngine } from '../../agent/inference/onnx-engine.ts';
import { InferenceRunner, type InferenceOutcome } from '../../agent/inference/runner.ts';
import { resolveModelManagerConfig } from '../../agent/models/config.ts';
import { HealthWindow } from '../../agent/models/health.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { makeModelBundle, makeWindow, sensors } from '../integration/agent-model-fixture.ts';

function fakeEngine(
  version: string,
  behave: (i: number) => 'ok' | 'fail' | 'throw' = () => 'ok',
): InferenceEngine {
  const model = { name: 'm', version };
  return {
    model,
    manifestDigest: 'x'.repeat(64),
    labels: ['a'],
    featurePipelineId: 'p',
    featureNames: () => [],
    async infer(w): Promise<Result<Prediction>> {
      await new Promise((r) => setImmediate(r));
      const b = behave(w.index);
      if (b === 'throw') throw new Error('boom');
      if (b === 'fail') return fail('EDGELOOP_ERR_ONNX_RUN', 'bad');
      return ok({
        model,
        label: 'a',
        labelIndex: 0,
        probabilities: { a: 1 },
        latencyMs: 0.1,
        features: new Float32Array(0),
      });
    },
    close: () => Promise.resolve(),
  };
}

const w = makeWindow(0);

test('runner: swap mid-stream falls between windows; each window runs once, in order', async () => {
  const runner = new InferenceRunner();
  const a = fakeEngine('1');
  const b = fakeEngine('2');
  const seen: InferenceOutcome[] = [];
  runner.observe((o) => {
    seen.push(o);
    if (o.window.index === 4) runner.swap(b); // swap from inside a listener, while windows are queued
  });
  runner.swap(a);
  for (let i = 0; i < 10; i++) runner.submit({ ...w, index: i }, sensors);
  await runner.whenIdle();
  assert.deepEqual(
    seen.map((o) => o.window.index),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(seen.map((o) => o.engine?.model.version).join(''), '1111122222');
  await runner.close();
});

test('runner: a full queue drops the oldest and counts it; throws and failures are counted, not fatal', async () => {
  const runner = new InferenceRunner({ maxQueue: 3 });
  runner.swap(fakeEngine('1', (i) => (i === 1 ? 'throw' : i === 2 ? 'fail' : 'ok')));
  const seen: number[] = [];
  runner.observe((o) => seen.push(o.window.index));
  for (let i = 0; i < 8; i++) runner.submit({ ...w, index: i }, sensors);
  await runner.whenIdle();
  // Window 0 left the queue at once; 1..7 competed for 3 slots, so 1..4 were dropped.
  assert.deepEqual(seen, [0, 5, 6, 7]);
  assert.equal(runner.stats().dropped, 4);
  runner.submit({ ...w, index: 1 }, sensors);
  runner.submit({ ...w, index: 2 }, sensors);
  await runner.whenIdle();
  const s = runner.stats();
  assert.equal(s.failed, 2);
  assert.equal(s.inferred, 4);
  runner.swap(null);
  runner.submit(w, sensors);
  await runner.whenIdle();
  assert.equal(runner.stats().unserved, 1);
  await runner.close();
  assert.equal(runner.submit(w, sensors), false);
  await runner.close(); // idempotent
});

test('health window: early rollback on errors, latency regression against the baseline, else healthy', () => {
  const cfg = resolveModelManagerConfig({ trustedKeys: ['x'], healthWindows: 10, healthMaxErrorRate: 0.2 });
  const errs = new HealthWindow(cfg, 1);
  assert.equal(errs.record({ error: 'e1' }), undefined);
  assert.equal(errs.record({ error: 'e2' }), undefined);
  const v = errs.record({ error: 'e3' });
  assert.ok(v !== undefined && !v.healthy);
  assert.equal(v.code, 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS');

  const slow = new HealthWindow(cfg, 1);
  let verdict;
  for (let i = 0; i < 10; i++) verdict = slow.record({ latencyMs: 10 });
  assert.equal(verdict?.healthy === false && verdict.code, 'EDGELOOP_ERR_MODEL_HEALTH_LATENCY');

  // 3x slower but within the 2 ms margin: noise on a sub-millisecond model is not a regression.
  const tiny = new HealthWindow(cfg, 0.1);
  for (let i = 0; i < 10; i++) verdict = tiny.record({ latencyMs: 0.5 });
  assert.equal(verdict?.healthy, true);

  // First install: no baseline, so only the absolute limit applies.
  const abs = new HealthWindow({ ...cfg, healthMaxLatencyMs: 5 }, undefined);
  for (let i = 0; i < 10; i++) verdict = abs.record({ latencyMs: 6 });
  assert.equal(verdict?.healthy, false);
  assert.equal(new HealthWindow(cfg, undefined).verdict().healthy, true);
});

test('config: needs a pinned key; bad values name the option', () => {
  assert.throws(() => resolveModelManagerConfig({}), /trustedKeys/);
  assert.throws(() => resolveModelManagerConfig({ trustedKeys: ['k'], healthWindows: 0 }), /healthWindows/);
  assert.throws(
    () => resolveModelManagerConfig({ trustedKeys: ['k'], healthWindow: 3 } as never),
    /EDGELOOP_ERR_CONFIG_INVALID|Unrecognized|healthWindow/,
  );
});

test('onnx engine: real session gives probabilities over the labels; a board with other sensors is refused', async () => {
  const b = await makeModelBundle(generateSigningKeyPair());
  const s = await loadOnnxSession(b.contents.files.get('model.onnx')!);
  assert.ok(s.ok);
  const e = createOnnxEngine({ manifest: b.manifest, manifestDigest: '0'.repeat(64), session: s.value });
  assert.ok(e.ok, e.ok ? '' : e.message);
  const r = await e.value.infer(makeWindow(3), sensors);
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.deepEqual(Object.keys(r.value.probabilities), ['normal', 'imbalance', 'bearing_wear']);
  assert.equal(r.value.features.length, 192);
  const fewer = sensors.slice(0, 2);
  const bad = await e.value.infer(makeWindow(3), fewer);
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'EDGELOOP_ERR_MODEL_FEATURES_MISMATCH');
  await e.value.close();
  await e.value.close();
  const after = await e.value.infer(makeWindow(3), sensors);
  assert.equal(!after.ok && after.code, 'EDGELOOP_ERR_ONNX_RUN');
});
