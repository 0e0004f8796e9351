// The feature pipeline end to end on Windows of the reference board (docs/features.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createFeaturePipeline,
  featurePipelineId,
  resolveFeaturePipeline,
} from '../../shared/features/pipeline.ts';
import {
  canonicalParamsJson,
  defaultFeatureParams,
  type FeatureParams,
} from '../../shared/features/params.ts';
import { channelNames, referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import type { ChannelWindow, Window } from '../../shared/samples.ts';
import { EdgeloopError } from '../../shared/errors.ts';

type Gen = (channel: string, axis: number, i: number, rateHz: number) => number;

/** A 1 s window of every sensor at its declared rate: 1000/1000/100/1/10/1 samples. */
function makeWindow(
  sensors: readonly SensorDescriptor[],
  gen: Gen,
  opts: { drop?: readonly string[]; count?: Record<string, number> } = {},
): Window {
  const channels: ChannelWindow[] = [];
  for (const s of sensors) {
    channelNames(s).forEach((channel, axis) => {
      if (opts.drop?.includes(channel)) return;
      const expected = Math.round(s.rateHz);
      const n = opts.count?.[channel] ?? expected;
      const values = new Float64Array(n);
      const timestampsUs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        values[i] = gen(channel, axis, i, s.rateHz);
        timestampsUs[i] = (i * 1e6) / s.rateHz;
      }
      channels.push({
        channel,
        sensorId: s.id,
        axis,
        unit: s.unit,
        rateHz: s.rateHz,
        values,
        timestampsUs,
        expected,
        missing: expected - n,
      });
    });
  }
  return {
    deviceId: 'dev-1',
    bootId: 1,
    index: 0,
    startUs: 0,
    endUs: 1e6,
    channels,
    integrity: { status: 'good', channels: {}, flags: [] },
  };
}

/** Plausible board signals: vibration tones plus a little deterministic hash noise, environmental levels. */
const plausible: Gen = (channel, axis, i, rate) => {
  const t = i / rate;
  const noise = (Math.sin(i * 12.9898 + axis * 78.233) * 43758.5453) % 1;
  if (channel.startsWith('accel'))
    return (axis === 2 ? 1 : 0) + 0.2 * Math.sin(2 * Math.PI * 29.5 * t + axis) + 0.01 * noise;
  if (channel.startsWith('gyro')) return 3 * Math.sin(2 * Math.PI * 59 * t + axis) + 0.1 * noise;
  if (channel.startsWith('mag')) return [22, -5, 41][axis]! + 0.3 * noise;
  if (channel === 'humidity') return 45.5;
  if (channel === 'pressure') return 1013.2 + 0.01 * i;
  return 24.25;
};

function byName(names: readonly string[], values: Float32Array): Map<string, number> {
  return new Map(names.map((n, i) => [n, values[i]!]));
}

test('reference sensors at a 1 s window: 192 finite, valid float32 features in a stable order', () => {
  const p = createFeaturePipeline();
  const names = p.featureNames(referenceSensors);
  // 3 three-axis sensors × (3 axes + magnitude) × (7 + 8 bands) + 3 slow sensors × 4.
  assert.equal(names.length, 3 * 4 * 15 + 3 * 4);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  assert.deepEqual(names.slice(0, 16), [
    'accel.x.mean',
    'accel.x.std',
    'accel.x.rms',
    'accel.x.p2p',
    'accel.x.skewness',
    'accel.x.kurtosis',
    'accel.x.crest',
    'accel.x.band0',
    'accel.x.band1',
    'accel.x.band2',
    'accel.x.band3',
    'accel.x.band4',
    'accel.x.band5',
    'accel.x.band6',
    'accel.x.band7',
    'accel.y.mean',
  ]);
  assert.equal(names.indexOf('accel.magnitude.mean'), 45);
  assert.deepEqual(names.slice(-12), [
    'humidity.mean',
    'humidity.min',
    'humidity.max',
    'humidity.last',
    'pressure.mean',
    'pressure.min',
    'pressure.max',
    'pressure.last',
    'temperature.mean',
    'temperature.min',
    'temperature.max',
    'temperature.last',
  ]);

  const w = makeWindow(referenceSensors, plausible);
  assert.deepEqual(
    w.channels.map((c) => c.values.length),
    [1000, 1000, 1000, 1000, 1000, 1000, 100, 100, 100, 1, 10, 1],
  );
  const r = p.computeDetailed(w, referenceSensors);
  assert.ok(r.values instanceof Float32Array);
  assert.equal(r.values.length, names.length);
  assert.equal(r.validCount, names.length);
  assert.deepEqual(r.invalidChannels, []);
  assert.ok(r.values.every(Number.isFinite));
  const f = byName(names, r.values);
  assert.equal(f.get('humidity.mean'), Math.fround(45.5));
  assert.equal(f.get('pressure.min'), Math.fround(1013.2));
  assert.equal(f.get('pressure.last'), Math.fround(1013.2 + 0.09));
  // accel.z carries 1 g of gravity; its 29.5 Hz tone sits in log band 3 (18.6..36 Hz), the 59 Hz gyro
  // tone in band 4 (36..69.5 Hz).
  assert.ok(Math.abs(f.get('accel.z.mean')! - 1) < 0.01);
  assert.ok(f.get('accel.z.band3')! > 0.9, `accel.z.band3 = ${f.get('accel.z.band3')}`);
  assert.ok(f.get('gyro.x.band4')! > 0.9, `gyro.x.band4 = ${f.get('gyro.x.band4')}`);
});

