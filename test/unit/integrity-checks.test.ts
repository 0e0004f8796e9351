// Each integrity check on synthetic good and bad data, the aggregation, and the config overrides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateIntegrity, integrityChecks } from '../../shared/integrity/evaluate.ts';
import {
  defaultIntegrityConfig,
  resolveIntegrityConfig,
  type IntegrityConfig,
} from '../../shared/integrity/config.ts';
import { IntegrityState, type TimestampEvent } from '../../shared/integrity/state.ts';
import {
  integrityCheckNames,
  type ChannelWindow,
  type IntegrityCheckName,
  type IntegrityFlag,
} from '../../shared/samples.ts';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import { uniform } from '../../shared/random.ts';

const sensor = (name: string): SensorDescriptor => referenceSensors.find((s) => s.name === name)!;
const accel = sensor('accel');
const LSB = accel.resolution;

/** AR(1) noise plus a 25 Hz vibration, quantized to the i16 LSB and saturating like the part. */
function vibration(n: number, seed = 1, amplitude = 0.1): Float64Array {
  const r = uniform(seed);
  const out = new Float64Array(n);
  let x = 0;
  for (let i = 0; i < n; i++) {
    x = 0.9 * x + 0.01 * (r() + r() + r() - 1.5) * 2;
    const v = 0.2 + x + amplitude * Math.sin((2 * Math.PI * 25 * i) / 1000);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v / LSB))) * LSB;
  }
  return out;
}

interface ChanOptions {
  readonly name?: string;
  readonly axis?: number;
  readonly startUs?: number;
  readonly timestampsUs?: Float64Array;
  readonly missing?: number;
  readonly expected?: number;
  readonly rateHz?: number;
}

function chan(s: SensorDescriptor, values: Float64Array, o: ChanOptions = {}): ChannelWindow {
  const rateHz = o.rateHz ?? s.rateHz;
  const period = 1e6 / rateHz;
  const ts = o.timestampsUs ?? Float64Array.from(values, (_, i) => (o.startUs ?? 0) + i * period);
  const axis = o.axis ?? 0;
  return {
    channel: o.name ?? (s.axes.length === 1 ? s.name : `${s.name}.${s.axes[axis]}`),
    sensorId: s.id,
    axis,
    unit: s.unit,
    rateHz,
    values,
    timestampsUs: ts,
    expected: o.expected ?? values.length,
    missing: o.missing ?? 0,
  };
}

function run(
  check: IntegrityCheckName,
  c: ChannelWindow,
  config: IntegrityConfig = defaultIntegrityConfig,
  events: readonly TimestampEvent[] = [],
): IntegrityFlag {
  const impl = integrityChecks.find((k) => k.name === check)!;
  const s = referenceSensors.find((x) => x.id === c.sensorId)!;
  return impl.evaluate({
    channel: c,
    sensor: s,
    config,
    context: { values: c.values, timestampsUs: c.timestampsUs, windowStart: 0 },
    history: undefined,
    events,
  });
}

test('one check per name, in catalogue order', () => {
  assert.deepEqual(
    integrityChecks.map((c) => c.name),
    [...integrityCheckNames],
  );
});

test('every check passes realistic vibration data', () => {
  const c = chan(accel, vibration(1000));
  for (const name of integrityCheckNames)
    assert.equal(run(name, c).status, 'good', `${name}: ${run(name, c).reason}`);
});

test('range: outside the sensor span fails, outside the user span is suspect', () => {
  const v = vibration(1000);
  v[10] = 17.5; // a 16 g part cannot report this: a decoding or scaling fault
  const f = run('range', chan(accel, v));
  assert.equal(f.status, 'fail');
  assert.match(f.reason, /1 of 1000 samples outside the sensor span \[-16, 16\] g, worst 17\.5 g/);
  assert.equal(f.value, 17.5);
  assert.equal(f.threshold, 16);

  const t = chan(sensor('temperature'), Float64Array.from([21, 22, 71, 23]));
  assert.equal(run('range', t).status, 'good');
  const cfg = resolveIntegrityConfig({ range: { userSpans: { temperature: { min: -10, max: 60 } } } });
  const u = run('range', t, cfg);
  assert.equal(u.status, 'suspect');
  assert.match(u.reason, /1 of 4 samples outside the user span \[-10, 60\] degC/);
});

