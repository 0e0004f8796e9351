import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalRow,
  classOrder,
  type DatasetRow,
  groupedFolds,
  partitionDigest,
  splitDataset,
  validateRows,
} from '../../collector/training/dataset.ts';
import { deriveSeed, Prng, shuffled } from '../../shared/random.ts';
import { syntheticRows } from '../../collector/training/synthetic.ts';

const rows = syntheticRows({ seed: 3, devices: 4, minutes: 10, rowsPerGroup: 3 });

test('the split is grouped: no device-minute lands on both sides, and every row is kept', () => {
  const r = splitDataset(rows, 7, 0.25);
  assert.ok(r.ok);
  const trainGroups = new Set(r.value.train.rows.map((x) => x.group));
  const testGroups = new Set(r.value.test.rows.map((x) => x.group));
  for (const g of testGroups) assert.ok(!trainGroups.has(g), `group ${g} on both sides`);
  assert.equal(r.value.train.count + r.value.test.count, rows.length);
  assert.ok(r.value.test.count > 0 && r.value.train.count > 0);
  // Stratified: every class with two or more groups has some test rows.
  for (const label of classOrder(rows)) {
    const groupsOfLabel = new Set(rows.filter((x) => x.label === label).map((x) => x.group));
    if (groupsOfLabel.size >= 2)
      assert.ok((r.value.test.classCounts[label] ?? 0) > 0, `${label} missing from test`);
  }
});

test('same data and seed give the same digests; row order does not matter; another seed differs', () => {
  const a = splitDataset(rows, 11, 0.2);
  const b = splitDataset(shuffled(rows, new Prng(99)), 11, 0.2);
  const c = splitDataset(rows, 12, 0.2);
  assert.ok(a.ok && b.ok && c.ok);
  assert.match(a.value.train.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(a.value.train.digest, b.value.train.digest);
  assert.equal(a.value.test.digest, b.value.test.digest);
  assert.notEqual(a.value.test.digest, c.value.test.digest);
});

test('the digest sees every field: a one-ulp feature change or a relabel changes it', () => {
  const base = rows.slice(0, 5);
  const d0 = partitionDigest(base);
  const first = base[0]!;
  const nudged: DatasetRow = {
    ...first,
    features: first.features.map((v, j) => (j === 0 ? v + Math.abs(v) * 2 ** -52 + Number.MIN_VALUE : v)),
  };
  assert.notEqual(partitionDigest([nudged, ...base.slice(1)]), d0);
  assert.notEqual(partitionDigest([{ ...first, label: 'other' }, ...base.slice(1)]), d0);
  assert.equal(partitionDigest(base), d0);
  // Canonical text: shortest round-trip numbers, -0 as 0, quoted keys.
  assert.equal(
    canonicalRow({ features: [-0, 0.1, 1e21], label: 'a', group: 'g"1', time: 5 }),
    '"g\\"1"\t"a"\t5\t0,0.1,1e+21',
  );
});

test('validation rejects empty, ragged, non-finite and single-class data with a code', () => {
  assert.equal(validateRows([]).ok, false);
  const r1 = validateRows([rows[0]!, { ...rows[1]!, features: [1] }]);
  assert.ok(!r1.ok && r1.code === 'EDGELOOP_ERR_TRAINING_DATA');
  const r2 = validateRows([{ ...rows[0]!, features: rows[0]!.features.map(() => Number.NaN) }, rows[1]!]);
  assert.ok(!r2.ok && r2.code === 'EDGELOOP_ERR_TRAINING_DATA');
  const one = rows.filter((x) => x.label === rows[0]!.label);
  const r3 = splitDataset(one, 1, 0.2);
  assert.ok(!r3.ok && r3.code === 'EDGELOOP_ERR_TRAINING_DATA');
  assert.throws(() => splitDataset(rows, 1, 1.5), /testFraction/);
});

test('a split with too few groups fails with EDGELOOP_ERR_TRAINING_SPLIT', () => {
  const two: DatasetRow[] = [
    { features: [1], label: 'normal', group: 'a@1', time: 0 },
    { features: [2], label: 'imbalance', group: 'b@1', time: 0 },
  ];
  const r = splitDataset(two, 1, 0.5);
  assert.ok(!r.ok);
  assert.equal(r.code, 'EDGELOOP_ERR_TRAINING_SPLIT');
});

test('validation folds are grouped and seeded', () => {
  const f1 = groupedFolds(rows, 3, 5);
  const f2 = groupedFolds(rows, 3, 5);
  assert.ok(f1.ok && f2.ok);
  assert.deepEqual(f1.value, f2.value);
  const foldOfGroup = new Map<string, number>();
  rows.forEach((r, i) => {
    const k = f1.value[i]!;
    const prev = foldOfGroup.get(r.group);
    if (prev !== undefined) assert.equal(prev, k, `group ${r.group} split across folds`);
    foldOfGroup.set(r.group, k);
  });
  assert.deepEqual([...new Set(f1.value)].sort(), [0, 1, 2]);
  const tooMany = groupedFolds(rows.slice(0, 3), 3, 5);
  assert.ok(!tooMany.ok && tooMany.code === 'EDGELOOP_ERR_TRAINING_SPLIT');
});

test('class order puts the known machine states first, in their fixed order', () => {
  const r: DatasetRow[] = ['zeta', 'overheating', 'normal', 'alpha'].map((label) => ({
    features: [0],
    label,
    group: label,
    time: 0,
  }));
  assert.deepEqual(classOrder(r), ['normal', 'overheating', 'alpha', 'zeta']);
});

test('derived seeds are stable and distinct per path', () => {
  assert.equal(deriveSeed(1, 'trial', 0), deriveSeed(1, 'trial', 0));
  assert.notEqual(deriveSeed(1, 'trial', 0), deriveSeed(1, 'trial', 1));
  assert.notEqual(deriveSeed(1, 'trial', 0), deriveSeed(2, 'trial', 0));
  const p = new Prng(1);
  const xs = Array.from({ length: 1000 }, () => p.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(xs.reduce((s, v) => s + v, 0) / 1000 - 0.5) < 0.05);
});
