// The drift methods on seeded synthetic data (issue #9 §8): i.i.d. and AR(1) φ = 0.9 data with no shift
// are rarely flagged (where the naive i.i.d. KS test flags most AR(1) windows), a 0.3σ shift is flagged
// at 1k, 10k and 100k samples, a 0.02σ shift at 100k is not (the physical floor), too little data says
// insufficient_data, and a bundle's reference profile works as the reference. Generous margins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateColumn } from '../../collector/drift/evaluate.ts';
import {
  currentFromColumn,
  referenceFromColumn,
  referenceFromProfile,
} from '../../collector/drift/reference.ts';
import { driftDefaults, type ColumnResult } from '../../collector/drift/types.ts';
import { buildReferenceProfile } from '../../shared/bundle/reference.ts';
import { fillAr1, Prng } from '../../shared/random.ts';

function ar1(rng: Prng, n: number, phi: number, shift = 0): Float64Array {
  const out = fillAr1(rng, new Float64Array(n), phi);
  if (shift !== 0) for (let i = 0; i < n; i++) out[i] = (out[i] as number) + shift;
  return out;
}

function windows(seed: number, phi: number, m: number, shift: number, count: number, refRows = 100_000) {
  const rng = new Prng(seed, `drift-test:${phi}:${m}:${shift}`);
  const ref = referenceFromColumn('x', ar1(rng, refRows, phi), { currentRows: m });
  const out: ColumnResult[] = [];
  for (let i = 0; i < count; i++)
    out.push(evaluateColumn(ref, currentFromColumn('x', ar1(rng, m, phi, shift)), driftDefaults));
  return out;
}
const flagged = (rs: readonly ColumnResult[]): number => rs.filter((r) => r.verdict === 'drift').length;
const naiveKs = (rs: readonly ColumnResult[]): number =>
  rs.filter((r) => (r.methods.find((m) => m.method === 'ks')?.evidence.pValueIid ?? 1) <= 0.05).length;

test('i.i.d. Gaussian with no shift: at most 5% of 1k windows flagged', () => {
  const rs = windows(11, 0, 1000, 0, 200);
  assert.ok(flagged(rs) <= 10, `${flagged(rs)} of 200`);
  assert.ok(rs.every((r) => r.verdict !== 'insufficient_data'));
});

test('AR(1) φ = 0.9 with no shift: at most 5% of 1k windows flagged, where naive KS flags over half', () => {
  const rs = windows(12, 0.9, 1000, 0, 200);
  assert.ok(flagged(rs) <= 10, `${flagged(rs)} of 200`);
  assert.ok(naiveKs(rs) >= 100, `naive KS ${naiveKs(rs)} of 200`);
  const r = rs[0] as ColumnResult;
  assert.ok(r.nEff < 0.1 * r.n, `n_eff ${r.nEff} of ${r.n}`);
});

test('a 0.3σ mean shift is flagged at 1k, 10k and 100k samples', () => {
  const r1 = windows(13, 0, 1000, 0.3, 40);
  assert.ok(flagged(r1) >= 38, `1k: ${flagged(r1)} of 40`);
  const r10 = windows(14, 0, 10_000, 0.3, 10);
  assert.equal(flagged(r10), 10);
  const r100 = windows(15, 0, 100_000, 0.3, 3);
  assert.equal(flagged(r100), 3);
  // Autocorrelated data needs more samples for the same evidence, but 10k are plenty.
  const ar = windows(16, 0.9, 10_000, 0.3, 10);
  assert.ok(flagged(ar) >= 9, `AR(1) 10k: ${flagged(ar)} of 10`);
});

test('a 0.02σ shift at 100k samples is not flagged: the physical floor decides, though KS p says significant', () => {
  const rs = windows(17, 0, 100_000, 0.02, 3);
  assert.equal(flagged(rs), 0);
  for (const r of rs) {
    const ks = r.methods.find((m) => m.method === 'ks');
    assert.ok(ks?.threshold?.origin === 'physical-floor', JSON.stringify(ks?.threshold));
    const w1 = r.methods.find((m) => m.method === 'wasserstein');
    assert.equal(w1?.threshold?.origin, 'physical-floor');
  }
  assert.ok(naiveKs(rs) >= 2, `naive KS flags ${naiveKs(rs)} of 3`);
});

test('too little data is insufficient_data, not a verdict', () => {
  const short = windows(18, 0, 50, 0, 1)[0] as ColumnResult;
  assert.equal(short.verdict, 'insufficient_data');
  assert.ok(short.methods.every((m) => m.verdict === 'insufficient_data' && m.note !== undefined));
  // 300 samples of φ = 0.95 data are worth about 8 independent ones.
  const rng = new Prng(19, 'few-eff');
  const ref = referenceFromColumn('x', ar1(rng, 20_000, 0.95), { currentRows: 300 });
  const r = evaluateColumn(ref, currentFromColumn('x', ar1(rng, 300, 0.95)), driftDefaults);
  assert.equal(r.verdict, 'insufficient_data');
  // A reference too short to calibrate on chunks.
  const tiny = referenceFromColumn('x', ar1(rng, 150, 0), { currentRows: 1000 });
  const t = evaluateColumn(tiny, currentFromColumn('x', ar1(rng, 1000, 0)), driftDefaults);
  assert.equal(t.methods.find((m) => m.method === 'wasserstein')?.verdict, 'insufficient_data');
});

test("a bundle's reference profile works as the reference: no alarm without a shift, 0.3σ flagged", () => {
  const rng = new Prng(20, 'profile');
  const built = buildReferenceProfile([{ name: 'x', values: ar1(rng, 50_000, 0.9) }]);
  assert.ok(built.ok);
  const f = built.value.features[0];
  assert.ok(f !== undefined);
  let falseAlarms = 0;
  let hits = 0;
  for (let i = 0; i < 40; i++) {
    const ref = referenceFromProfile(f, built.value.chunkScores, { currentRows: 5000 });
    const quiet = evaluateColumn(ref, currentFromColumn('x', ar1(rng, 5000, 0.9)), driftDefaults);
    if (quiet.verdict === 'drift') falseAlarms++;
    const shifted = evaluateColumn(ref, currentFromColumn('x', ar1(rng, 5000, 0.9, 0.3)), driftDefaults);
    if (shifted.verdict === 'drift') hits++;
    if (i === 0) {
      const origins = quiet.methods.map((m) => m.threshold?.origin);
      assert.ok(origins.includes('ar1-surrogate') || origins.includes('physical-floor'), origins.join());
      assert.equal(quiet.reference.source, 'bundle');
    }
  }
  assert.ok(falseAlarms <= 4, `${falseAlarms} false alarms of 40`);
  assert.ok(hits >= 30, `${hits} of 40 shifts flagged`);
});
