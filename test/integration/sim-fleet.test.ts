// `edgeloop sim --fleet` against the embedded aedes broker (docs/firmware-sim.md §Fleet mode): every message
// decodes with the shared codec, msgSeq is contiguous per device, the retained status is there after the
// run, a scenario mapped to one device shows in that device's integrity flags, and one seed gives the same
// payloads apart from tsMs.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { PassThrough } from 'node:stream';
import { connectFleetDevice } from '../../firmware-sim/adapters/mqtt.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { parseScenarioMap } from '../../firmware-sim/fleet-cli.ts';
import { fleetDeviceIds, runFleet, type FleetSummary } from '../../firmware-sim/fleet.ts';
import type { Scenario } from '../../firmware-sim/scenario.ts';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import { fleetFilter } from '../../shared/mqtt/topics.ts';
import { waitFor } from '../helpers/wait.ts';
import { startAedes, type Broker } from './agent-mqtt-fixture.ts';

const N = 5;
const DURATION_S = 4;

interface Got {
  readonly topic: string;
  readonly retained: boolean;
  readonly raw: string;
  readonly decoded: ReturnType<typeof decodeMessage>;
}

async function subscribe(url: string, filter: string, got: Got[]): Promise<MqttClient> {
  const client = connect(url, {
    clientId: `test-${Math.random().toString(16).slice(2)}`,
    reconnectPeriod: 0,
  });
  client.on('message', (topic, payload, packet) => {
    got.push({
      topic,
      retained: packet.retain,
      raw: payload.toString('utf8'),
      decoded: decodeMessage(topic, payload),
    });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    client.once('error', reject);
  });
  return client;
}

function withoutTs(raw: string): string {
  const o = JSON.parse(raw) as Record<string, unknown>;
  delete o.tsMs;
  return JSON.stringify(o);
}