test('magnitude of (1,0,0) is 1 and of (3,4,0) is 5, with no spread', () => {
  const p = createFeaturePipeline();
  const names = p.featureNames(referenceSensors);
  const gen: Gen = (channel, axis) =>
    channel.startsWith('accel') ? [1, 0, 0][axis]! : channel.startsWith('gyro') ? [3, 4, 0][axis]! : 1;
  const f = byName(names, p.compute(makeWindow(referenceSensors, gen), referenceSensors));
  assert.equal(f.get('accel.magnitude.mean'), 1);
  assert.equal(f.get('accel.magnitude.rms'), 1);
  assert.equal(f.get('accel.magnitude.std'), 0);
  assert.equal(f.get('accel.magnitude.kurtosis'), 0);
  assert.equal(f.get('accel.magnitude.band3'), 0, 'a constant has no spectrum');
  assert.equal(f.get('gyro.magnitude.mean'), 5);
  assert.equal(f.get('gyro.magnitude.crest'), 1);
});

test('deterministic: same window, same bytes, across calls and across pipeline instances', () => {
  const w = makeWindow(referenceSensors, plausible);
  const a = createFeaturePipeline();
  const first = a.compute(w, referenceSensors);
  // A different window in between must not leak through the reused scratch buffers.
  a.compute(
    makeWindow(referenceSensors, () => 7, { count: { 'accel.x': 3 } }),
    referenceSensors,
  );
  const again = a.compute(w, referenceSensors);
  const other = createFeaturePipeline({ ...defaultFeatureParams }).compute(w, referenceSensors);
  assert.deepEqual(Buffer.from(again.buffer), Buffer.from(first.buffer));
  assert.deepEqual(Buffer.from(other.buffer), Buffer.from(first.buffer));
});

