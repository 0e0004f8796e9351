// Windowing and integrity cost for the reference board (13 channels: 6 at 1 kHz, 3 at 100 Hz, 3 slow),
// per second of device time, against a bare loop that reads every sample value once in the same run.
// Run: node --import tsx bench/windowing.bench.ts
import { Windower, type WindowerOptions } from '../shared/windowing/windower.ts';
import { referenceSensors } from '../shared/sensors.ts';
import type { SampleBlock } from '../shared/samples.ts';
import { median, section, timeRuns } from './lib.ts';

const seconds = 60;

/** 60 s of device blocks (50 ms per block), values AR(1) noise plus vibration, in arrival order. */
function blocks(): SampleBlock[] {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const out: { ready: number; block: SampleBlock }[] = [];
  for (const s of referenceSensors) {
    const period = 1e6 / s.rateHz;
    const per = Math.max(1, Math.round(s.rateHz * 0.05));
    const total = seconds * s.rateHz;
    const state = s.axes.map(() => 0);
    for (let i = 0; i < total; i += per) {
      const count = Math.min(per, total - i);
      const values = new Float64Array(count * s.axes.length);
      for (let j = 0; j < count; j++) {
        for (let a = 0; a < s.axes.length; a++) {
          state[a] = 0.9 * state[a]! + 0.01 * rand();
          const v = (s.rangeMin + s.rangeMax) / 2 + state[a]! + 0.05 * Math.sin((i + j) * 0.155 + a);
          values[j * s.axes.length + a] = Math.round(v / s.resolution) * s.resolution;
        }
      }
      out.push({
        ready: (i + count - 1) * period,
        block: { sensor: s, firstIndex: i, timestampUs: i * period, periodUs: period, count, values },
      });
    }
  }
  return out.sort((a, b) => a.ready - b.ready).map((x) => x.block);
}

const input = blocks();
let sink = 0;

function runWindower(options: Partial<WindowerOptions>): number {
  const w = new Windower({ deviceId: 'bench', bootId: 1, sensors: referenceSensors, ...options });
  let n = 0;
  for (const b of input) n += w.push(b).length;
  n += w.flush().length;
  return n;
}

const allOff = {
  range: { enabled: false },
  clipping: { enabled: false },
  nan: { enabled: false },
  flatline: { enabled: false },
  spike: { enabled: false },
  gap: { enabled: false },
  jitter: { enabled: false },
  timestamp: { enabled: false },
};

const baseline = median(
  await timeRuns(() => {
    for (const b of input) for (const v of b.values) sink += v;
  }),
);
const windowOnly = median(await timeRuns(() => (sink += runWindower({ integrity: allOff }))));
const full = median(await timeRuns(() => (sink += runWindower({}))));
const overlap = median(await timeRuns(() => (sink += runWindower({ hopMs: 250 }))));

const perS = (ms: number): number => ms / seconds;
process.stdout.write(
  section(
    'Windowing and integrity checks (reference board, 13 channels)',
    'node --import tsx bench/windowing.bench.ts',
    [
      {
        metric: 'windowing only, per device second',
        median: perS(windowOnly),
        baseline: perS(baseline),
        unit: 'ms',
      },
      {
        metric: 'windowing + 8 integrity checks, per device second',
        median: perS(full),
        baseline: perS(baseline),
        unit: 'ms',
      },
      {
        metric: 'same with 250 ms hop (4x overlap)',
        median: perS(overlap),
        baseline: perS(baseline),
        unit: 'ms',
      },
      {
        metric: 'share of one core, 1 s windows',
        median: `${((perS(full) / 1000) * 100).toFixed(2)} %`,
        ratio: '',
      },
    ],
    [
      `Baseline: a bare loop reading every sample value once. ${seconds} s of device data, ${input.length} blocks; medians of 7 runs.`,
    ],
  ),
);
if (sink === 0.5) process.stdout.write(' ');
