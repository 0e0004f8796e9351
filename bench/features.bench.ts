// Feature pipeline cost for one 1 s window of the reference board (1000/1000/100/1/10/1 samples per
// channel), against a bare loop that computes only mean and std over the same arrays in the same run.
// Run: node --import tsx bench/features.bench.ts
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { referenceSensors } from '../shared/sensors.ts';
import type { Window } from '../shared/samples.ts';
import { makeWindow } from '../test/integration/agent-model-fixture.ts';
import { quantile } from 'simple-statistics';
import { cpuMs, median, section, timeRuns } from './lib.ts';

/** The baseline: what any pipeline must at least do, one pass for the mean and one for the std per channel. */
function meanStd(window: Window, out: Float64Array): void {
  let k = 0;
  for (const c of window.channels) {
    const v = c.values;
    const n = v.length;
    let s = 0;
    for (let i = 0; i < n; i++) s += v[i]!;
    const mean = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (v[i]! - mean) ** 2;
    out[k++] = mean;
    out[k++] = Math.sqrt(ss / n);
  }
}

// Every channel full: 29.5 Hz and 59 Hz tones plus seeded noise (the agent model tests' window).
const window = makeWindow(0, 42);
const pipeline = createFeaturePipeline();
const features = pipeline.featureNames(referenceSensors).length;
const baseOut = new Float64Array(2 * window.channels.length);
let sink = 0;

const runs = 2000;
const fullMs = await timeRuns(() => (sink += pipeline.compute(window, referenceSensors)[0]!), runs, 200);
const baseMs = await timeRuns(
  () => {
    meanStd(window, baseOut);
    sink += baseOut[0]!;
  },
  runs,
  200,
);

// CPU time over a batch, not wall time: on a shared box this is the figure that maps to "share of a core".
const batch = 500;
const fullCpu = await cpuMs(() => {
  for (let i = 0; i < batch; i++) sink += pipeline.compute(window, referenceSensors)[0]!;
});
const baseCpu = await cpuMs(() => {
  for (let i = 0; i < batch; i++) {
    meanStd(window, baseOut);
    sink += baseOut[0]!;
  }
});

const fullMed = median(fullMs);
const baseMed = median(baseMs);
const samples = window.channels.reduce((a, c) => a + c.values.length, 0);
process.stdout.write(
  section(
    'Feature pipeline',
    'node --import tsx bench/features.bench.ts',
    [
      {
        metric: 'time per 1 s reference window',
        median: fullMed * 1000,
        baseline: baseMed * 1000,
        unit: 'µs',
      },
      {
        metric: 'time per window, p99',
        median: quantile(fullMs, 0.99),
        baseline: quantile(baseMs, 0.99),
        unit: 'ms',
      },
      { metric: 'windows per second (one core)', median: 1000 / fullMed, baseline: 1000 / baseMed },
      {
        metric: 'share of one core at 1 window/s (CPU time)',
        median: `${((fullCpu.cpuMs / batch / 1000) * 100).toPrecision(3)} %`,
        baseline: `${((baseCpu.cpuMs / batch / 1000) * 100).toPrecision(3)} %`,
        ratio: `${(fullCpu.cpuMs / baseCpu.cpuMs).toPrecision(3)}x`,
      },
      { metric: 'features per window', median: features, baseline: baseOut.length, ratio: '' },
    ],
    [
      `One window is ${window.channels.length} channels, ${samples} samples (accel and gyro 3 × 1000, mag 3 × 100, humidity 1, pressure 10, temperature 1), pipeline ${pipeline.id} with default params (paramsHash ${pipeline.paramsHash.slice(0, 12)}…).`,
      `Median and p99 over ${runs} timed calls after 200 warm-up calls; the baseline is a bare two-pass mean and std over the same arrays. The full pipeline adds skewness, kurtosis, crest factor, three magnitude series and 12 FFTs (fft.js, 1024 and 128 points).`,
      `(checksum ${sink.toPrecision(3)})`,
    ],
  ),
);