test('sensor order in the HELLO does not change names or values (sorted by sensor id)', () => {
  const p = createFeaturePipeline();
  const shuffled = [...referenceSensors].reverse();
  assert.deepEqual(p.featureNames(shuffled), p.featureNames(referenceSensors));
  const w = makeWindow(referenceSensors, plausible);
  assert.deepEqual(Array.from(p.compute(w, shuffled)), Array.from(p.compute(w, referenceSensors)));
  const dup = [...referenceSensors, { ...referenceSensors[0]!, name: 'accel2' }];
  assert.throws(
    () => p.featureNames(dup),
    (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID',
  );
});

test('params: frozen, canonical, and feature counts follow them', () => {
  const p = createFeaturePipeline({ bands: 4, magnitude: false });
  assert.ok(Object.isFrozen(p.params));
  assert.equal(p.id, featurePipelineId);
  assert.equal(
    canonicalParamsJson(p.params),
    '{"bandMinHz":5,"bandScale":"log","bandValue":"fraction","bands":4,"fastRateHz":50,"magnitude":false,"magnitudeBands":true,"minCoverage":0.5}',
  );
  assert.equal(p.featureNames(referenceSensors).length, 3 * 3 * (7 + 4) + 3 * 4);
  assert.equal(
    createFeaturePipeline({ magnitudeBands: false }).featureNames(referenceSensors).length,
    3 * 3 * 15 + 3 * 7 + 12,
  );
  // fastRateHz above the magnetometer's 100 Hz turns it into a slow sensor: 4 level features per channel.
  assert.equal(
    createFeaturePipeline({ fastRateHz: 200 }).featureNames(referenceSensors).length,
    2 * 4 * 15 + 4 * 4 + 12,
  );
});

test('paramsHash: stable across runs, the same for explicit defaults, different for every parameter change', () => {
  const base = createFeaturePipeline();
  // A golden value: if this changes, every registered bundle stops matching. Bump the pipeline id instead.
  assert.equal(base.paramsHash, '24fc49a2c96423cd52fe31b49ff505bcf94ed152bc28844e8f9abf4c43c209bb');
  assert.match(base.paramsHash, /^[0-9a-f]{64}$/);
  assert.equal(createFeaturePipeline({ ...defaultFeatureParams }).paramsHash, base.paramsHash);
  assert.deepEqual(base.ref, { id: 'edgeloop-features/v1', paramsHash: base.paramsHash });
  const changes: Partial<FeatureParams>[] = [
    { fastRateHz: 40 },
    { bands: 9 },
    { bandScale: 'linear' },
    { bandMinHz: 4 },
    { bandValue: 'power' },
    { magnitude: false },
    { magnitudeBands: false },
    { minCoverage: 0.25 },
  ];
  assert.equal(changes.length, Object.keys(defaultFeatureParams).length, 'one change per parameter');
  const hashes = new Set([base.paramsHash, ...changes.map((c) => createFeaturePipeline(c).paramsHash)]);
  assert.equal(hashes.size, changes.length + 1);
});

test('bad params are config errors that name the problem', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (e instanceof EdgeloopError) return `${e.code}: ${e.message}`;
      throw e;
    }
    return 'no error';
  };
  assert.match(
    code(() => createFeaturePipeline({ band: 8 } as Partial<FeatureParams>)),
    /UNKNOWN_OPTION: unknown option band \(did you mean bands\?\)/,
  );
  assert.match(
    code(() => createFeaturePipeline({ bands: 0 })),
    /CONFIG_INVALID: .*bands/,
  );
  assert.match(
    code(() => createFeaturePipeline({ bands: 2.5 })),
    /CONFIG_INVALID/,
  );
  assert.match(
    code(() => createFeaturePipeline({ bandMinHz: 30 })),
    /CONFIG_INVALID: .*bandMinHz/,
  );
  assert.match(
    code(() => createFeaturePipeline({ bandScale: 'mel' as 'log' })),
    /CONFIG_INVALID: .*bandScale/,
  );
  assert.match(
    code(() => createFeaturePipeline({ minCoverage: 1.5 })),
    /CONFIG_INVALID/,
  );
  assert.match(
    code(() => createFeaturePipeline({ fastRateHz: Number.NaN })),
    /CONFIG_INVALID/,
  );
});

test('an empty window imputes every feature as 0 and marks all invalid', () => {
  const p = createFeaturePipeline();
  const empty: Window = { ...makeWindow(referenceSensors, plausible), channels: [] };
  const r = p.computeDetailed(empty, referenceSensors);
  assert.equal(r.values.length, 192);
  assert.ok(r.values.every((v) => v === 0));
  assert.ok(r.valid.every((v) => v === 0));
  assert.equal(r.validCount, 0);
  assert.equal(r.invalidChannels.length, 15); // 9 axes + 3 magnitudes + 3 scalars
  const zeroLength = makeWindow(referenceSensors, plausible, {
    count: Object.fromEntries(referenceSensors.flatMap(channelNames).map((c) => [c, 0])),
  });
  assert.equal(p.computeDetailed(zeroLength, referenceSensors).validCount, 0);
});

test('a missing axis invalidates that axis and its magnitude, nothing else', () => {
  const p = createFeaturePipeline();
  const names = p.featureNames(referenceSensors);
  const r = p.computeDetailed(
    makeWindow(referenceSensors, plausible, { drop: ['accel.y'] }),
    referenceSensors,
  );
  assert.deepEqual(r.invalidChannels, ['accel.y', 'accel.magnitude']);
  for (let i = 0; i < names.length; i++) {
    const imputed = names[i]!.startsWith('accel.y.') || names[i]!.startsWith('accel.magnitude.');
    assert.equal(r.valid[i], imputed ? 0 : 1, names[i]);
    if (imputed) assert.equal(r.values[i], 0, names[i]);
  }
  assert.equal(r.validCount, 192 - 30);
});

