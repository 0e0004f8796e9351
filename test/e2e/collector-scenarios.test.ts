// Issue #9 §8 "Scenarios end to end", fleet path: a model trained by `edgeloop train` is pushed into the
// collector's registry; `edgeloop sim --fleet --model` runs five simulated devices (the shared board,
// decoder, windower, integrity checks, feature pipeline and the bundle's ONNX model, as an agent would)
// with one bundled scenario each, against the collector's embedded aedes broker and against Mosquitto;
// the collector's monitors must then raise exactly the alerts each scenario calls for:
//   steady (2 h of device time)  no drift, environment or condition alert
//   calibration-drift            a drift alert on accel, cause calibration drift, soon after 05:00
//   humidity-season              an environment alert
//   stuck-accel                  an integrity alert on accel.z, and no drift alert on accel
//   bearing-wear                 a condition alert (prediction mix), not data drift
// The agent path (real pty, real agent) is test/e2e/collector-agent-scenario.test.ts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AlertRecord } from '../../collector/storage/types.ts';
import { registryCommand } from '../../cli/registry.ts';
import { trainCommand } from '../../cli/train.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait.ts';
import { startMosquitto, type Broker } from '../integration/agent-mqtt-fixture.ts';
import { startTestCollector, type CollectorFixture } from '../integration/collector-fixture.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const scenarioDir = fileURLToPath(new URL('../../firmware-sim/scenarios/', import.meta.url));
const TOKEN = 'scenario-write-token-0123456789';
const haveMosquitto = haveCommand('mosquitto', ['-h']);

/** Device → scenario. sim-1 runs the bundled `steady` stretched to two hours of device time. */
const FLEET: Readonly<Record<string, string>> = {
  'sim-1': 'steady-2h',
  'sim-2': 'calibration-drift',
  'sim-3': 'humidity-season',
  'sim-4': 'stuck-accel',
  'sim-5': 'bearing-wear',
};
const STEADY_S = 7200;

interface Trained {
  readonly dir: string;
  readonly bundle: string;
  readonly pub: string;
  readonly steady: string;
}