test('clipping: a signal clipped at +16 g fails; one sample at full scale is suspect', () => {
  // A 20 g impact train read by a ±16 g i16 part: saturates at 32767 LSB (one step below +16 g).
  const v = vibration(1000, 2, 20);
  const f = run('clipping', chan(accel, v));
  assert.equal(f.status, 'fail');
  assert.match(f.reason, /samples \(\d+(\.\d+)?%\) at full scale \(\d+ at \+16 g, \d+ at -16 g\)/);
  assert.ok(v.includes(32767 * LSB) && v.includes(-16));

  const one = vibration(1000);
  one[500] = 32767 * LSB;
  const s = run('clipping', chan(accel, one));
  assert.equal(s.status, 'suspect');
  assert.match(s.reason, /^1 of 1000 samples \(0\.1%\) at full scale \(1 at \+16 g\)/);

  // No declared full scale (CSV without ranges): nothing to judge.
  const csv = { ...accel, id: 0, rangeMin: -Infinity, rangeMax: Infinity };
  const impl = integrityChecks.find((k) => k.name === 'clipping')!;
  const c = chan(accel, v);
  const r = impl.evaluate({
    channel: c,
    sensor: csv,
    config: defaultIntegrityConfig,
    context: { values: v, timestampsUs: c.timestampsUs, windowStart: 0 },
    history: undefined,
    events: [],
  });
  assert.equal(r.status, 'good');
});

test('nan: any NaN or infinity fails', () => {
  const v = vibration(1000);
  v[3] = Number.NaN;
  v[4] = Number.POSITIVE_INFINITY;
  const f = run('nan', chan(accel, v));
  assert.equal(f.status, 'fail');
  assert.equal(f.reason, '2 of 1000 samples not finite (1 NaN, 1 infinite)');
  // The other checks do not trip over the NaN.
  assert.equal(run('spike', chan(accel, v)).status, 'good');
  assert.equal(run('flatline', chan(accel, v)).status, 'good');
});

test('flatline: a stuck accelerometer axis fails within one window; a short run is suspect', () => {
  const v = vibration(1000);
  v.fill(0.25, 0, 1000);
  const f = run('flatline', chan(accel, v));
  assert.equal(f.status, 'fail');
  assert.match(
    f.reason,
    /^1000 consecutive samples \(1 s\) within 0\.5 steps .* at 0\.25 g; fail at 500 samples \(0\.5 s\)/,
  );

  const part = vibration(1000);
  part.fill(part[300]!, 300, 450); // 150 samples stuck
  assert.equal(run('flatline', chan(accel, part)).status, 'suspect');
});

test('flatline: a slow humidity sensor may hold a value for a while, but not for hours', () => {
  const humidity = sensor('humidity');
  const state = new IntegrityState();
  const config = defaultIntegrityConfig;
  const statusAt = new Map<number, string>();
  // One sample per 1 s window, constant at 45.000 %RH.
  for (let k = 0; k < 7300; k++) {
    const c = chan(humidity, Float64Array.of(45), { startUs: k * 1e6 });
    const s = evaluateIntegrity([c], referenceSensors, config, state);
    statusAt.set(k, s.channels.humidity!);
  }
  assert.equal(statusAt.get(600), 'good'); // 10 minutes: normal in a quiet room
  assert.equal(statusAt.get(1798), 'good');
  assert.equal(statusAt.get(1800), 'suspect'); // 30 minutes
  assert.equal(statusAt.get(7200), 'fail'); // 2 hours
  // The same constant on a 1 kHz channel would have failed after 0.5 s: scaling by rate matters.
});

