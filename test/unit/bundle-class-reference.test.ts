import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binIndex,
  buildReferenceProfile,
  classLabels,
  classReference,
  encodeReferenceProfile,
  parseReferenceProfile,
  type ReferenceProfile,
} from '../../shared/bundle/reference.ts';

// Two machine states with different levels, interleaved per "device": the pooled profile mixes them.
const a = [1, 2, 3, 4, 5, 6];
const b = [100, 101, 102, 103, 104, 105, NaN];
const values = [...a, ...b];
const labels = [...a.map(() => 'normal'), ...b.map(() => 'imbalance')];

function built(): ReferenceProfile {
  const r = buildReferenceProfile(
    [
      { name: 'x', values },
      { name: 'y', values: values.map((v) => -v) },
    ],
    {
      bins: 4,
      labels,
      classSampleSize: 3,
    },
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.value;
}

test('with labels, each class gets its own statistics on the pooled bins', () => {
  const p = built();
  assert.deepEqual(classLabels(p), ['imbalance', 'normal']);
  const normal = classReference(p, 'normal');
  assert.ok(normal !== undefined);
  const x = normal.get('x');
  assert.ok(x !== undefined);
  assert.equal(x.count, 6);
  assert.equal(x.mean, 3.5);
  assert.equal(x.min, 1);
  assert.equal(x.max, 6);
  assert.equal(x.mad, 1.5); // median 3.5, |dev| .5,.5,1.5,1.5,2.5,2.5 -> 1.5
  assert.deepEqual(x.sample, [2, 4, 6]); // order statistics at floor((i + 0.5) * 6 / 3) = 1, 3, 5
  const pooled = p.features[0]!;
  assert.deepEqual(x.binEdges, pooled.binEdges, 'the pooled edges, so PSI is comparable');
  assert.equal(x.counts.length, pooled.counts.length);
  // Every class value falls in the bin binIndex gives on the pooled edges; classes add up to the pool.
  const imb = classReference(p, 'imbalance')!.get('x')!;
  assert.equal(imb.nonFinite, 1);
  assert.deepEqual(
    pooled.counts,
    x.counts.map((c, k) => c + imb.counts[k]!),
  );
  assert.equal(x.counts[binIndex(pooled.binEdges, 1)]! > 0, true);
  assert.equal(
    p.classes!.reduce((s, c) => s + c.rows, 0),
    p.rows,
  );
  assert.equal(classReference(p, 'overheating'), undefined);
  assert.equal(classReference(p, 'normal'), normal, 'built once per profile and label');
});

test('without labels the profile has no classes and parses as before', () => {
  const r = buildReferenceProfile([{ name: 'x', values }]);
  assert.ok(r.ok);
  assert.equal('classes' in r.value, false);
  assert.equal(classReference(r.value, 'normal'), undefined);
  assert.deepEqual(classLabels(r.value), []);
  // An old file (no classes key) still parses, and a new one round-trips byte for byte.
  const old = parseReferenceProfile(encodeReferenceProfile(r.value));
  assert.ok(old.ok);
  const p = built();
  const back = parseReferenceProfile(encodeReferenceProfile(p));
  assert.ok(back.ok, back.ok ? '' : back.message);
  assert.deepEqual(back.value, p);
});

test('inconsistent class profiles are refused', () => {
  const p = built();
  const bad = (mutate: (q: ReferenceProfile) => void): string => {
    const q = structuredClone(p);
    mutate(q);
    const r = parseReferenceProfile(q);
    return r.ok ? 'ok' : r.code;
  };
  assert.equal(
    bad(() => undefined),
    'ok',
  );
  assert.equal(
    bad((q) => q.classes![0]!.features.reverse()),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  assert.equal(
    bad((q) => q.classes![0]!.features[0]!.counts.push(0)),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  assert.equal(
    bad((q) => (q.classes![1]!.label = q.classes![0]!.label)),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  assert.equal(
    bad((q) => (q.classes![0]!.rows += 1)),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  assert.equal(
    bad((q) => q.classes![0]!.features[0]!.sample.reverse()),
    'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
  );
  const short = buildReferenceProfile([{ name: 'x', values }], { labels: ['normal'] });
  assert.equal(short.ok ? 'ok' : short.code, 'EDGELOOP_ERR_CONFIG_INVALID');
  const big = buildReferenceProfile([{ name: 'x', values }], { labels, classSampleSize: 5000 });
  assert.equal(big.ok ? 'ok' : big.code, 'EDGELOOP_ERR_CONFIG_INVALID');
});

test('class sample points keep float32 resolution (7 significant digits), statistics keep full precision', () => {
  const r = buildReferenceProfile([{ name: 'x', values: [1 / 3, 2 / 3] }], { labels: ['a', 'a'] });
  assert.ok(r.ok);
  const x = classReference(r.value, 'a')!.get('x')!;
  assert.deepEqual(x.sample, [0.3333333, 0.6666667]);
  assert.equal(x.mean, 0.5);
  assert.equal(x.min, 1 / 3);
});