test('coverage: below minCoverage × expected the channel is imputed; NaN samples do not count', () => {
  const p = createFeaturePipeline();
  const names = p.featureNames(referenceSensors);
  const at = (r: { valid: Uint8Array }, n: string): number => r.valid[names.indexOf(n)]!;
  const low = p.computeDetailed(
    makeWindow(referenceSensors, plausible, { count: { 'gyro.z': 499 } }),
    referenceSensors,
  );
  assert.equal(at(low, 'gyro.z.mean'), 0);
  const half = p.computeDetailed(
    makeWindow(referenceSensors, plausible, { count: { 'gyro.z': 500 } }),
    referenceSensors,
  );
  assert.equal(at(half, 'gyro.z.mean'), 1);

  // Every other gyro.x sample NaN: 500 finite samples remain, and no NaN reaches a feature.
  const nanGen: Gen = (c, a, i, rate) =>
    c === 'gyro.x' && i % 2 === 1 ? Number.NaN : plausible(c, a, i, rate);
  const r = p.computeDetailed(makeWindow(referenceSensors, nanGen), referenceSensors);
  assert.equal(at(r, 'gyro.x.std'), 1);
  assert.equal(at(r, 'gyro.magnitude.std'), 1);
  assert.ok(r.values.every(Number.isFinite));
  const allNaN = p.computeDetailed(
    makeWindow(referenceSensors, (c, a, i, rate) =>
      c === 'humidity' ? Number.NaN : plausible(c, a, i, rate),
    ),
    referenceSensors,
  );
  assert.deepEqual(allNaN.invalidChannels, ['humidity']);
  assert.ok(allNaN.values.every(Number.isFinite));
});

test('values beyond float32 range are imputed rather than sent to the model as Infinity', () => {
  const p = createFeaturePipeline();
  const names = p.featureNames(referenceSensors);
  const r = p.computeDetailed(
    makeWindow(referenceSensors, (c, a, i, rate) => (c === 'temperature' ? 1e300 : plausible(c, a, i, rate))),
    referenceSensors,
  );
  assert.equal(r.valid[names.indexOf('temperature.mean')], 0);
  assert.equal(r.values[names.indexOf('temperature.mean')], 0);
  assert.ok(r.values.every(Number.isFinite));
});

test('a measured (CSV) rate places a tone by its true frequency', () => {
  const p = createFeaturePipeline({ bandScale: 'linear' });
  const names = p.featureNames(referenceSensors);
  // The board really samples at 800 Hz although it declares 1 kHz; a 300 Hz tone belongs in band 4 (250..312.5 Hz).
  const w = makeWindow(referenceSensors, (c, a, i, rate) =>
    c === 'accel.x' ? Math.sin((2 * Math.PI * 300 * i) / 800) : plausible(c, a, i, rate),
  );
  const measured: Window = {
    ...w,
    channels: w.channels.map((c) => (c.channel === 'accel.x' ? { ...c, rateHz: 800 } : c)),
  };
  const f = byName(names, p.compute(measured, referenceSensors));
  assert.ok(f.get('accel.x.band4')! > 0.9, `band4 = ${f.get('accel.x.band4')}`);
});

test('resolveFeaturePipeline accepts a reproducible ref and refuses the rest with stable codes', () => {
  const trained = createFeaturePipeline({ bands: 6 });
  const okRef = resolveFeaturePipeline(trained.ref, { bands: 6 });
  assert.equal(okRef.ok && okRef.value.paramsHash, trained.paramsHash);
  const wrongParams = resolveFeaturePipeline(trained.ref);
  assert.equal(!wrongParams.ok && wrongParams.code, 'EDGELOOP_ERR_FEATURE_PARAMS_MISMATCH');
  const badParams = resolveFeaturePipeline(trained.ref, { bands: -1 });
  assert.equal(!badParams.ok && badParams.code, 'EDGELOOP_ERR_FEATURE_PARAMS_MISMATCH');
  const unknown = resolveFeaturePipeline(
    { id: 'edgeloop-features/v2', paramsHash: trained.paramsHash },
    { bands: 6 },
  );
  assert.equal(!unknown.ok && unknown.code, 'EDGELOOP_ERR_FEATURE_PIPELINE_UNKNOWN');
});
