// Differential test: shared/mqtt/fast-telemetry.ts must accept exactly what telemetrySchema (zod) accepts,
// with an equal value. Real payloads (buildTelemetryPayload, the fleet simulator) and thousands of seeded
// mutations of them run through both; any disagreement names the seed and the mutation.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { runFleet } from '../../firmware-sim/fleet.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';
import type { FleetMessage } from '../../firmware-sim/fleet-device.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import { decodeMessage, encodeJsonPayload, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import { fastParseTelemetry } from '../../shared/mqtt/fast-telemetry.ts';
import { telemetrySchema } from '../../shared/mqtt/schemas.ts';
import { buildTelemetryPayload } from '../../shared/mqtt/telemetry.ts';
import { buildTopic, parseTopic } from '../../shared/mqtt/topics.ts';
import { integrityCheckNames, type Window } from '../../shared/samples.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { fakeCounters, fakeWindow } from '../integration/agent-mqtt-fixture.ts';
import { mulberry32, mutate } from './mqtt-telemetry-mutations.ts';

type Json = unknown;

/** Both validators on one input: they must agree on the verdict and, when accepted, on the value. */
function agree(input: Json, what: string): boolean {
  const z = telemetrySchema.safeParse(input);
  const f = fastParseTelemetry(input);
  assert.equal(
    f !== undefined,
    z.success,
    `${what}: zod ${z.success ? 'accepts' : `refuses (${JSON.stringify(z.error.issues[0])})`}, fast ${f === undefined ? 'refuses' : 'accepts'}`,
  );
  if (z.success) assert.deepStrictEqual(f, z.data, `${what}: accepted values differ`);
  return z.success;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** decodeMessage for telemetry as it was before fast-telemetry.ts: the schema alone. */
function zodOnlyDecode(topic: string, bytes: Uint8Array): Result<DecodedMessage> {
  const t = parseTopic(topic);
  if (!t.ok) return t;
  let json: unknown;
  try {
    json = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', 'telemetry: not UTF-8 JSON');
  }
  const r = telemetrySchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `telemetry: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  if (r.data.deviceId !== t.value.deviceId) {
    return fail(
      'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH',
      `topic device ${t.value.deviceId}, payload device ${r.data.deviceId}`,
    );
  }
  return ok({ kind: 'telemetry', deviceId: t.value.deviceId, payload: r.data });
}

// --- real payloads -------------------------------------------------------------------------------------

const pipeline = createFeaturePipeline();
const featureNames = pipeline.featureNames(referenceSensors);

function flaggedWindow(index: number): Window {
  const w = fakeWindow(index);
  return {
    ...w,
    integrity: {
      status: 'suspect',
      channels: { 'accel.x': 'suspect', 'accel.y': 'good', 'accel.z': 'fail' },
      flags: [
        {
          channel: 'accel.x',
          check: 'clipping',
          status: 'suspect',
          reason: '3 at full scale',
          value: 3,
          threshold: 2,
        },
        { channel: 'accel.z', check: 'flatline', status: 'fail', reason: 'stuck' },
      ],
    },
  };
}

function builtPayloads(): Json[] {
  const out: Json[] = [];
  const env = (i: number) => ({
    deviceId: `dev-${i}`,
    runId: 0xffff_fff0 + i,
    tsMs: 1.7e12 + i,
    nextSeq: () => i + 1,
  });
  for (let i = 0; i < 6; i++) {
    const values = featureNames.map((_, k) =>
      k % 17 === 5 ? Number.NaN : Math.fround(Math.sin(i + k) * 1e3),
    );
    const valid = featureNames.map((_, k) => (k % 23 === 0 ? 0 : 1));
    const r = buildTelemetryPayload(
      {
        window: i % 2 === 0 ? fakeWindow(i) : flaggedWindow(i),
        features: i === 3 ? null : { pipeline: pipeline.id, names: featureNames, values, valid },
        prediction:
          i === 4
            ? null
            : {
                label: 'normal',
                probabilities: { normal: 0.9, imbalance: 0.1, misalignment: 0 },
                model: { name: 'fan', version: '1.2.0' },
                latencyMs: 0.42,
              },
        counters: fakeCounters(i),
      },
      env(i),
    );
    assert.ok(r.ok, r.ok ? '' : r.message);
    const e = encodeJsonPayload('telemetry', r.value);
    assert.ok(e.ok, e.ok ? '' : e.message);
    out.push(JSON.parse(new TextDecoder().decode(e.value)));
  }
  return out;
}

async function fleetPayloads(): Promise<{ topic: string; payload: Uint8Array }[]> {
  const got: FleetMessage[] = [];
  const steady = loadScenario('steady');
  assert.ok(steady.ok, steady.ok ? '' : steady.message);
  // Faults from the first second, so a few seconds of device time carry integrity flags.
  const faulty = parseScenario(
    {
      name: 'faults-early',
      durationS: 30,
      machine: { state: 'normal', load: 0.8 },
      events: [
        { kind: 'stuck', at: 0.5, channel: 'accel.z', durationS: 20 },
        { kind: 'clipping', at: 0.5, channel: 'accel.x', durationS: 20 },
      ],
    },
    'faults-early',
  );
  assert.ok(faulty.ok, faulty.ok ? '' : faulty.message);
  const scenarios = [steady.value, faulty.value];
  const r = await runFleet({
    devices: 3,
    prefix: 'sim-',
    scenarioOf: (_id, i) => scenarios[i % scenarios.length] ?? scenarios[0]!,
    seed: 11,
    speed: 'max',
    durationS: 6,
    connect: () =>
      Promise.resolve(
        ok({
          publish: (m: FleetMessage) => {
            got.push(m);
            return Promise.resolve(ok(undefined));
          },
          close: () => Promise.resolve(),
        }),
      ),
    nowMs: () => Date.now(),
    sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
  });
  assert.ok(r.ok, r.ok ? '' : r.message);
  return got.filter((m) => {
    const t = parseTopic(m.topic);
    return t.ok && t.value.kind === 'telemetry';
  });
}

describe('fastParseTelemetry agrees with telemetrySchema', () => {
  const built = builtPayloads();

  it('knows the same integrity check names as the schema', () => {
    for (const check of integrityCheckNames) {
      const p = structuredClone(built[1]) as { integrity: { flags: { check: string }[] } };
      const f = p.integrity.flags[0];
      assert.ok(f !== undefined, 'a flag to edit');
      f.check = check;
      assert.ok(agree(p, `check ${check}`));
    }
  });

  it('accepts built payloads, returning the parsed object itself', () => {
    for (const [i, p] of built.entries()) {
      assert.ok(agree(p, `built ${i}`));
      assert.equal(fastParseTelemetry(p), p, 'nothing to strip: no copy');
    }
  });

  it('accepts the fleet simulator telemetry, and decodeMessage returns the same value as zod', async () => {
    const msgs = await fleetPayloads();
    assert.ok(msgs.length >= 9, `${msgs.length} telemetry messages`);
    for (const m of msgs) {
      const json: Json = JSON.parse(new TextDecoder().decode(m.payload));
      assert.ok(agree(json, m.topic), `${m.topic} refused`);
      const d = decodeMessage(m.topic, m.payload);
      assert.ok(d.ok, d.ok ? '' : d.message);
      assert.deepStrictEqual(d.value.payload, telemetrySchema.parse(json));
    }
    // the stuck sensor scenario raises flags: the flag branch is exercised, not only empty arrays
    const flagged = msgs.filter(
      (m) =>
        (JSON.parse(new TextDecoder().decode(m.payload)) as { integrity: { flags: unknown[] } }).integrity
          .flags.length > 0,
    );
    assert.ok(flagged.length > 0, 'no fleet message carried an integrity flag');
  });

  it('agrees on 6,000 seeded mutations of them (accept/reject and the accepted value)', () => {
    const rnd = mulberry32(0x5eed);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 6000; i++) {
      const base = built[i % built.length];
      const { value, what } = mutate(base, rnd);
      if (agree(value, `mutation ${i} (${what})`)) accepted++;
      else refused++;
    }
    // Both sides of the line are exercised: extras that are stripped and edits that stay valid, and refusals.
    assert.ok(accepted > 500, `${accepted} accepted`);
    assert.ok(refused > 2000, `${refused} refused`);
  });

  it('decodeMessage answers as the zod-only decode did on 1,500 mutated messages (value, or code and message)', () => {
    const rnd = mulberry32(0xdec0de);
    let refused = 0;
    for (let i = 0; i < 1500; i++) {
      const base = built[i % built.length] as { deviceId: string };
      const topic = buildTopic('telemetry', base.deviceId);
      assert.ok(topic.ok, 'topic');
      const { value, what } = mutate(base, rnd);
      const text = JSON.stringify(value) as string | undefined;
      let bytes = new TextEncoder().encode(text ?? 'undefined');
      // a few broken on the wire: cut short, or not UTF-8
      const wire = rnd();
      if (wire < 0.05) bytes = bytes.subarray(0, Math.floor(rnd() * bytes.length));
      else if (wire < 0.1) bytes = Uint8Array.from([...bytes.subarray(0, 10), 0xff, ...bytes.subarray(10)]);
      const now = decodeMessage(topic.value, bytes);
      const before = zodOnlyDecode(topic.value, bytes);
      assert.equal(now.ok, before.ok, `message ${i} (${what}): ok ${String(now.ok)} vs ${String(before.ok)}`);
      if (now.ok && before.ok) assert.deepStrictEqual(now.value, before.value, `message ${i} (${what})`);
      if (!now.ok && !before.ok) {
        refused++;
        assert.equal(now.code, before.code, `message ${i} (${what})`);
        assert.equal(now.message, before.message, `message ${i} (${what})`);
      }
    }
    assert.ok(refused > 300 && refused < 1400, `${refused} refused`);
  });

  it('strips unknown keys as zod does, into a copy', () => {
    const p = structuredClone(built[1]) as Record<string, unknown>;
    const withExtras = JSON.parse(
      JSON.stringify(p)
        .replace('{"v":1', '{"v":1,"newField":{"a":[1]},"__proto__":{"x":1}')
        .replace('"features":{', '"features":{"__proto__":"not a number",'),
    ) as Json;
    assert.ok(agree(withExtras, 'extras'));
    const f = fastParseTelemetry(withExtras) as Record<string, unknown>;
    assert.notEqual(f, withExtras);
    assert.equal(Object.hasOwn(f, 'newField'), false);
    assert.equal(Object.hasOwn(f.features as object, '__proto__'), false);
  });

  it('decodeMessage refuses what zod refuses, with zod’s message and code', () => {
    const t = buildTopic('telemetry', 'dev-1');
    assert.ok(t.ok, 'topic');
    const p = structuredClone(built[1]) as { counters: { gaps: unknown }; features: Record<string, unknown> };
    p.counters.gaps = -1;
    const d = decodeMessage(t.value, new TextEncoder().encode(JSON.stringify(p)));
    if (d.ok) assert.fail('a negative counter was accepted');
    assert.equal(d.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
    assert.match(d.message, /^telemetry: counters\.gaps: /);
    p.counters.gaps = 0;
    p.features[featureNames[0] as string] = 'x';
    const d2 = decodeMessage(t.value, new TextEncoder().encode(JSON.stringify(p)));
    assert.match(d2.ok ? '' : d2.message, /^telemetry: features\./);
  });
});
