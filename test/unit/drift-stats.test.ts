// The drift statistics' building blocks against values known in closed form, and the numeric CSV parser
// against Number() and against input split at every awkward place (collector/drift/, docs/drift.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NumericCsvParser } from '../../collector/drift/csv.ts';
import { cusumLimit, siegmundArl } from '../../collector/drift/cusum.ts';
import { sortedCopy } from '../../collector/drift/sort.ts';
import {
  ar1MeanInflation,
  effectiveN,
  kolmogorovTail,
  ksCriticalD,
  ksPValue,
  ksStatistic,
  lag1Autocorr,
  wasserstein1,
} from '../../collector/drift/stats.ts';
import { Prng } from '../../shared/random.ts';

const sorted = (xs: number[]): Float64Array => Float64Array.from(xs).sort();

test('W1 of a sample and the same sample shifted by d is d; KS D counts the ECDF gap', () => {
  const rng = new Prng(3, 'w1');
  const a = sorted(Array.from({ length: 500 }, () => rng.gaussian()));
  assert.ok(
    Math.abs(
      wasserstein1(
        a,
        a.map((v) => v + 0.25),
      ) - 0.25,
    ) < 1e-9,
  );
  assert.equal(wasserstein1(a, a), 0);
  assert.equal(ksStatistic(sorted([1, 2, 3, 4]), sorted([3, 4, 5, 6])), 0.5);
  assert.equal(ksStatistic(sorted([1, 2]), sorted([3, 4])), 1);
  assert.equal(ksStatistic(a, a), 0);
});

test('sortedCopy (radix for long arrays) orders exactly as the native sort and leaves its input alone', () => {
  const rng = new Prng(4, 'sort');
  for (const n of [0, 10, 40_000, 100_001]) {
    const xs = Float64Array.from({ length: n }, (_, i) =>
      i % 7 === 0 ? Math.round(rng.gaussian()) : (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 40 - 20),
    );
    if (n > 2) xs[1] = -0;
    const before = Float64Array.from(xs);
    const got = sortedCopy(xs);
    const want = Float64Array.from(xs).sort();
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) assert.ok(Object.is(got[i], want[i]) || got[i] === want[i], `at ${i}`);
    assert.deepEqual(xs, before);
  }
});

test('Kolmogorov tail and critical D match the tabulated values', () => {
  // Q(1.358) = 0.05 and Q(1.628) = 0.01 (Kolmogorov distribution tables).
  assert.ok(Math.abs(kolmogorovTail(1.358) - 0.05) < 1e-3);
  assert.ok(Math.abs(kolmogorovTail(1.628) - 0.01) < 1e-3);
  const d = ksCriticalD(0.05, 1000, 1000);
  assert.ok(Math.abs(ksPValue(d, 1000, 1000) - 0.05) < 1e-6);
  // Fewer effective samples need a larger D for the same p.
  assert.ok(ksCriticalD(0.01, 50, 1e5) > 2 * ksCriticalD(0.01, 1000, 1e5));
});

test('n_eff is n (1 - ρ)/(1 + ρ), clamped so it never exceeds n', () => {
  assert.equal(effectiveN(1000, 0), 1000);
  assert.ok(Math.abs(effectiveN(1900, 0.9) - 100) < 1e-9);
  assert.equal(effectiveN(1000, -0.5), 1000);
  assert.ok(effectiveN(1000, 1) > 0);
  assert.ok(Math.abs(ar1MeanInflation(1e6, 0.9) - 19) < 1e-3);
  assert.equal(ar1MeanInflation(100, 0), 1);
});

test('lag-1 autocorrelation of an AR(1) series estimates φ', () => {
  const rng = new Prng(5, 'lag1');
  const xs = new Float64Array(50_000);
  let x = 0;
  for (let i = 0; i < xs.length; i++) xs[i] = x = 0.9 * x + rng.gaussian();
  assert.ok(Math.abs(lag1Autocorr(xs) - 0.9) < 0.01);
  assert.equal(lag1Autocorr([2, 2, 2]), 0);
});

