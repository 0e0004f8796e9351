// The central integrity monitor on simulated devices (firmware-sim FleetDevice: the board, the shared
// decoder, windower, edge integrity checks, feature pipeline and telemetry builder, i.e. what an agent
// publishes). The bundled scenarios that are NOT sensor faults (steady, bearing-wear, humidity-season,
// calibration-drift: machine changes, environment and drift) must give no non-good status at all; the
// stuck-accel fault must fail accel.z and only it.
//
// Each scenario's timeline is compressed into a few minutes (every `at`, `durationS` and `rampS` scaled),
// so the whole scripted change happens within the test, faster than in the bundled file.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createIntegrityMonitor } from '../../collector/integrity/monitor.ts';
import type { IntegrityMonitor } from '../../collector/integrity/types.ts';
import type { Observation } from '../../collector/monitor/types.ts';
import { FleetDevice } from '../../firmware-sim/fleet-device.ts';
import { parseScenario, type Scenario } from '../../firmware-sim/scenario.ts';
import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';

const T0 = 1_767_225_600_000;
const pipeline = createFeaturePipeline();

/** A bundled scenario with its timeline scaled to last `seconds`. */
function compressed(name: string, seconds: number): Scenario {
  const raw = JSON.parse(
    readFileSync(new URL(`../../firmware-sim/scenarios/${name}.json`, import.meta.url), 'utf8'),
  ) as {
    durationS: number;
    events: Record<string, unknown>[];
  };
  const k = seconds / raw.durationS;
  const scale = (e: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...e };
    for (const f of ['at', 'durationS', 'rampS']) if (typeof out[f] === 'number') out[f] = out[f] * k;
    return out;
  };
  const r = parseScenario({ ...raw, durationS: seconds, events: raw.events.map(scale) }, `${name}.json`);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.value;
}

interface Run {
  readonly monitor: IntegrityMonitor;
  readonly observations: Observation[];
  /** channelStatus of accel.z, accel.x and accel after each evaluation. */
  readonly accel: { atS: number; z: string; x: string; sensor: string }[];
}

/** Plays a scenario through a FleetDevice into the monitor, evaluating every 10 s of device time. */
function play(scenario: Scenario, seconds: number, seed = 1): Run {
  const monitor = createIntegrityMonitor({ staleAfterS: 30, clockSkewMaxMs: 5000 });
  // The sender clock is device time from T0 (the device reads it while it builds a payload).
  const ref: { device?: FleetDevice } = {};
  const now = (): number => T0 + (ref.device?.timeUs ?? 0) / 1000;
  const device = new FleetDevice({ deviceId: 'sim-1', scenario, seed, runId: 4242, pipeline, nowMs: now });
  ref.device = device;
  const observations: Observation[] = [];
  const accel: Run['accel'] = [];
  const feed = (m: { topic: string; payload: Uint8Array }): void => {
    const r = decodeMessage(m.topic, m.payload);
    assert.ok(r.ok, r.ok ? '' : r.message);
    monitor.observe({ message: r.value, receivedMs: now() + 35 });
  };
  feed(device.online());
  for (let s = 1; s <= seconds; s++) {
    for (const m of device.advance(s * 1e6)) feed(m);
    if (s % 10 === 0) {
      observations.push(...monitor.evaluate(now() + 50).observations);
      accel.push({
        atS: s,
        z: monitor.channelStatus('sim-1', 'accel.z'),
        x: monitor.channelStatus('sim-1', 'accel.x'),
        sensor: monitor.channelStatus('sim-1', 'accel'),
      });
    }
  }
  assert.equal(device.invalidPayloads, 0);
  return { monitor, observations, accel };
}

describe('central integrity on simulated devices', () => {
  for (const name of ['steady', 'bearing-wear', 'humidity-season', 'calibration-drift']) {
    it(`${name}: no non-good status at any evaluation`, () => {
      const seconds = 240;
      const r = play(compressed(name, seconds), seconds);
      const bad = r.observations.map((o) => `${o.check}/${String(o.subject)}: ${o.summary}`);
      assert.deepEqual(bad, []);
      const h = r.monitor.deviceHealth('sim-1');
      assert.ok(h !== undefined);
      assert.equal(h.status, 'good');
      assert.equal(h.state, 'online');
      // Every check judged something: physics saw all five sensors, the edge all 12 channels.
      assert.equal(h.checks.filter((c) => c.check === 'integrity.physics').length, 5);
      assert.equal(h.checks.filter((c) => c.check === 'integrity.edge_flags').length, 12);
      assert.deepEqual(r.monitor.summary().channels, { good: 12, suspect: 0, fail: 0 });
    });
  }

  it('stuck-accel: accel.z and accel fail while it lasts, accel.x stays good, and it recovers', () => {
    const seconds = 180;
    const r = play(compressed('stuck-accel', seconds), seconds); // stuck from 60 s to 120 s
    const during = r.accel.filter((a) => a.atS >= 70 && a.atS <= 120);
    assert.ok(
      during.length > 0 && during.every((a) => a.z === 'fail' && a.sensor === 'fail'),
      JSON.stringify(r.accel),
    );
    assert.ok(r.accel.every((a) => a.x === 'good'));
    assert.ok(
      r.accel.filter((a) => a.atS <= 50 || a.atS >= 140).every((a) => a.z === 'good'),
      JSON.stringify(r.accel),
    );
    const active = r.observations.filter((o) => o.active);
    assert.ok(active.length > 0);
    assert.ok(
      active.every(
        (o) => o.check === 'integrity.edge_flags' && o.subject === 'accel.z' && o.cause === 'broken_sensor',
      ),
      active.map((o) => `${o.check}/${String(o.subject)}`).join(' '),
    );
    assert.ok(active[0]?.evidence.some((e) => e.method === 'edge.flatline'));
  });
});
