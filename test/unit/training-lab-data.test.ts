// Lab data for `edgeloop train` (collector/training/lab-data.ts): firmware-sim wire bytes (through the
// LabSimulator the CLI injects) go through the shared decoder, windower and feature pipeline, labelled with
// the simulator's true state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firmwareSimLab } from '../../cli/lab-simulator.ts';
import { canonicalRow } from '../../collector/training/dataset.ts';
import {
  generateLabData as generate,
  LAB_EPOCH_MS,
  windowLabel,
  type LabDataOptions,
} from '../../collector/training/lab-data.ts';
import { createBoard } from '../../firmware-sim/board.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';
import { EdgeloopError } from '../../shared/errors.ts';

const generateLabData = (o: Omit<LabDataOptions, 'simulator'>) =>
  generate({ simulator: firmwareSimLab, ...o });
const small = { states: ['normal', 'bearing_wear'] as const, devicesPerState: 2, secondsPerDevice: 4 };

test('one labelled row per clean 1 s window, grouped by device-minute', async () => {
  const progress: string[] = [];
  const r = await generateLabData({
    seed: 3,
    ...small,
    onProgress: (p) => progress.push(`${p.done}/${p.of} ${p.deviceId}`),
  });
  assert.ok(r.ok, r.ok ? '' : r.message);
  const { rows, summary, featureNames, pipeline } = r.value;
  assert.equal(rows.length, 4 * 4);
  assert.equal(summary.windows, 16);
  assert.deepEqual(summary.perClass, { normal: 8, bearing_wear: 8 });
  assert.deepEqual(summary.skipped, { straddle: 0, integrityFail: 0, imputed: 0 });
  assert.equal(summary.samplesLost, 0);
  assert.deepEqual(progress, [
    '1/4 lab-normal-1',
    '2/4 lab-normal-2',
    '3/4 lab-bearing-wear-1',
    '4/4 lab-bearing-wear-2',
  ]);
  assert.deepEqual(
    featureNames,
    pipeline.featureNames(createBoard({ scenario: scenario('normal'), seed: 1 }).device.sensors),
  );
  for (const row of rows) {
    assert.equal(row.features.length, featureNames.length);
    assert.match(row.group, /^lab-(normal|bearing-wear)-[12]@0$/);
    assert.ok(row.time >= LAB_EPOCH_MS && row.time < LAB_EPOCH_MS + 4000);
    assert.equal(row.group.includes('bearing') ? 'bearing_wear' : 'normal', row.label);
  }
  // Devices differ (own seed and operating point), and the classes are visibly different: bearing wear
  // rings the housing, so its accel.x kurtosis is far above a healthy machine's.
  const kurt = featureNames.indexOf('accel.x.kurtosis');
  const mean = (label: string): number => {
    const v = rows.filter((x) => x.label === label).map((x) => x.features[kurt] as number);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  assert.ok(mean('bearing_wear') > 2 * mean('normal'), `${mean('bearing_wear')} vs ${mean('normal')}`);
  assert.equal(new Set(summary.devices.map((d) => d.seed)).size, 4);
  // The room differs per device in the documented ranges (docs/training.md), and the features read it.
  for (const d of summary.devices) {
    assert.ok(d.humidityPct >= 35 && d.humidityPct <= 60, `humidity ${d.humidityPct}`);
    assert.ok(d.pressureHpa >= 1000 && d.pressureHpa <= 1025, `pressure ${d.pressureHpa}`);
    assert.ok(d.startHour >= 0 && d.startHour < 24, `start hour ${d.startHour}`);
  }
  assert.equal(new Set(summary.devices.map((d) => d.humidityPct)).size, 4);
  const hum = featureNames.indexOf('humidity.mean');
  for (const d of summary.devices) {
    const v = rows.filter((x) => x.group.startsWith(`${d.deviceId}@`)).map((x) => x.features[hum] as number);
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    // Within the daily cycle (±6 %RH) and the slow walk of the drawn level.
    assert.ok(Math.abs(m - d.humidityPct) < 8, `${d.deviceId}: humidity.mean ${m} vs drawn ${d.humidityPct}`);
  }
});

test('deterministic by seed, and a different seed gives different data', async () => {
  const text = async (seed: number): Promise<string[]> => {
    const r = await generateLabData({ seed, ...small });
    assert.ok(r.ok);
    return r.value.rows.map(canonicalRow);
  };
  const a = await text(5);
  assert.deepEqual(await text(5), a);
  assert.notDeepEqual(await text(6), a);
});

function scenario(state: 'normal' | 'imbalance', events: unknown[] = []) {
  const r = parseScenario({ name: 't', machine: { state }, events }, 't');
  assert.ok(r.ok);
  return r.value;
}

test('windows that straddle a state change or lie in its ramp have no label', () => {
  const board = createBoard({
    scenario: scenario('normal', [{ kind: 'state', at: 2.5, state: 'imbalance', rampS: 1 }]),
    seed: 1,
  });
  const w = (s: number) => ({ startUs: s * 1e6, endUs: (s + 1) * 1e6 });
  assert.equal(windowLabel(board, w(1)), 'normal');
  assert.equal(windowLabel(board, w(2)), null); // straddles the change at 2.5 s
  assert.equal(windowLabel(board, w(3)), null); // inside the 1 s ramp (2.5-3.5 s)
  assert.equal(windowLabel(board, w(4)), 'imbalance');
});

test('bad options are configuration errors', async () => {
  const bad = [
    { seed: 1.5 },
    { seed: 1, devicesPerState: 0 },
    { seed: 1, secondsPerDevice: -1 },
    { seed: 1, windowMs: 0 },
    { seed: 1, states: [] },
    { seed: 1, states: ['exploded'] },
  ];
  for (const o of bad) {
    await assert.rejects(
      () => generateLabData(o),
      (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID',
      JSON.stringify(o),
    );
  }
});