test('spike: a one-sample glitch is flagged with its size; steps and vibration are not', () => {
  const v = vibration(1000);
  v[400] = v[400]! + 6; // a 6 g glitch on ~0.1 g vibration
  const f = run('spike', chan(accel, v));
  assert.equal(f.status, 'fail');
  assert.match(
    f.reason,
    // The glitch's size is reported as ~6 g; the last digits depend on the seeded noise around it.
    /^1 spike\(s\) \(1 at fail level\), largest (5\.9\d*|6(\.0\d*)?) g = \d+(\.\d+)? robust spreads of 0\.1\d* g at t=0\.4 s; fail at 40/,
  );

  const small = vibration(1000);
  small[400] = small[400]! + 2; // ~20 spreads: suspect, not fail
  assert.equal(run('spike', chan(accel, small)).status, 'suspect');

  // A step (load change) is not a spike.
  const step = vibration(1000);
  for (let i = 500; i < 1000; i++) step[i] = step[i]! + 2;
  assert.equal(run('spike', chan(accel, step)).status, 'good');
});

test('spike: slow sensors are judged from their history, one period later', () => {
  const temp = sensor('temperature');
  const state = new IntegrityState();
  const r = uniform(9);
  let x = 0;
  const flagsAt: number[] = [];
  for (let k = 0; k < 200; k++) {
    x = 0.99 * x + 0.02 * (r() - 0.5);
    const v = k === 120 ? 40 : Math.round((25 + x) / temp.resolution) * temp.resolution;
    const s = evaluateIntegrity(
      [chan(temp, Float64Array.of(v), { startUs: k * 1e6 })],
      referenceSensors,
      defaultIntegrityConfig,
      state,
    );
    if (s.flags.some((fl) => fl.check === 'spike')) flagsAt.push(k);
  }
  assert.deepEqual(flagsAt, [121]);
});

