import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listScenarios, loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { parseScenario, parseScenarioText } from '../../firmware-sim/scenario.ts';

function invalid(value: unknown): string {
  const r = parseScenario(value, 'test.json');
  assert.equal(r.ok, false);
  assert.equal(r.code, 'EDGELOOP_ERR_SCENARIO_INVALID');
  return r.message;
}

test('defaults fill a minimal scenario', () => {
  const r = parseScenario({ name: 'x' }, 'x');
  assert.ok(r.ok);
  assert.equal(r.value.machine.shaftHz, 24.7);
  assert.equal(r.value.machine.state, 'normal');
  assert.equal(r.value.heartbeatS, 10);
  assert.deepEqual(r.value.events, []);
});

test('validation errors name the field at fault', () => {
  assert.match(invalid({ name: 'x', events: [{ kind: 'wobble', at: 1 }] }), /events\.0\.kind/);
  assert.match(
    invalid({ name: 'x', events: [{ kind: 'stuck', at: 1, channel: 'acel.x' }] }),
    /events\.0\.channel: must be one of accel\.x/,
  );
  assert.match(invalid({ name: 'x', events: [{ kind: 'corrupt', at: 1 }] }), /events\.0\.probability/);
  assert.match(
    invalid({ name: 'x', events: [{ kind: 'stuck', at: -1, channel: 'accel.x' }] }),
    /events\.0\.at/,
  );
  assert.match(invalid({ name: 'x', machine: { shaftHZ: 20 } }), /machine: Unrecognized key: "shaftHZ"/);
  assert.match(invalid({ name: 'x', machine: { state: 'broken' } }), /machine\.state/);
  assert.match(
    invalid({ name: 'x', events: [{ kind: 'disconnect', at: 0, durationS: 1 }] }),
    /events\.0\.at/,
  );
  assert.match(invalid({}), /name/);
  const bad = parseScenarioText('{ "name": ', 'broken.json');
  assert.ok(
    !bad.ok &&
      bad.code === 'EDGELOOP_ERR_SCENARIO_INVALID' &&
      /broken\.json: not valid JSON/.test(bad.message),
  );
});

test('events are sorted by time, stable for equal times', () => {
  const r = parseScenario(
    {
      name: 'x',
      events: [
        { kind: 'stuck', at: 5, channel: 'accel.x' },
        { kind: 'bias_ramp', at: 1, channel: 'accel.y', delta: 1 },
        { kind: 'bias_ramp', at: 1, channel: 'accel.z', delta: 2 },
      ],
    },
    'x',
  );
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.events.map((e) => ('channel' in e ? e.channel : '')),
    ['accel.y', 'accel.z', 'accel.x'],
  );
});

test('every required scenario is bundled, valid and loadable by name', () => {
  const names = listScenarios().map((s) => s.name);
  for (const n of [
    'steady',
    'bearing-wear',
    'calibration-drift',
    'humidity-season',
    'stuck-accel',
    'noisy-link',
  ]) {
    assert.ok(names.includes(n), `${n} is bundled`);
  }
  for (const n of names) {
    const r = loadScenario(n);
    assert.ok(r.ok, `${n}: ${r.ok ? '' : r.message}`);
    assert.equal(r.value.name, n);
    assert.ok(r.value.description.length > 10);
  }
});

test('a scenario loads by path; an unknown name lists the bundled ones', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-scenario-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'mine.json');
  writeFileSync(file, JSON.stringify({ name: 'mine', durationS: 5 }));
  const r = loadScenario(file);
  assert.ok(r.ok);
  assert.equal(r.value.durationS, 5);
  const nf = loadScenario('no-such-scenario');
  assert.ok(!nf.ok);
  assert.equal(nf.code, 'EDGELOOP_ERR_SCENARIO_NOT_FOUND');
  assert.match(nf.message, /bundled: .*steady/);
  const missingFile = loadScenario(join(dir, 'missing.json'));
  assert.ok(!missingFile.ok && missingFile.code === 'EDGELOOP_ERR_SCENARIO_NOT_FOUND');
  writeFileSync(file, JSON.stringify({ name: 'mine', heartbeatS: 'often' }));
  const inv = loadScenario(file);
  assert.ok(!inv.ok && inv.code === 'EDGELOOP_ERR_SCENARIO_INVALID' && inv.message.includes('heartbeatS'));
});
