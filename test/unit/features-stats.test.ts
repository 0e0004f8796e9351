// Known-signal checks of the time-domain statistics and the spectral bands (docs/features.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeStats } from '../../shared/features/moments.ts';
import { bandEdgesHz, nextPow2, SpectrumWorkspace } from '../../shared/features/spectrum.ts';
import { Prng } from '../../shared/random.ts';

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

/** Seeded standard normal noise (the shared PRNG), so the noise tests are reproducible. */
function gaussian(n: number, seed: number): Float64Array {
  const p = new Prng(seed);
  return Float64Array.from({ length: n }, () => p.gaussian());
}

function sine(n: number, rateHz: number, freqHz: number, amplitude: number, offset = 0): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = offset + amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz);
  return x;
}

test('a sine of amplitude A: rms A/√2, crest √2, kurtosis 1.5, skewness 0', () => {
  const A = 2.5;
  // 50 Hz at 1 kHz: whole periods, and a sample lands on every crest, so the identities are exact.
  const s = timeStats(sine(1000, 1000, 50, A), 1000);
  close(s.mean, 0, 1e-12, 'mean');
  close(s.rms, A / Math.SQRT2, 1e-12, 'rms');
  close(s.std, A / Math.SQRT2, 1e-12, 'std');
  close(s.crestFactor, Math.SQRT2, 1e-12, 'crest');
  close(s.kurtosis, 1.5, 1e-12, 'kurtosis');
  close(s.skewness, 0, 1e-12, 'skewness');
  close(s.peakToPeak, 2 * A, 1e-12, 'p2p');
});

test('moments survive a large offset (two-pass, not Σx² − nμ²)', () => {
  const base = sine(1000, 1000, 50, 0.01);
  const offset = sine(1000, 1000, 50, 0.01, 1e7);
  const a = timeStats(base, 1000);
  const b = timeStats(offset, 1000);
  close(b.std, a.std, 1e-9, 'std with offset');
  close(b.kurtosis, 1.5, 1e-4, 'kurtosis with offset');
  close(b.mean, 1e7, 1e-6, 'mean');
});

test('a constant signal has std, skewness and kurtosis 0; crest 0 when rms is 0', () => {
  const c = new Float64Array(1000).fill(0.1);
  const s = timeStats(c, 1000);
  assert.equal(s.mean, 0.1);
  assert.equal(s.std, 0);
  assert.equal(s.skewness, 0);
  assert.equal(s.kurtosis, 0);
  assert.equal(s.peakToPeak, 0);
  close(s.crestFactor, 1, 1e-12, 'crest of a constant');
  const z = timeStats(new Float64Array(10), 10);
  assert.equal(z.rms, 0);
  assert.equal(z.crestFactor, 0);
  const one = timeStats(Float64Array.of(-3), 1);
  assert.deepEqual([one.mean, one.std, one.min, one.max, one.last, one.kurtosis], [-3, 0, -3, -3, -3, 0]);
});

test('Gaussian noise has kurtosis ≈ 3 and skewness ≈ 0; min/max/last are reported', () => {
  const x = gaussian(200_000, 7);
  const s = timeStats(x, x.length);
  close(s.kurtosis, 3, 0.05, 'kurtosis');
  close(s.skewness, 0, 0.03, 'skewness');
  close(s.std, 1, 0.01, 'std');
  assert.equal(s.last, x[x.length - 1]);
  assert.ok(s.min < -3 && s.max > 3);
});

test('band edges: log has band 0 below bandMinHz and ends at Nyquist; linear is even', () => {
  const log = bandEdgesHz({ bands: 8, bandScale: 'log', bandMinHz: 5 }, 500);
  assert.equal(log.length, 9);
  assert.equal(log[0], 0);
  assert.equal(log[1], 5);
  assert.equal(log[8], 500);
  for (let b = 1; b < 8; b++) close(log[b + 1]! / log[b]!, Math.pow(100, 1 / 7), 1e-9, `log ratio ${b}`);
  const lin = bandEdgesHz({ bands: 4, bandScale: 'linear', bandMinHz: 5 }, 50);
  assert.deepEqual(Array.from(lin), [0, 12.5, 25, 37.5, 50]);
  assert.deepEqual(
    [nextPow2(1), nextPow2(2), nextPow2(1000), nextPow2(1024), nextPow2(1025)],
    [2, 2, 1024, 1024, 2048],
  );
});

