import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binIndex,
  buildReferenceProfile,
  encodeReferenceProfile,
  parseReferenceProfile,
  psi,
  summarizeReference,
} from '../../shared/bundle/reference.ts';
import { Prng } from '../../shared/random.ts';

function ar1(n: number, phi: number, seed: number): number[] {
  // Seeded (the shared PRNG), so the test data is the same on every run.
  const p = new Prng(seed);
  const out: number[] = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    x = phi * x + p.gaussian();
    out.push(x);
  }
  return out;
}

test('binIndex counts edges strictly below the value', () => {
  const edges = [0, 1, 2];
  assert.deepEqual(
    [-1, 0, 0.5, 1, 2, 3].map((x) => binIndex(edges, x)),
    [0, 0, 1, 1, 2, 3],
  );
  assert.equal(binIndex([], 5), 0);
});

test('reference statistics match hand-computed values', () => {
  const values = [1, 2, 3, 4, 100];
  const r = buildReferenceProfile([{ name: 'f', values }], { bins: 4, sampleSize: 3, chunkRows: 2 });
  assert.ok(r.ok, r.ok ? '' : r.message);
  const f = r.value.features[0]!;
  assert.equal(f.count, 5);
  assert.equal(f.mean, 22);
  assert.equal(f.min, 1);
  assert.equal(f.max, 100);
  assert.equal(f.mad, 1); // median 3, |dev| = 2,1,0,1,97 -> median 1
  assert.ok(Math.abs(f.std - Math.sqrt((21 ** 2 + 20 ** 2 + 19 ** 2 + 18 ** 2 + 78 ** 2) / 5)) < 1e-12);
  assert.deepEqual(f.binEdges, [2, 3, 4]);
  assert.deepEqual(f.counts, [2, 1, 1, 1]);
  assert.deepEqual(f.sample, [1, 3, 100]);
  assert.equal(
    r.value.chunkScores[0]!.scores.length,
    2,
    'two full chunks of 2 rows, the fifth row is left out',
  );
});

test('lag-1 autocorrelation tracks an AR(1) coefficient; non-finite values are counted apart', () => {
  const values = ar1(5000, 0.9, 42);
  values[10] = NaN;
  const r = buildReferenceProfile([{ name: 'x', values }]);
  assert.ok(r.ok);
  const f = r.value.features[0]!;
  assert.equal(f.nonFinite, 1);
  assert.equal(f.count, 4999);
  assert.ok(Math.abs(f.lag1Autocorr - 0.9) < 0.05, `lag1 ${f.lag1Autocorr}`);
  assert.equal(f.sample.length, 2000);
  assert.ok(f.sample.every((v, i) => i === 0 || f.sample[i - 1]! <= v));
  assert.equal(
    f.counts.reduce((a, b) => a + b, 0),
    4999,
  );
});

test('PSI is zero for identical distributions and grows with a shift', () => {
  assert.equal(psi([10, 10, 10], [5, 5, 5]), 0);
  assert.ok(psi([10, 10, 10], [1, 5, 24]) > 0.2);
});

test('the profile file round-trips and the summary names its features', () => {
  const r = buildReferenceProfile([
    { name: 'a', values: ar1(300, 0.5, 1) },
    { name: 'b', values: ar1(300, 0.5, 2) },
  ]);
  assert.ok(r.ok);
  const back = parseReferenceProfile(encodeReferenceProfile(r.value));
  assert.ok(back.ok);
  assert.deepEqual(back.value, r.value);
  assert.deepEqual(summarizeReference(r.value), {
    path: 'reference.json',
    rows: 300,
    features: ['a', 'b'],
    bins: 10,
    chunkMethods: ['psi'],
  });
});

test('bad reference input is a failure value', () => {
  const uneven = buildReferenceProfile([
    { name: 'a', values: [1, 2] },
    { name: 'b', values: [1] },
  ]);
  assert.equal(uneven.ok ? 'ok' : uneven.code, 'EDGELOOP_ERR_CONFIG_INVALID');
  assert.equal(buildReferenceProfile([]).ok, false);
  const bad = parseReferenceProfile({
    schemaVersion: 1,
    rows: 1,
    features: [{ name: 'a' }],
    chunkScores: [],
  });
  assert.equal(bad.ok ? 'ok' : bad.code, 'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID');
});