test('the CUSUM limit reaches the target ARL0 by Siegmund and grows with it', () => {
  const h = cusumLimit(0.5, 500);
  assert.ok(Math.abs(siegmundArl(0.5, h) - 1000) < 1);
  assert.ok(cusumLimit(0.5, 50_000) > h);
  // The textbook pair: k = 0.5, h = 5 gives a one-sided ARL0 near 930.
  assert.ok(Math.abs(siegmundArl(0.5, 5) - 938) < 5);
});

function parse(text: string, cut: number[], wanted: string[] | null = null) {
  const p = new NumericCsvParser('t.csv', wanted);
  const bytes = Buffer.from(text);
  let at = 0;
  for (const c of [...cut, bytes.length]) {
    const bad = p.push(bytes.subarray(at, c));
    if (bad !== null) return bad;
    at = c;
  }
  return p.end();
}

test('the CSV parser gives exactly Number(text) for every cell, however the bytes are split', () => {
  const rng = new Prng(9, 'csv');
  const cells: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 12 - 6);
    const forms = [v.toFixed(5), String(v), v.toExponential(3), v.toPrecision(17), `${Math.round(v)}`];
    cells.push(forms[i % forms.length] as string);
  }
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += 3) rows.push(cells.slice(i, i + 3).join(','));
  const text = `x, y ,"z"\r\n${rows.join('\r\n')}`;
  for (const cut of [[], [1], [7, 8, 9], Array.from({ length: 200 }, (_, i) => i * 97 + 3)]) {
    const r = parse(text, cut);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value.columns, ['x', 'y', 'z']);
    assert.equal(r.value.rows, 1000);
    for (let i = 0; i < cells.length; i++)
      assert.equal(r.value.values[i % 3]?.[Math.floor(i / 3)], Number(cells[i]), cells[i]);
  }
});

test('the CSV parser keeps empty and NaN cells as non-finite, and selects columns', () => {
  const r = parse('a,b,c\n1,,3\nNaN,5,-inf\n.5,6e-2,7\n\n', [5], ['c', 'a']);
  assert.ok(r.ok);
  assert.deepEqual(r.value.columns, ['c', 'a']);
  assert.deepEqual(Array.from(r.value.values[0] ?? []), [3, -Infinity, 7]);
  assert.deepEqual(Array.from(r.value.values[1] ?? []), [1, Number.NaN, 0.5]);
});

test('the CSV parser refuses a non-numeric cell, a ragged row, a missing column, an empty file', () => {
  const bad = parse('a,b\n1,2\n3,x1\n', []);
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'EDGELOOP_ERR_DRIFT_CSV');
  assert.match(bad.message, /line 3, column "b"/);
  const ragged = parse('a,b\n1,2,3\n', []);
  assert.ok(!ragged.ok && ragged.code === 'EDGELOOP_ERR_DRIFT_CSV');
  const dup = parse('a,a\n1,2\n', []);
  assert.ok(!dup.ok && dup.code === 'EDGELOOP_ERR_DRIFT_CSV');
  const missing = parse('a,b\n1,2\n', [], ['c']);
  assert.ok(!missing.ok && missing.code === 'EDGELOOP_ERR_DRIFT_COLUMN_MISSING');
  for (const text of ['', 'a,b\n', '\n\n']) {
    const r = parse(text, []);
    assert.ok(!r.ok && r.code === 'EDGELOOP_ERR_DRIFT_CSV_EMPTY', text);
  }
  for (const cell of ['1e', '--1', '1.2.3', '0x10', 'abc']) {
    const r = parse(`a\n${cell}\n`, []);
    assert.ok(!r.ok && r.code === 'EDGELOOP_ERR_DRIFT_CSV', cell);
  }
});