for (const scale of ['log', 'linear'] as const) {
  test(`a pure tone lands its energy in its own band (${scale} bands)`, () => {
    const ws = new SpectrumWorkspace();
    const rate = 1000;
    const edges = bandEdgesHz({ bands: 8, bandScale: scale, bandMinHz: 5 }, rate / 2);
    const out = new Float64Array(8);
    for (let b = 0; b < 8; b++) {
      // A tone in the middle of the band (geometric middle for log bands above band 0), off the bin grid.
      const lo = edges[b]!;
      const hi = edges[b + 1]!;
      const f = scale === 'log' && b > 0 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
      if (f < 2) continue; // band 0 of the log scale: under 2 Hz a 1 s window holds under 2 periods
      const x = sine(1000, rate, f, 1.7, 3);
      ws.bandValues(x, 1000, timeStats(x, 1000).mean, rate, edges, 'fraction', out, 0);
      const best = out.indexOf(Math.max(...out));
      assert.equal(
        best,
        b,
        `tone at ${f.toFixed(2)} Hz went to band ${best}, not ${b}: ${Array.from(out).join(', ')}`,
      );
      assert.ok(out[b]! > 0.95, `tone at ${f.toFixed(2)} Hz: only ${out[b]} of its energy in band ${b}`);
      close(
        out.reduce((a, v) => a + v, 0),
        1,
        1e-9,
        'fractions sum',
      );
    }
  });
}

test("'power' bands sum to the mean-square of the mean-removed signal (A²/2 for a sine), in unit²", () => {
  const ws = new SpectrumWorkspace();
  const edges = bandEdgesHz({ bands: 8, bandScale: 'linear', bandMinHz: 5 }, 500);
  const out = new Float64Array(8);
  const A = 3;
  const x = sine(1000, 1000, 123.4, A, 10);
  ws.bandValues(x, 1000, timeStats(x, 1000).mean, 1000, edges, 'power', out, 0);
  close(
    out.reduce((a, v) => a + v, 0),
    (A * A) / 2,
    0.02 * ((A * A) / 2),
    'total power',
  );
  assert.ok(out[1]! > 0.95 * ((A * A) / 2), '123.4 Hz is in linear band 1 (62.5..125 Hz)');
});

test('white noise spreads its energy over all linear bands', () => {
  const ws = new SpectrumWorkspace();
  const edges = bandEdgesHz({ bands: 8, bandScale: 'linear', bandMinHz: 5 }, 500);
  const out = new Float64Array(8);
  const acc = new Float64Array(8);
  const windows = 20;
  for (let w = 0; w < windows; w++) {
    const x = gaussian(1000, 100 + w);
    ws.bandValues(x, 1000, timeStats(x, 1000).mean, 1000, edges, 'fraction', out, 0);
    for (let b = 0; b < 8; b++) acc[b] = acc[b]! + out[b]! / windows;
  }
  for (let b = 0; b < 8; b++) close(acc[b]!, 1 / 8, 0.03, `band ${b} share`);
});

test('fewer than 4 samples or a constant signal give all-zero bands', () => {
  const ws = new SpectrumWorkspace();
  const edges = bandEdgesHz({ bands: 8, bandScale: 'log', bandMinHz: 5 }, 500);
  const out = new Float64Array(8).fill(9);
  ws.bandValues(Float64Array.of(1, 2, 3), 3, 2, 1000, edges, 'fraction', out, 0);
  assert.deepEqual(Array.from(out), new Array<number>(8).fill(0));
  out.fill(9);
  ws.bandValues(new Float64Array(1000).fill(4), 1000, 4, 1000, edges, 'fraction', out, 0);
  assert.deepEqual(Array.from(out), new Array<number>(8).fill(0));
});
