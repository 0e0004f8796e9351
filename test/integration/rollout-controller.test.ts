// The rollout controller against a real registry (signed bundles, aliases by compare-and-set), a real
// SQLite loop database and a simulated fleet that answers model commands (rollout-fixture.ts): the happy
// path, a canary device that rolls back, a device offline during its phase, abort, pause/resume, an
// inconclusive analysis, a slow model, a restart mid-rollout, and a device that answers DOWNGRADE.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RolloutPlanInput, RolloutState, RolloutView } from '../../collector/rollout/types.ts';
import { fleet, MODEL, startBench, type Bench } from './rollout-fixture.ts';

const plan = (extra: Partial<RolloutPlanInput> = {}): RolloutPlanInput => ({
  model: MODEL,
  toVersion: '1.1.0',
  canary: { percent: 20 },
  canaryBakeS: 60,
  phases: [
    { percent: 50, bakeS: 60 },
    { percent: 100, bakeS: 0 },
  ],
  seed: 3,
  deviceTimeoutS: 30,
  analysis: { minWindows: 20 },
  reason: 'test',
  ...extra,
});

function started(b: Bench, p: RolloutPlanInput): RolloutView {
  const r = b.controller.start(p, 'alice');
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.value;
}

/** Delivers answers and moves 1 s at a time until the rollout is in one of `states`. */
async function until(
  b: Bench,
  id: string,
  states: readonly RolloutState[],
  maxSteps = 600,
): Promise<RolloutView> {
  for (let i = 0; i < maxSteps; i++) {
    await b.deliver();
    const v = b.controller.get(id);
    if (v !== undefined && states.includes(v.state)) return v;
    b.advance(1000);
  }
  assert.fail(
    `rollout ${id} never reached ${states.join('|')}: ${JSON.stringify(b.controller.get(id)?.events)}`,
  );
}

function alias(b: Bench, name: string): string | undefined {
  const a = b.registry.listAliases(MODEL);
  assert.ok(a.ok);
  return a.value.find((x) => x.alias === name)?.version;
}

test('happy path: canary, phases, completed, production moved by compare-and-set naming the rollout', async (t) => {
  const b = await startBench(t, fleet(10));
  const r = started(b, plan());
  assert.equal(r.id, 'ro-1');
  assert.equal(r.fromVersion, '1.0.0');
  assert.equal(alias(b, 'canary'), '1.1.0');
  assert.deepEqual(
    r.phases.map((p) => p.devices.length),
    [2, 4, 4],
  );
  const done = await until(b, r.id, ['completed', 'paused', 'rolled_back']);
  assert.equal(done.state, 'completed', JSON.stringify(done.analyses.map((a) => a.reasons)));
  assert.equal(done.production?.moved, true);
  assert.equal(alias(b, 'production'), '1.1.0');
  const hist = b.registry.aliasHistory(MODEL, 'production');
  assert.ok(hist.ok);
  assert.match(hist.value.at(-1)?.reason ?? '', /rollout ro-1 completed/);
  assert.deepEqual(
    done.phases.map((p) => p.state),
    ['passed', 'passed', 'passed'],
  );
  assert.equal(done.analyses.length, 3);
  const canary = done.analyses[0];
  assert.equal(canary?.verdict, 'pass');
  assert.ok(canary.checks.some((c) => c.name === 'latency_p95' && c.status === 'pass'));
  for (const d of b.devices.values()) assert.equal(b.modelOf(d.id), '1.1.0', d.id);
  for (const row of b.controller.inventory()) assert.equal(row.model?.version, '1.1.0');
  assert.equal(done.counts.committed, 10);
  // Every device had one command, with a deploySeq at least the wall clock.
  for (const dev of done.devices) assert.ok((dev.deploySeq ?? 0) >= r.createdMs);
  // Each phase started only after the last one passed: commands went out in three groups.
  const firstSent = done.phases.map((p) => p.startedMs ?? 0);
  assert.ok(firstSent[0]! < firstSent[1]! && firstSent[1]! < firstSent[2]!);
  assert.equal(b.controller.stats().rollouts.completed, 1);
});