async function train(): Promise<Trained> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-scenarios-'));
  const bundle = join(dir, 'bundle');
  const r = await runCommand(trainCommand, ['--out', bundle, '--seed', '1'], {}, true);
  assert.equal(r.code, 0, r.err);
  const steady = JSON.parse(readFileSync(join(scenarioDir, 'steady.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const steadyFile = join(dir, 'steady-2h.json');
  writeFileSync(steadyFile, JSON.stringify({ ...steady, name: 'steady-2h', durationS: STEADY_S }));
  return { dir, bundle, pub: `${bundle}.signing.pub`, steady: steadyFile };
}

/** `edgeloop sim --fleet` in a child process (the other core), to completion. */
async function runFleet(trained: Trained, mqttUrl: string, extra: readonly string[]): Promise<string> {
  const map = Object.entries(FLEET)
    .map(([id, s]) => `${id}=${s === 'steady-2h' ? trained.steady : s}`)
    .join(',');
  const args = [
    bin,
    'sim',
    '--fleet',
    String(Object.keys(FLEET).length),
    '--prefix',
    'sim-',
    '--mqtt',
    mqttUrl,
    '--scenario-map',
    map,
    '--model',
    trained.bundle,
    '--trusted-key',
    trained.pub,
    '--speed',
    'max',
    '--seed',
    '3',
    ...extra,
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, out);
  return out;
}

const CREDENTIALS = {
  devices: Object.fromEntries(Object.keys(FLEET).map((id) => [id, `pw-${id}-0123456789`])),
  collector: { username: 'collector', password: 'collector-secret-0123' },
};

/** A collector with the registry mounted and the trained bundle pushed into it. */
async function startCollectorFor(
  trained: Trained,
  flags: Record<string, unknown>,
): Promise<CollectorFixture> {
  const fx = await startTestCollector(
    { trustedKeys: [trained.pub], evaluateIntervalMs: 250, alertMqtt: false, ...flags },
    {
      trustedKeys: [readFileSync(trained.pub, 'utf8')],
      registryTokens: [{ token: TOKEN, actor: 'scenario-test' }],
    },
  );
  const r = await runCommand(
    registryCommand,
    ['push', trained.bundle, '--url', fx.collector.httpUrl, '--token', TOKEN],
    {},
    true,
  );
  assert.equal(r.code, 0, r.err);
  return fx;
}

function alertsOf(fx: CollectorFixture, deviceId: string): AlertRecord[] {
  return fx.collector.store.alerts({ deviceId, limit: 1000 });
}

const describeAlerts = (alerts: readonly AlertRecord[]): string =>
  alerts.map((a) => `${a.kind} ${a.channel ?? '-'} ${a.state}: ${a.message}`).join('\n') || '(none)';

async function checkScenarios(fx: CollectorFixture): Promise<void> {
  // Everything the sim sent is stored, and the monitors have evaluated the last windows.
  await waitFor(
    () => `5 devices stored and ingest drained (devices ${String(fx.collector.store.devices().length)})`,
    () => fx.collector.store.devices().length === 5 && fx.collector.ingest.queueDepth() === 0,
    { timeoutMs: 60_000 },
  );
  const drained = Date.now();
  await waitFor(
    'two monitor cycles after the last window',
    () => (fx.collector.monitors.lastCycle()?.atMs ?? 0) > drained + 2 * 250,
    { timeoutMs: 30_000 },
  );

  const steady = alertsOf(fx, 'sim-1');
  assert.deepEqual(
    steady.filter((a) => a.kind !== 'integrity' || a.severity !== 'info'),
    [],
    `steady:\n${describeAlerts(steady)}`,
  );

  const calib = alertsOf(fx, 'sim-2');
  const accelDrift = calib.find((a) => a.kind === 'drift' && a.channel === 'accel');
  assert.ok(accelDrift, `calibration-drift:\n${describeAlerts(calib)}`);
  assert.equal((accelDrift.details as { cause?: string }).cause, 'calibration_drift');

  const humid = alertsOf(fx, 'sim-3');
  assert.ok(
    humid.some((a) => a.kind === 'environment'),
    `humidity-season:\n${describeAlerts(humid)}`,
  );

  const stuck = alertsOf(fx, 'sim-4');
  assert.ok(
    stuck.some((a) => a.kind === 'integrity' && a.channel === 'accel.z'),
    `stuck-accel:\n${describeAlerts(stuck)}`,
  );
  assert.ok(
    !stuck.some((a) => a.kind === 'drift' && (a.channel === 'accel' || a.channel === 'accel.z')),
    `stuck-accel raised drift:\n${describeAlerts(stuck)}`,
  );

  const wear = alertsOf(fx, 'sim-5');
  assert.ok(
    wear.some((a) => a.kind === 'condition'),
    `bearing-wear:\n${describeAlerts(wear)}`,
  );
  assert.ok(!wear.some((a) => a.kind === 'drift'), `bearing-wear raised drift:\n${describeAlerts(wear)}`);
}

describe(
  'scenarios end to end: sim --fleet --model -> broker -> collector monitors',
  { timeout: 900_000 },
  () => {
    let trained: Trained;
    before(async () => {
      trained = await train();
    });
    after(() => {
      rmSync(trained.dir, { recursive: true, force: true });
    });

    it('embedded aedes broker', async () => {
      const credentialsFile = join(trained.dir, 'credentials.json');
      writeFileSync(credentialsFile, JSON.stringify(CREDENTIALS));
      const fx = await startCollectorFor(trained, { credentialsFile });
      try {
        await runFleet(trained, `mqtt://127.0.0.1:${String(fx.collector.brokerPort)}`, [
          '--mqtt-credentials',
          credentialsFile,
        ]);
        await checkScenarios(fx);
      } finally {
        await fx.close();
      }
    });

    it('Mosquitto', async (t) => {
      if (!requireTool(t, haveMosquitto, 'mosquitto', 'apt-get install mosquitto')) return;
      const broker: Broker = await startMosquitto();
      const fx = await startCollectorFor(trained, { mqtt: broker.url });
      try {
        await runFleet(trained, broker.url, []);
        await checkScenarios(fx);
      } finally {
        await fx.close();
        await broker.close();
      }
    });
  },
);
