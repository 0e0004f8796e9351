import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBoard } from '../../firmware-sim/board.ts';
import { MachineModel } from '../../firmware-sim/machine.ts';
import { parseScenario, type Scenario } from '../../firmware-sim/scenario.ts';
import { FrameDecoder } from '../../shared/serial/decoder.ts';
import { decodeSampleValues } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';

function scenario(value: Record<string, unknown>): Scenario {
  const r = parseScenario({ name: 't', ...value }, 't');
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

/** Decodes a run into per-channel physical values, e.g. channels['accel.x']. */
function channels(sc: Scenario, seconds: number, seed = 1): Record<string, number[]> {
  const bytes = createBoard({ scenario: sc, seed }).generate(seconds * 1e6);
  const out: Record<string, number[]> = {};
  new FrameDecoder().push(bytes, (e) => {
    if (!e.ok || e.frame.type !== 'samples') return;
    const s = referenceSensors[e.frame.sensorId]!;
    const v = decodeSampleValues(e.frame, s);
    assert.ok(v.ok);
    const n = s.axes.length;
    for (let i = 0; i < v.value.length; i++) {
      const name = n === 1 ? s.name : `${s.name}.${s.axes[i % n]!}`;
      (out[name] ??= []).push(v.value[i]!);
    }
  });
  return out;
}

const mean = (x: readonly number[]): number => x.reduce((a, b) => a + b, 0) / x.length;
function moment(x: readonly number[], k: number): number {
  const m = mean(x);
  return x.reduce((a, b) => a + (b - m) ** k, 0) / x.length;
}
const kurtosis = (x: readonly number[]): number => moment(x, 4) / moment(x, 2) ** 2;

/** Goertzel power at f Hz, maximised over a ±0.3 Hz band (the shaft speed wanders a little). */
function bandPower(x: readonly number[], fs: number, f: number): number {
  let best = 0;
  for (let df = -0.3; df <= 0.3001; df += 0.05) {
    const w = (2 * Math.PI * (f + df)) / fs;
    const c = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    const m = mean(x);
    for (const v of x) {
      const s0 = v - m + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    best = Math.max(best, (s1 * s1 + s2 * s2 - c * s1 * s2) / x.length);
  }
  return best;
}

const SHAFT = 24.7;

test('normal running: gravity on z, small 1x vibration, autocorrelated noise', () => {
  const ch = channels(scenario({}), 4);
  assert.ok(Math.abs(mean(ch['accel.z']!) - 1) < 0.01);
  assert.ok(Math.abs(mean(ch['accel.x']!)) < 0.01);
  assert.ok(Math.sqrt(moment(ch['accel.x']!, 2)) < 0.05);
  // Lag-1 autocorrelation of the residual after removing the vibration: clearly not i.i.d.
  const t = ch.temperature!;
  assert.ok(t.length === 4 && t.every((v) => v > 25 && v < 35), 'warm machine: ambient 22 degC + load rise');
  const g = ch['gyro.y']!;
  const m = mean(g);
  let num = 0;
  for (let i = 1; i < g.length; i++) num += (g[i]! - m) * (g[i - 1]! - m);
  assert.ok(num / (g.length - 1) / moment(g, 2) > 0.5, 'lag-1 autocorrelation');
  assert.ok(Math.abs(mean(ch.pressure!) - 1013.25) < 2);
  assert.ok(Math.abs(mean(ch.humidity!) - 45) < 5);
  const magNorm = Math.hypot(mean(ch['mag.x']!), mean(ch['mag.y']!), mean(ch['mag.z']!));
  assert.ok(magNorm > 25 && magNorm < 80, `mag field ${magNorm} uT`);
});

test('imbalance puts most radial energy at 1x shaft speed', () => {
  const normal = channels(scenario({}), 4)['accel.x']!;
  const imb = channels(scenario({ machine: { state: 'imbalance', severity: 0.8 } }), 4)['accel.x']!;
  const p1 = bandPower(imb, 1000, SHAFT);
  assert.ok(p1 > 5 * bandPower(imb, 1000, 2 * SHAFT));
  assert.ok(p1 > 50 * bandPower(normal, 1000, SHAFT), 'much stronger than in normal running');
  // Most of the signal's variance is the 1x line (Parseval: power of a sine = A^2/2, Goertzel gives N A^2/4).
  assert.ok((2 * p1) / imb.length / moment(imb, 2) > 0.5);
});

test('misalignment puts a strong 2x on the axial axis', () => {
  const y = channels(scenario({ machine: { state: 'misalignment', severity: 0.8 } }), 4)['accel.y']!;
  assert.ok(bandPower(y, 1000, 2 * SHAFT) > 2 * bandPower(y, 1000, SHAFT));
  assert.ok(bandPower(y, 1000, 2 * SHAFT) > 20 * bandPower(y, 1000, 3 * SHAFT));
});

test('bearing wear raises kurtosis, with impulses that grow with severity', () => {
  const x = (state: string, severity: number): number[] =>
    channels(scenario({ machine: { state, severity } }), 3)['accel.x']!;
  const normal = x('normal', 1);
  const mild = x('bearing_wear', 0.3);
  const severe = x('bearing_wear', 0.9);
  assert.ok(kurtosis(normal) < 3.5, `normal kurtosis ${kurtosis(normal)}`);
  assert.ok(kurtosis(mild) > kurtosis(normal) + 1, `mild ${kurtosis(mild)} vs normal ${kurtosis(normal)}`);
  assert.ok(kurtosis(severe) > kurtosis(normal) + 1);
  assert.ok(moment(severe, 2) > 4 * moment(mild, 2), 'impulse energy grows with severity');
});

test('overheating drives temperature 25..35 degC above ambient with a time constant', () => {
  const sc = scenario({
    machine: { state: 'normal', load: 0.8 },
    events: [{ kind: 'state', at: 60, state: 'overheating', severity: 1 }],
  });
  const m = new MachineModel(sc, 1);
  const rise = (tS: number): number => m.temperature(tS * 1e6).clean - m.ambientTemperature(tS * 1e6);
  let before = 0;
  let at10min = 0;
  let late = 0;
  for (let t = 0; t <= 4000; t++) {
    const r = rise(t);
    if (t === 59) before = r;
    if (t === 660) at10min = r;
    if (t === 4000) late = r;
  }
  assert.ok(Math.abs(before - 6.4) < 0.1, `running rise ${before}`);
  assert.ok(at10min > before + 10 && at10min < late - 3, `still rising at 10 min: ${at10min}`);
  assert.ok(late > 25 && late < 35, `settles 25..35 degC above ambient: ${late}`);
});

test('drift and sensor faults change what the sensor reports', () => {
  const sc = scenario({
    durationS: 4,
    events: [
      { kind: 'bias_ramp', at: 1, channel: 'accel.x', delta: 0.5, durationS: 1 },
      { kind: 'stuck', at: 1, channel: 'accel.z', durationS: 2 },
      { kind: 'clipping', at: 1, channel: 'gyro.y', durationS: 1 },
      { kind: 'gain_change', at: 0, channel: 'mag', factor: 2 },
      { kind: 'noise_growth', at: 0, channel: 'gyro.x', factor: 10 },
    ],
  });
  const ch = channels(sc, 4);
  const base = channels(scenario({}), 4);
  assert.ok(Math.abs(mean(ch['accel.x']!.slice(2000, 3000)) - 0.5) < 0.02, 'bias ramped in');
  assert.ok(Math.abs(mean(ch['accel.x']!.slice(0, 1000))) < 0.02, 'no bias before');
  const stuck = ch['accel.z']!.slice(1000, 3000);
  assert.equal(new Set(stuck).size, 1, 'stuck channel is a flat line');
  assert.ok(new Set(ch['accel.z']!.slice(3000)).size > 100, 'recovers');
  const clipped = ch['gyro.y']!.slice(1000, 2000);
  assert.ok(clipped.filter((v) => Math.abs(v) > 1999).length > 900, 'rails at full scale');
  assert.ok(Math.abs(mean(ch['mag.z']!) / mean(base['mag.z']!) - 2) < 0.05, 'gain 2');
  assert.ok(moment(ch['gyro.x']!, 2) > 5 * moment(base['gyro.x']!, 2), 'noise grew');
});

test('spikes are rare, large and seeded', () => {
  const sc = scenario({ events: [{ kind: 'spikes', at: 0, channel: 'accel.x', ratePerS: 5, magnitude: 4 }] });
  const a = channels(sc, 4, 9)['accel.x']!;
  const spikes = a.filter((v) => Math.abs(v) > 3).length;
  assert.ok(spikes > 5 && spikes < 45, `${spikes} spikes in 4 s at 5/s`);
  assert.deepEqual(channels(sc, 4, 9)['accel.x'], a);
});
