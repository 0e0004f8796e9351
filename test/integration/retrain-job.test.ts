// Retraining in a real child process (issue 10 §2): a small model retrained from a real SQLite telemetry
// store's captured windows (field devices with a calibration offset), operator labels, lab data and lab
// data under the estimated conditions; the candidate pushed into a real registry (certified) and staged,
// lineage naming the request, the captured data and the label sources; a shuffled-label candidate refused
// by the gate on the same test rows and never staged; the second job queued behind the first; the event
// loop kept turning while the children trained.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainingJobView } from '../../collector/retrain/types.ts';
import { BASE_VERSION, MODEL, retrainWorld, T0 } from './retrain-fixture.ts';

async function waitEnded(
  get: () => TrainingJobView | undefined,
  timeoutMs: number,
): Promise<TrainingJobView> {
  const start = Date.now();
  for (;;) {
    const j = get();
    if (j !== undefined && ['succeeded', 'refused', 'failed', 'cancelled'].includes(j.state)) return j;
    if (Date.now() - start > timeoutMs) throw new Error(`job did not end: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('retraining: candidate staged with lineage; shuffled labels refused; jobs queue; loop responsive', async (t) => {
  const w = await retrainWorld(t);
  const rt = w.retraining();
  for (const [deviceId, state] of w.field) {
    const l = rt.labels.add(
      { deviceId, state, fromMs: T0, toMs: T0 + w.fieldSeconds * 1000 + 5000, note: 'maintenance log' },
      'ops',
      Date.now(),
    );
    assert.ok(l.ok, l.ok ? '' : l.message);
  }
  const devices = [...w.field.keys()];
  const base = {
    requestId: 'ur-7',
    model: { name: MODEL, version: BASE_VERSION },
    devices,
    fromMs: T0,
    toMs: T0 + 3_600_000,
    trials: 3,
    conditionsLab: { devicesPerState: 3, secondsPerDevice: 20 },
  };
  const ended: TrainingJobView[] = [];
  rt.onEnded((j) => ended.push(j));

  // The event loop must keep turning while the children train: count ticks of a 100 ms interval.
  let ticks = 0;
  let maxGapMs = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 100);
  t.after(() => {
    clearInterval(timer);
  });

  const good = rt.open(base, 'ops');
  assert.ok(good.ok, good.ok ? '' : good.message);
  assert.equal(good.value.candidateVersion, '1.0.1');
  const bad = rt.open({ ...base, requestId: null, shuffleLabels: true }, 'ops');
  assert.ok(bad.ok, bad.ok ? '' : bad.message);
  assert.equal(bad.value.candidateVersion, '1.0.2', 'the queued job claims the next patch');

  // One job at a time: while the first runs, the second waits.
  let sawQueued = false;
  let sawProgress = false;
  const start = Date.now();
  while (Date.now() - start < 300_000) {
    const g = rt.get(good.value.id);
    const b = rt.get(bad.value.id);
    if (g?.state === 'running') {
      if (b?.state === 'queued') sawQueued = true;
      if (g.progress !== null && g.progress.of > 0) sawProgress = true;
    }
    if (g?.state !== 'queued' && g?.state !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(sawQueued, 'the second job stayed queued while the first ran');
  assert.ok(sawProgress, 'progress reached the job row');

  const g = await waitEnded(() => rt.get(good.value.id), 300_000);
  assert.equal(g.state, 'succeeded', `${g.code ?? ''} ${g.message ?? ''} ${g.reasons.join('; ')}`);
  const aliases = w.registry.listAliases(MODEL);
  assert.ok(aliases.ok);
  assert.equal(aliases.value.find((a) => a.alias === 'staging')?.version, '1.0.1');
  assert.equal(
    aliases.value.find((a) => a.alias === 'production')?.version,
    BASE_VERSION,
    'production untouched',
  );
  const v = w.registry.getVersion(MODEL, '1.0.1');
  assert.ok(v.ok);
  const lin = v.value.manifest.lineage;
  const rtLin = lin.retraining as Record<string, unknown>;
  assert.equal(rtLin.updateRequest, 'ur-7');
  assert.equal(rtLin.trainingJob, good.value.id);
  const captured = rtLin.captured as { deviceId: string; windows: number; digest: string; fromMs: number }[];
  assert.equal(captured.length, devices.length);
  for (const c of captured) {
    assert.ok(c.windows > 0);
    assert.match(c.digest, /^[0-9a-f]{64}$/);
    assert.equal(c.fromMs, T0);
  }
  const sources = rtLin.labelSources as { source: string; partition: string; rows: number }[];
  const has = (s: string, p: string): boolean =>
    sources.some((x) => x.source === s && x.partition === p && x.rows > 0);
  assert.ok(
    has('lab', 'train') &&
      has('operator', 'train') &&
      has('operator', 'test') &&
      has('lab_conditions', 'train'),
    JSON.stringify(sources),
  );
  assert.ok(!sources.some((x) => x.source === 'pseudo'), 'no pseudo-labels unless enabled');
  assert.ok(lin.datasets.some((d) => d.name === 'source:operator' && d.partition === 'test'));
  const cond = rtLin.conditions as { ambientC: number; offsets: Record<string, number> };
  assert.ok(
    Math.abs((cond.offsets['accel.x'] ?? 0) - 0.3) < 0.1,
    `accel.x offset estimated: ${JSON.stringify(cond)}`,
  );
  assert.ok(Math.abs(cond.ambientC - 31) < 2, `ambient estimated: ${JSON.stringify(cond)}`);
  const gate = (
    g.result as {
      gate: { recentRows: number; candidate: { recent: number }; production: { recent: number } };
    }
  ).gate;
  assert.ok(gate.recentRows > 0);
  assert.ok(gate.candidate.recent >= gate.production.recent);

  t.diagnostic(`good: ${JSON.stringify({ gate: gate, conditions: cond })}`);
  const b = await waitEnded(() => rt.get(bad.value.id), 300_000);
  t.diagnostic(`shuffled: ${JSON.stringify((b.result as { gate: unknown }).gate)} ${b.reasons.join('; ')}`);
  assert.equal(b.state, 'refused', `${b.code ?? ''} ${b.message ?? ''}`);
  assert.equal(b.code, 'EDGELOOP_ERR_TRAINING_GATE_REFUSED');
  assert.ok(b.reasons.length > 0);
  assert.ok(
    b.reasons.some((r) => /recent rows/.test(r)),
    b.reasons.join('; '),
  );
  const after = w.registry.listAliases(MODEL);
  assert.ok(after.ok);
  assert.equal(
    after.value.find((a) => a.alias === 'staging')?.version,
    '1.0.1',
    'a refused candidate is never staged',
  );
  assert.ok(w.registry.getVersion(MODEL, '1.0.2').ok, 'refused candidate registered for the record');

  assert.deepEqual(
    ended.map((j) => j.id),
    [good.value.id, bad.value.id],
  );
  // Loose: at 100 ms the interval fires many times over a minute of training, and no gap reaches
  // seconds (a synchronous search trial in this process would stall it for seconds).
  assert.ok(ticks > 50, `interval fired ${ticks} times`);
  assert.ok(maxGapMs < 5000, `longest event-loop gap ${maxGapMs} ms`);
});