describe('sim --fleet over MQTT (aedes)', () => {
  let broker: Broker;
  let dir: string;
  let stuck: Scenario;
  before(async () => {
    broker = await startAedes();
    dir = mkdtempSync(join(tmpdir(), 'sim-fleet-'));
    const file = join(dir, 'stuck-early.json');
    // stuck-accel, but from 0.5 s, so a few seconds of device time show it.
    writeFileSync(
      file,
      JSON.stringify({
        name: 'stuck-early',
        durationS: 30,
        machine: { state: 'normal', load: 0.8 },
        events: [{ kind: 'stuck', at: 0.5, channel: 'accel.z', durationS: 20 }],
      }),
    );
    const steady = loadScenario('steady');
    assert.ok(steady.ok);
    const map = parseScenarioMap(`3=${file}`, fleetDeviceIds(N, 'sim-'), loadScenario);
    assert.ok(map.ok, map.ok ? '' : map.message);
    stuck = map.value.get('sim-03') as Scenario;
    assert.equal(stuck.name, 'stuck-early');
  });
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(
    seed: number,
    durationS = DURATION_S,
    replayWindows = 0,
  ): Promise<{ got: Got[]; summary: FleetSummary }> {
    const got: Got[] = [];
    const sub = await subscribe(broker.url, fleetFilter('telemetry'), got);
    const steady = loadScenario('steady');
    assert.ok(steady.ok);
    const r = await runFleet({
      devices: N,
      prefix: 'sim-',
      scenarioOf: (id) => (id === 'sim-03' ? stuck : steady.value),
      seed,
      speed: 'max',
      durationS,
      replayWindows,
      maxInFlight: 8,
      connect: (deviceId, will) => connectFleetDevice({ url: broker.url, clientId: deviceId, will }),
      nowMs: () => Date.now(),
      sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    });
    assert.ok(r.ok, r.ok ? '' : r.message);
    await waitFor(
      () => `${r.value.windows} telemetry messages (have ${got.length})`,
      () => got.length >= r.value.windows,
    );
    await sub.endAsync();
    return { got, summary: r.value };
  }

  it('publishes schema-valid telemetry with contiguous msgSeq, retained status and per-device scenarios', async () => {
    const { got, summary } = await run(7);
    assert.equal(summary.devices, N);
    assert.equal(summary.errors, 0);
    // Windows 0..DURATION_S-1 per device, plus online and offline status per device.
    assert.equal(summary.windows, N * DURATION_S);
    assert.equal(summary.messages, summary.windows + 2 * N);
    assert.equal(summary.acked, summary.messages);
    const bad = got.filter((g) => !g.decoded.ok);
    assert.deepEqual(bad, []);
    const byDevice = new Map<string, Extract<DecodedMessage, { kind: 'telemetry' }>['payload'][]>();
    for (const g of got) {
      assert.ok(g.decoded.ok);
      const m = g.decoded.value;
      assert.equal(m.kind, 'telemetry');
      byDevice.set(m.deviceId, [...(byDevice.get(m.deviceId) ?? []), m.payload]);
    }
    assert.deepEqual([...byDevice.keys()].sort(), fleetDeviceIds(N, 'sim-'));
    for (const [id, ps] of byDevice) {
      // msgSeq 1 is the online status; telemetry follows without holes, one runId per device.
      assert.deepEqual(
        ps.map((p) => p.msgSeq),
        ps.map((_, i) => i + 2),
        id,
      );
      assert.equal(new Set(ps.map((p) => p.runId)).size, 1);
      assert.equal(Object.keys(ps[0]?.features ?? {}).length, 192);
      assert.equal(ps[0]?.prediction, null);
      assert.equal(ps.at(-1)?.counters.windows, DURATION_S);
    }
    const flagged = (id: string): boolean =>
      (byDevice.get(id) ?? []).some((p) =>
        p.integrity.flags.some((f) => f.channel === 'accel.z' && f.check === 'flatline'),
      );
    assert.ok(flagged('sim-03'), 'the stuck sensor of sim-03 is flagged');
    assert.ok(!flagged('sim-01') && !flagged('sim-02'), 'steady devices are not flagged flatline');

    // The retained status, read by a subscriber that arrives after the run.
    const status: Got[] = [];
    const late = await subscribe(broker.url, fleetFilter('status'), status);
    await waitFor(
      () => `${N} retained status (have ${status.length})`,
      () => status.length >= N,
    );
    await late.endAsync();
    for (const s of status) {
      assert.ok(s.retained);
      assert.ok(s.decoded.ok && s.decoded.value.kind === 'status');
      assert.equal(s.decoded.value.payload.state, 'offline');
      assert.equal(s.decoded.value.payload.reason, 'shutdown');
    }
  });

  it('gives the same payloads for the same seed, apart from tsMs', async () => {
    const a = await run(11);
    const b = await run(11);
    const sorted = (gs: Got[]): string[] => gs.map((g) => `${g.topic} ${withoutTs(g.raw)}`).sort();
    assert.deepEqual(sorted(a.got), sorted(b.got));
    const c = await run(12);
    assert.notDeepEqual(sorted(a.got), sorted(c.got));
  });

  it('replays a ring of computed windows with contiguous msgSeq, index and counters', async () => {
    const { got, summary } = await run(3, 8, 2);
    assert.equal(summary.errors, 0);
    assert.equal(summary.windows, N * 8);
    const ps = got
      .map((g) => (g.decoded.ok && g.decoded.value.kind === 'telemetry' ? g.decoded.value.payload : null))
      .filter((p) => p?.deviceId === 'sim-02');
    assert.equal(ps.length, 8);
    assert.deepEqual(
      ps.map((p) => [p?.msgSeq, p?.window.index, p?.counters.windows]),
      ps.map((_, i) => [i + 2, i, i + 1]),
    );
    for (let i = 1; i < ps.length; i++) {
      assert.equal(ps[i]?.window.startUs, ps[i - 1]?.window.endUs);
      assert.ok((ps[i]?.counters.samples ?? 0) > (ps[i - 1]?.counters.samples ?? 0));
    }
    // Window 2 replays window 0's features (ring of 2).
    assert.deepEqual(ps[2]?.features, ps[0]?.features);
  });

  it('edgeloop sim --fleet runs from the command line and prints a summary', async () => {
    const err: Buffer[] = [];
    const stderr = new PassThrough();
    stderr.on('data', (b: Buffer) => err.push(b));
    const io = { stdout: new PassThrough(), stderr, env: {}, signal: new AbortController().signal };
    const argv = [
      '--fleet',
      '3',
      '--mqtt',
      broker.url,
      '--prefix',
      'cli-',
      '--speed',
      'max',
      '--duration',
      '2',
    ];
    assert.equal(await simCommand.run([...argv, '--scenario-map', '2=stuck-accel'], io), 0);
    const text = Buffer.concat(err).toString();
    assert.match(text, /fleet of 3 \(cli-01\.\.cli-03\), scenario steady; cli-02=stuck-accel/);
    assert.match(
      text,
      /fleet done: 3 devices, 2 s of device time .* 6 windows, 12 messages, 12 acked, 0 errors/,
    );
    assert.equal(await simCommand.run(['--fleet', '3'], io), 2);
    assert.match(Buffer.concat(err).toString(), /--fleet needs --mqtt/);
    assert.equal(await simCommand.run([...argv, '--scenario-map', 'cli-09=steady'], io), 2);
    assert.match(Buffer.concat(err).toString(), /no device "cli-09"/);
  });
});