test('a canary device that ROLLED_BACK fails the analysis: every device back, canary alias back, production unchanged', async (t) => {
  const b = await startBench(t, fleet(6));
  b.devices.get('dev-02')!.behaviour = 'rollback';
  const ended: RolloutView[] = [];
  b.controller.onEnded((v) => ended.push(v));
  const r = started(b, plan({ canary: { devices: ['dev-01', 'dev-02'] } }));
  const done = await until(b, r.id, ['rolled_back', 'completed']);
  assert.equal(done.state, 'rolled_back');
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.id, r.id);
  const a = done.analyses[0];
  assert.equal(a?.verdict, 'fail');
  assert.ok(a.checks.some((c) => c.name === 'device_failures' && c.status === 'fail'));
  assert.equal(alias(b, 'production'), '1.0.0');
  assert.equal(alias(b, 'canary'), '1.0.0');
  for (const d of b.devices.values()) assert.equal(b.modelOf(d.id), '1.0.0', d.id);
  const dev1 = done.devices.find((d) => d.deviceId === 'dev-01');
  assert.equal(dev1?.state, 'reverted');
  assert.equal(b.devices.get('dev-01')?.commands.at(-1)?.action, 'rollback');
  // The devices of later phases were never commanded.
  for (const id of ['dev-03', 'dev-04', 'dev-05', 'dev-06'])
    assert.equal(b.devices.get(id)?.commands.length, 0);
  assert.equal(done.counts.untouched, 4);
});

test('a device that restarts while installing (its command lost) gets the install again at once', async (t) => {
  const b = await startBench(t, fleet(4));
  // dev-01 drops the command on the floor, as a device that restarts mid-download does.
  b.devices.get('dev-01')!.behaviour = 'offline';
  const r = started(b, plan({ canary: { devices: ['dev-01'] } }));
  await b.deliver();
  assert.equal(b.controller.get(r.id)?.devices.find((d) => d.deviceId === 'dev-01')?.state, 'installing');
  b.devices.get('dev-01')!.behaviour = 'ok';
  // A new run: online with reason startup, well before the device timeout.
  b.status('dev-01', 'online', 'startup');
  await b.deliver();
  const v = b.controller.get(r.id)!;
  const dev = v.devices.find((d) => d.deviceId === 'dev-01');
  assert.equal(dev?.state, 'committed', JSON.stringify(v.devices));
  assert.equal(dev.attempts, 2);
  assert.ok(v.events.some((e) => e.kind === 'retry' && e.message.includes('restarted while installing')));
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(done.state, 'completed');
});

test('a device offline during its phase times out without blocking, and is retried when it is online again', async (t) => {
  const b = await startBench(t, fleet(6));
  b.devices.get('dev-02')!.behaviour = 'offline';
  const r = started(b, plan({ canary: { devices: ['dev-01', 'dev-02'] } }));
  // The canary settles once dev-02 times out (30 s) and passes on dev-01.
  let v = await until(b, r.id, ['running'], 1);
  for (let i = 0; i < 200 && (b.controller.get(r.id)?.currentPhase ?? 0) === 0; i++) {
    await b.deliver();
    b.advance(1000);
  }
  v = b.controller.get(r.id)!;
  assert.equal(v.phases[0]?.state, 'passed');
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-02')?.state, 'timed_out');
  assert.ok(v.events.some((e) => e.kind === 'device_timed_out' && e.message.includes('dev-02')));
  // Back online: the install is sent again and commits.
  b.devices.get('dev-02')!.behaviour = 'ok';
  b.status('dev-02', 'online');
  await b.deliver();
  v = b.controller.get(r.id)!;
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-02')?.state, 'committed');
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-02')?.attempts, 2);
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(done.state, 'completed');
  assert.equal(b.modelOf('dev-02'), '1.1.0');
});

test('abort rolls back the devices that committed; production never moves', async (t) => {
  const b = await startBench(t, fleet(5));
  const r = started(b, plan({ canary: { devices: ['dev-01', 'dev-02'] } }));
  await b.deliver();
  b.advance(1000);
  assert.equal(b.modelOf('dev-01'), '1.1.0');
  const aborted = b.controller.abort(r.id, 'bob', 'changed my mind');
  assert.ok(aborted.ok);
  const done = await until(b, r.id, ['aborted', 'rolled_back']);
  assert.equal(done.state, 'aborted');
  assert.equal(b.modelOf('dev-01'), '1.0.0');
  assert.equal(b.modelOf('dev-02'), '1.0.0');
  assert.equal(alias(b, 'production'), '1.0.0');
  assert.equal(alias(b, 'canary'), '1.0.0');
  assert.ok(done.events.some((e) => e.kind === 'abort' && e.actor === 'bob'));
  const again = b.controller.abort(r.id, 'bob', 'twice');
  assert.equal(again.ok ? 'ok' : again.code, 'EDGELOOP_ERR_ROLLOUT_STATE');
  assert.equal(b.controller.pause('ro-99', 'bob', '').ok ? 'ok' : 'refused', 'refused');
});