test('gap: index gaps, timestamp holes and a silent sensor', () => {
  const idx = run('gap', chan(accel, vibration(950), { expected: 1000, missing: 50 }));
  assert.equal(idx.status, 'suspect');
  assert.match(idx.reason, /^50 of 1000 expected samples missing \(5%; 50 by sample index/);

  const big = run('gap', chan(accel, vibration(800), { expected: 1000, missing: 200 }));
  assert.equal(big.status, 'fail');

  // CSV mode: no indices, but the timestamps have a 40 ms hole.
  const ts = Float64Array.from({ length: 960 }, (_, i) => (i < 500 ? i : i + 40) * 1000);
  const hole = run('gap', chan(accel, vibration(960), { timestampsUs: ts, expected: 1000 }));
  assert.equal(hole.status, 'suspect');
  assert.match(hole.reason, /40 by timestamps \(longest interval 41 ms\)/);

  const silent = run('gap', chan(accel, new Float64Array(0), { expected: 1000 }));
  assert.equal(silent.status, 'fail');
  assert.match(silent.reason, /^1000 of 1000 expected samples missing \(100%/);

  // One sample of phase slack: 999 of 1000 is not a gap.
  assert.equal(run('gap', chan(accel, vibration(999), { expected: 1000 })).status, 'good');
});

test('jitter: irregular arrival times and a wrong rate', () => {
  const r = uniform(3);
  // CSV-like arrival times: each sample up to ±0.7 periods off its slot.
  const jittery = Float64Array.from({ length: 1000 }, (_, i) => i * 1000 + (r() - 0.5) * 1400);
  jittery.sort();
  const f = run('jitter', chan(accel, vibration(1000), { timestampsUs: jittery }));
  assert.equal(f.status, 'suspect');
  assert.match(f.reason, /p95 interval error \d+(\.\d+)?% of the 1 ms period/);

  // The device really runs at 950 Hz while declaring 1 kHz.
  const slow = Float64Array.from({ length: 1000 }, (_, i) => (i * 1e6) / 950);
  const s = run('jitter', chan(accel, vibration(1000), { timestampsUs: slow }));
  assert.equal(s.status, 'suspect');
  assert.match(s.reason, /rate off by 5\.263%/);
  assert.equal(s.threshold, 0.02);

  // Lines bunched in pairs (arrive 0 and 2 periods apart): timestamps unreliable by a period.
  const pairs = Float64Array.from({ length: 1000 }, (_, i) => Math.floor(i / 2) * 2000);
  assert.equal(run('jitter', chan(accel, vibration(1000), { timestampsUs: pairs })).status, 'suspect');
});

test('timestamp: windower events and out-of-order timestamps', () => {
  const c = chan(accel, vibration(100));
  const back: TimestampEvent = { kind: 'backwards', sensorId: accel.id, deltaUs: -2_500_000, atIndex: 5000 };
  const f = run('timestamp', c, defaultIntegrityConfig, [back]);
  assert.equal(f.status, 'fail');
  assert.equal(f.reason, 'device time went backwards by 2.5 s at sample 5000; window alignment restarted');
  // An event on another sensor does not flag this channel.
  assert.equal(run('timestamp', c, defaultIntegrityConfig, [{ ...back, sensorId: 1 }]).status, 'good');
  const jump = run('timestamp', c, defaultIntegrityConfig, [
    { kind: 'jump', sensorId: 0, deltaUs: 3_600_000_000, atIndex: 9 },
  ]);
  assert.equal(jump.status, 'suspect');
  assert.match(jump.reason, /jumped 3600 s ahead/);

  const ts = Float64Array.from({ length: 100 }, (_, i) => i * 1000);
  ts[50] = 10_000;
  const inside = run('timestamp', chan(accel, vibration(100), { timestampsUs: ts }));
  assert.equal(inside.status, 'fail');
  assert.match(inside.reason, /^1 timestamps go backwards inside the window, worst by 0\.039 s/);
});

test('evaluateIntegrity: worst status per channel and overall, only non-good flags', () => {
  const stuck = vibration(1000).fill(0.5);
  const glitch = vibration(1000, 5);
  glitch[10] = 5;
  const channels = [
    chan(accel, vibration(1000), { axis: 0 }),
    chan(accel, stuck, { axis: 1 }),
    chan(accel, glitch, { axis: 2 }),
  ];
  const s = evaluateIntegrity(channels, referenceSensors);
  assert.equal(s.status, 'fail');
  assert.deepEqual(s.channels, { 'accel.x': 'good', 'accel.y': 'fail', 'accel.z': 'fail' });
  assert.deepEqual(
    s.flags.map((f) => `${f.channel}:${f.check}:${f.status}`),
    ['accel.y:flatline:fail', 'accel.z:spike:fail'],
  );
  // A disabled check does not run.
  const off = resolveIntegrityConfig({ flatline: { enabled: false }, spike: { enabled: false } });
  assert.equal(evaluateIntegrity(channels, referenceSensors, off).status, 'good');
  assert.throws(
    () => evaluateIntegrity([{ ...channels[0]!, sensorId: 42 }], referenceSensors),
    /sensor id 42/,
  );
});

test('config: per-check overrides, validation with suggestions', () => {
  const c = resolveIntegrityConfig({ spike: { suspectSpread: 8 } });
  assert.equal(c.spike.suspectSpread, 8);
  assert.equal(c.spike.failSpread, defaultIntegrityConfig.spike.failSpread);
  assert.equal(c.flatline, defaultIntegrityConfig.flatline);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.spike));
  assert.throws(() => resolveIntegrityConfig({ spkie: {} } as never), /did you mean integrity\.spike/);
  assert.throws(
    () => resolveIntegrityConfig({ gap: { suspectFraction: 0.5, failFraction: 0.1 } }),
    /suspectFraction: must not exceed failFraction/,
  );
  assert.throws(() => resolveIntegrityConfig({ jitter: { minIntervals: -1 } }), /finite number >= 0/);
  assert.throws(
    () => resolveIntegrityConfig({ timestamp: { jumpStatus: 'good' as never } }),
    /suspect" or "fail/,
  );
});
