// Differential test: shared/mqtt/fast-telemetry.ts must accept exactly what telemetrySchema (zod) accepts,
// with an equal value. Real payloads (buildTelemetryPayload, the fleet simulator) and thousands of seeded
// mutations of them run through both; any disagreement names the seed and the mutation.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { runFleet } from '../../firmware-sim/fleet.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';
import type { FleetMessage } from '../../firmware-sim/fleet-device.ts';
import { ok } from '../../shared/errors.ts';
import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import { decodeMessage, encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { fastParseTelemetry } from '../../shared/mqtt/fast-telemetry.ts';
import { telemetrySchema } from '../../shared/mqtt/schemas.ts';
import { buildTelemetryPayload } from '../../shared/mqtt/telemetry.ts';
import { buildTopic, parseTopic } from '../../shared/mqtt/topics.ts';
import { integrityCheckNames, type Window } from '../../shared/samples.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { fakeCounters, fakeWindow } from '../integration/agent-mqtt-fixture.ts';

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

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

// --- mutations -----------------------------------------------------------------------------------------

const weird: readonly Json[] = [
  null,
  undefined,
  Number.NaN,
  Infinity,
  -Infinity,
  1e308,
  -1e308,
  -1,
  -0,
  0,
  0.5,
  1,
  2,
  1.5,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e-300,
  '',
  'x',
  '1',
  'good',
  'suspect',
  'fail',
  'bad',
  'range',
  'nan',
  'dev-1',
  'sim-01',
  'a/b',
  'a+b',
  'a#',
  ' ',
  'é',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(300),
  true,
  false,
  [],
  [1],
  [null],
  {},
  { a: 1 },
  { value: 1 },
  { __proto__: null, x: 1 },
];
const extraKeys = [
  'extra',
  '__proto__',
  'constructor',
  'toString',
  'value',
  'threshold',
  'v',
  'hasOwnProperty',
  '0',
];

type Path = (string | number)[];

/** For messages: some mutated values (a null-prototype object) have no toString. */
const show = (v: Json): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** Every node's path; features are sampled separately so the 192 of them do not swamp the rest. */
function paths(root: Json): { other: Path[]; features: Path[] } {
  const other: Path[] = [];
  const features: Path[] = [];
  const walk = (x: Json, p: Path): void => {
    (p[0] === 'features' && p.length > 1 ? features : other).push(p);
    if (Array.isArray(x)) {
      x.forEach((v, i) => {
        walk(v, [...p, i]);
      });
    } else if (typeof x === 'object' && x !== null)
      for (const k of Object.keys(x)) walk((x as Record<string, Json>)[k], [...p, k]);
  };
  walk(root, []);
  return { other, features };
}

function mutate(root: Json, rnd: () => number): { value: Json; what: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let value: Json = structuredClone(root);
  const steps: string[] = [];
  const n = 1 + Math.floor(rnd() * 3);
  for (let s = 0; s < n; s++) {
    const { other, features } = paths(value);
    const p = rnd() < 0.25 && features.length > 0 ? pick(features) : pick(other);
    const parentPath = p.slice(0, -1);
    const key = p[p.length - 1];
    let parent: Json = value;
    for (const k of parentPath) parent = (parent as Record<string | number, Json>)[k];
    const node = p.length === 0 ? value : (parent as Record<string | number, Json>)[key as string];
    const set = (v: Json): void => {
      if (p.length === 0) value = v;
      else (parent as Record<string | number, Json>)[key as string] = v;
    };
    const op = Math.floor(rnd() * 6);
    if (op === 0 && p.length > 0 && !Array.isArray(parent)) {
      Reflect.deleteProperty(parent as object, key as string);
      steps.push(`delete ${p.join('.')}`);
    } else if (op === 1 && typeof node === 'object' && node !== null && !Array.isArray(node)) {
      const k = pick(extraKeys);
      const v = pick(weird);
      Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
      steps.push(`add ${[...p, k].join('.')} = ${show(v)}`);
    } else if (op === 2 && typeof node === 'object' && node !== null) {
      const v = Array.isArray(node)
        ? Object.fromEntries(node.map((x, i) => [String(i), x]))
        : Object.values(node);
      set(v);
      steps.push(`reshape ${p.join('.')}`);
    } else if (op === 3 && typeof node === 'number') {
      const v = pick([node + 0.5, -node, node * 2 ** 40, node - 1, Number.NaN, Infinity, String(node), null]);
      set(v);
      steps.push(`number ${p.join('.')} = ${show(v)}`);
    } else {
      const v = structuredClone(pick(weird));
      set(v);
      steps.push(`set ${p.join('.')} = ${show(v)}`);
    }
  }
  // Half the cases go through JSON text, as on the wire (NaN becomes null, undefined keys vanish).
  if (rnd() < 0.5) {
    const text = JSON.stringify(value) as string | undefined; // undefined for an undefined root
    if (text !== undefined) {
      // and sometimes a number too big for a double, which JSON.parse turns into Infinity
      const t2 = rnd() < 0.2 ? text.replace(/:(\d+)([,}])/, ':1e400$2') : text;
      value = JSON.parse(t2) as Json;
      steps.push('via JSON');
    }
  }
  return { value, what: steps.join('; ') };
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