test('pause holds the rollout past its bake time; resume continues to completion', async (t) => {
  const b = await startBench(t, fleet(5));
  const r = started(b, plan());
  await b.deliver();
  b.advance(1000);
  const paused = b.controller.pause(r.id, 'carol', 'lunch');
  assert.ok(paused.ok);
  assert.equal(paused.value.state, 'paused');
  for (let i = 0; i < 120; i++) b.advance(1000);
  let v = b.controller.get(r.id)!;
  assert.equal(v.state, 'paused');
  assert.equal(v.analyses.length, 0, 'no analysis while paused');
  assert.equal(v.currentPhase, 0);
  assert.equal(b.controller.resume(r.id, 'bob').ok ? 'ok' : 'no', 'ok');
  v = await until(b, r.id, ['completed', 'rolled_back']);
  assert.equal(v.state, 'completed');
  const resumedTwice = b.controller.resume(r.id, 'bob');
  assert.equal(resumedTwice.ok ? 'ok' : resumedTwice.code, 'EDGELOOP_ERR_ROLLOUT_STATE');
});

test('too few windows after the bake (and no wait for more) is inconclusive: paused for an operator, who resumes it', async (t) => {
  const b = await startBench(t, fleet(4));
  const r = started(
    b,
    plan({ canaryBakeS: 5, canary: { devices: ['dev-01'] }, analysis: { maxDataWaitS: 0 } }),
  );
  const v = await until(b, r.id, ['paused', 'completed', 'rolled_back']);
  assert.equal(v.state, 'paused');
  assert.equal(v.analyses[0]?.verdict, 'inconclusive');
  assert.match(v.pauseReason ?? '', /inconclusive/);
  assert.ok(b.controller.resume(r.id, 'dave').ok);
  const done = await until(b, r.id, ['completed', 'rolled_back']);
  assert.equal(done.state, 'completed');
});

test('a bake too short for minWindows is stretched until the windows are there, then judged', async (t) => {
  const b = await startBench(t, fleet(4));
  const r = started(b, plan({ canaryBakeS: 5, canary: { devices: ['dev-01'] } }));
  const v = await until(b, r.id, ['paused', 'completed', 'rolled_back']);
  assert.equal(v.state, 'completed', JSON.stringify(v.analyses));
  const canary = v.analyses[0];
  assert.equal(canary?.verdict, 'pass');
  const phase = v.phases[0];
  assert.ok(
    phase !== undefined && canary.atMs > (phase.bakeUntilMs ?? Infinity),
    'judged after the bake, once the windows were there',
  );
});

test('a model much slower than the old one fails the canary analysis on p95 latency', async (t) => {
  const b = await startBench(t, fleet(4));
  b.devices.get('dev-01')!.behaviour = 'slow';
  const r = started(b, plan({ canary: { devices: ['dev-01'] } }));
  const done = await until(b, r.id, ['rolled_back', 'completed', 'paused']);
  assert.equal(done.state, 'rolled_back');
  const lat = done.analyses[0]?.checks.find((c) => c.name === 'latency_p95');
  assert.equal(lat?.status, 'fail', JSON.stringify(done.analyses[0]));
  assert.equal(b.modelOf('dev-01'), '1.0.0');
});

test('a collector restarted mid-rollout resumes from the stored state and finishes', async (t) => {
  const b = await startBench(t, fleet(8));
  const r = started(b, plan());
  // Canary through its bake; the next phase's commands are out when the collector stops.
  for (let i = 0; i < 200 && (b.controller.get(r.id)?.currentPhase ?? 0) === 0; i++) {
    await b.deliver();
    b.advance(1000);
  }
  assert.equal(b.controller.get(r.id)?.currentPhase, 1);
  b.restart();
  const v = b.controller.get(r.id)!;
  assert.equal(v.state, 'running');
  assert.equal(v.phases[0]?.state, 'passed');
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(done.state, 'completed');
  assert.equal(alias(b, 'production'), '1.1.0');
  for (const d of b.devices.values()) assert.equal(b.modelOf(d.id), '1.1.0');
  // A second start for the same model while none is running is fine; the ids go on.
  const next = b.controller.start(plan({ toVersion: '1.0.0' }), 'alice');
  assert.ok(next.ok);
  assert.equal(next.value.id, 'ro-2');
  const conflict = b.controller.start(plan({ toVersion: '1.0.0' }), 'alice');
  assert.equal(conflict.ok ? 'ok' : conflict.code, 'EDGELOOP_ERR_ROLLOUT_CONFLICT');
});

