// Rollout plans: defaults, refusals, deterministic seeded selection of canary and phases, and deploySeq.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fail, ok } from '../../shared/errors.ts';
import {
  nextDeploySeq,
  PLAN_DEFAULTS,
  reportedLastSeq,
  resolvePlan,
  selectPhases,
  type PlanContext,
} from '../../collector/rollout/plan.ts';
import type { DeviceRecord } from '../../collector/storage/types.ts';
import type { RolloutPlanInput } from '../../collector/rollout/types.ts';

const versions = new Set(['1.0.0', '1.1.0']);
const device = (id: string, model: string | null): DeviceRecord => ({
  deviceId: id,
  firstSeenMs: 0,
  lastSeenMs: 0,
  lastStatus: null,
  bootId: null,
  runId: null,
  model: model === null ? null : { name: model, version: '1.0.0' },
  firmwareVersion: null,
  agentVersion: null,
});
const ids = Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`);
const ctx: PlanContext = {
  registry: {
    getVersion: (m: string, v: string) =>
      m === 'pump' && versions.has(v)
        ? ok({} as never)
        : fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', `${m}@${v}`),
    listAliases: () => ok([{ alias: 'production' as const, version: '1.0.0', updatedAt: '', updatedBy: '' }]),
  },
  knownDevices: [...ids.map((id) => device(id, 'pump')), device('other', 'fan'), device('blank', null)],
};

function resolved(p: Partial<RolloutPlanInput> = {}) {
  const r = resolvePlan({ model: 'pump', toVersion: '1.1.0', ...p }, ctx);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.value;
}

test('defaults: production as fromVersion, the devices reporting the model, 10 % canary, 50 % then 100 %', () => {
  const p = resolved();
  assert.equal(p.fromVersion, '1.0.0');
  assert.deepEqual(p.devices, ids);
  assert.deepEqual(p.canary, { percent: 10 });
  assert.equal(p.canaryBakeS, PLAN_DEFAULTS.canaryBakeS);
  assert.deepEqual(p.phases, [
    { percent: 50, bakeS: 60 },
    { percent: 100, bakeS: 0 },
  ]);
  assert.equal(p.deviceTimeoutS, 600);
  assert.equal(p.analysis.minWindows, 20);
  const phases = selectPhases(p);
  assert.deepEqual(
    phases.map((x) => x.length),
    [2, 9, 9],
  );
  assert.deepEqual(new Set(phases.flat()), new Set(ids), 'every device exactly once');
  assert.equal(phases.flat().length, ids.length);
});

test('selection is deterministic for a seed, whatever order the devices were named in, and changes with it', () => {
  const a = selectPhases(resolved({ devices: ids, seed: 7 }));
  const b = selectPhases(resolved({ devices: [...ids].reverse(), seed: 7 }));
  const c = selectPhases(resolved({ devices: ids, seed: 8 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a named canary, at least one device for a tiny percentage, percentages of the remaining devices', () => {
  const named = selectPhases(resolved({ canary: { devices: ['d05', 'd03'] } }));
  assert.deepEqual(named[0], ['d03', 'd05']);
  assert.ok(!named.slice(1).flat().includes('d03'));
  const tiny = selectPhases(
    resolved({
      canary: { percent: 0.1 },
      phases: [
        { percent: 25, bakeS: 0 },
        { percent: 100, bakeS: 0 },
      ],
    }),
  );
  assert.equal(tiny[0]?.length, 1);
  assert.equal(tiny[1]?.length, 5); // ceil(25 % of 19)
  assert.equal(tiny[2]?.length, 14);
  // A canary device not in the list joins the rollout.
  const p = resolved({ devices: ['d01'], canary: { devices: ['d02'] } });
  assert.deepEqual(p.devices, ['d01', 'd02']);
});

test('refusals name the field', () => {
  const code = (p: Partial<RolloutPlanInput>): string => {
    const r = resolvePlan({ model: 'pump', toVersion: '1.1.0', ...p }, ctx);
    return r.ok ? 'ok' : `${r.code}: ${r.message}`;
  };
  assert.match(code({ toVersion: '2.0.0' }), /INVALID_PLAN: toVersion/);
  assert.match(code({ fromVersion: '0.1.0' }), /INVALID_PLAN: fromVersion/);
  assert.match(code({ phases: [] }), /phases must not be empty/);
  assert.match(code({ phases: [{ percent: 50, bakeS: 1 }] }), /last phase must be 100/);
  assert.match(code({ phases: [{ percent: 100, bakeS: -1 }] }), /phases\[0\]\.bakeS/);
  assert.match(code({ canary: { percent: 101 } }), /canary\.percent/);
  assert.match(code({ deviceTimeoutS: 0 }), /deviceTimeoutS must be > 0/);
  assert.match(code({ seed: 1.5 }), /seed/);
  assert.match(
    code({ analysis: { maxLatencyRatio: 2 } as never }),
    /analysis\.maxLatencyRatio is not a policy option/,
  );
  assert.match(code({ devices: ['bad/id'] }), /device "bad\/id"/);
  assert.match(code({ devices: [] }), /ROLLOUT_NO_DEVICES/);
  assert.match(code({ toVersion: '1.0.0' }), /already run/);
});

test('deploySeq: above the last sent and the last reported, at least the wall clock', () => {
  assert.equal(nextDeploySeq(null, null, 1_000), 1_000);
  assert.equal(nextDeploySeq(5_000, null, 1_000), 5_001);
  assert.equal(nextDeploySeq(5_000, 9_000, 1_000), 9_001);
  assert.equal(nextDeploySeq(5_000, 9_000, 20_000.7), 20_000);
  let last: number | null = null;
  for (let i = 0; i < 5; i++) {
    const s = nextDeploySeq(last, null, 1_000);
    assert.ok(last === null || s > last);
    last = s;
  }
  assert.equal(reportedLastSeq('deploySeq 5 is not greater than 9, the last one applied; refused'), 9);
  assert.equal(reportedLastSeq('something else'), null);
});