test('a device answering DOWNGRADE gets one more command above the deploySeq it reports', async (t) => {
  const b = await startBench(t, fleet(3));
  const high = b.clock.nowMs() + 5_000_000_000;
  b.devices.get('dev-01')!.lastDeploySeq = high;
  const r = started(b, plan({ canary: { devices: ['dev-01'] } }));
  await b.deliver();
  await b.deliver();
  const cmds = b.devices.get('dev-01')!.commands;
  assert.equal(cmds.length, 2);
  assert.ok(cmds[0]!.deploySeq < high);
  assert.ok(cmds[1]!.deploySeq > high);
  const v = b.controller.get(r.id)!;
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-01')?.state, 'committed');
  assert.ok(v.events.some((e) => e.kind === 'downgrade'));
  // The stored seq is above the device's: a later command for it goes higher still.
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(done.state, 'completed');
});

test('plan errors are values with stable codes', async (t) => {
  const b = await startBench(t, fleet(2));
  const code = (p: RolloutPlanInput): string => {
    const r = b.controller.start(p, 'x');
    return r.ok ? 'ok' : r.code;
  };
  assert.equal(code(plan({ toVersion: '9.9.9' })), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(code(plan({ phases: [{ percent: 50, bakeS: 1 }] })), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(code(plan({ canary: { percent: 0 } })), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(code(plan({ analysis: { minWindow: 3 } as never })), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(code(plan({ toVersion: '1.0.0' })), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(code({ model: 'nope', toVersion: '1.0.0' }), 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN');
  assert.equal(b.controller.list().length, 0);
  assert.equal(alias(b, 'canary'), undefined, 'a refused plan moves no alias');
});

test('a command whose publish fails (broker down) is counted, times out, and is sent again when the device is online', async (t) => {
  let brokerDown = true;
  const b = await startBench(t, fleet(3), { publishFails: (id) => brokerDown && id === 'dev-02' });
  const r = started(b, plan({ canary: { devices: ['dev-01', 'dev-02'] } }));
  await b.deliver();
  let v = b.controller.get(r.id)!;
  assert.equal(b.controller.stats().publishFailures, 1);
  assert.ok(v.events.some((e) => e.kind === 'publish_failed' && e.message.includes('dev-02')));
  assert.equal(b.modelOf('dev-02'), '1.0.0');
  for (let i = 0; i < 31; i++) b.advance(1000);
  v = b.controller.get(r.id)!;
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-02')?.state, 'timed_out');
  assert.equal(b.controller.stats().deviceTimeouts, 1);
  brokerDown = false;
  b.status('dev-02', 'online');
  await b.deliver();
  v = b.controller.get(r.id)!;
  assert.equal(v.devices.find((d) => d.deviceId === 'dev-02')?.state, 'committed');
  assert.equal(b.modelOf('dev-02'), '1.1.0');
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(
    done.state,
    'completed',
    `${done.pauseReason ?? ''} ${JSON.stringify(done.analyses.map((a) => a.checks))}`,
  );
});

test('a production move the promotion gate refuses: the rollout completes and says so; production stays', async (t) => {
  const b = await startBench(t, fleet(3));
  assert.ok(b.registry.setPolicy(MODEL, { minMacroF1: 0.99 }, 'ci').ok);
  const r = started(b, plan({ canary: { devices: ['dev-01'] } }));
  const done = await until(b, r.id, ['completed', 'rolled_back', 'paused']);
  assert.equal(done.state, 'completed');
  assert.equal(done.production?.moved, false);
  assert.equal(done.production.code, 'EDGELOOP_ERR_REGISTRY_GATE_FAILED');
  assert.equal(alias(b, 'production'), '1.0.0');
  for (const d of b.devices.values()) assert.equal(b.modelOf(d.id), '1.1.0');
});
