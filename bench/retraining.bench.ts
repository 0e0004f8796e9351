// Retraining (issue #10 §4 "Benchmarks"):
// 1. the time of a retraining job (a child process: the original lab data regenerated from the production
//    model's lineage, the captured windows with their operator labels, lab data under the estimated
//    conditions, the search, the final fit, ONNX export, the gate on both models, the signed bundle, the
//    registry push and the staging move) against the first training run of the same model (lab data,
//    search, fit, export, in this process), with the same sizes;
// 2. collector ingest (the real Ingest: size check, decode, dedup, batched SQLite writes) while a retraining
//    job runs, against the same ingest with no job, in the same run: the job is a child process, so ingest
//    loses CPU on this 2-core machine but never stalls.
//
// The world is the retraining tests' (test/integration/retrain-fixture.ts): a registry holding a model
// trained on 3 lab devices per state × 20 s with 2 trials, and the captured windows of 5 field devices
// whose accel.x reads 0.3 g high.
//
// Run: npm run bench -- retraining   (BENCH_RUNS overrides 3)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DeadLetterRing } from '../collector/ingest/dead-letters.ts';
import { Ingest } from '../collector/ingest/ingest.ts';
import type { TrainingJobView } from '../collector/retrain/types.ts';
import { openSqliteTelemetryStore } from '../collector/storage/sqlite-store.ts';
import { generateLabData, trainModel } from '../collector/index.ts';
import { firmwareSimLab } from '../cli/lab-simulator.ts';
import { BASE_VERSION, MODEL, retrainWorld, T0 } from '../test/integration/retrain-fixture.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { median, section, type Row } from './lib.ts';
import { telemetryMessages } from './telemetry-messages.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const INGEST_MESSAGES = 6000;

const cleanups: (() => unknown)[] = [];
const t = {
  after(fn: () => unknown) {
    cleanups.push(fn);
  },
} as unknown as TestContext;

async function firstTraining(): Promise<number> {
  const t0 = performance.now();
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: 1,
    devicesPerState: 3,
    secondsPerDevice: 20,
  });
  if (!lab.ok) throw new Error(lab.message);
  const r = await trainModel({
    rows: lab.value.rows,
    seed: 1,
    search: { kind: 'random', trials: 2, folds: 2, space: { hidden: [0] } },
    pipelineId: lab.value.pipeline.id,
    pipelineHash: lab.value.pipeline.paramsHash,
  });
  if (!r.ok) throw new Error(r.message);
  return performance.now() - t0;
}

/** Windows/s through a fresh Ingest + SQLite store (the collector's ingest path without MQTT). */
async function ingestRate(runId: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-ingest-'));
  const store = openSqliteTelemetryStore(join(dir, 'collector.sqlite'));
  try {
    let written = 0;
    const ingest = new Ingest({
      store,
      deadLetters: new DeadLetterRing(100),
      maxMessageBytes: 262_144,
      batchMaxMessages: 500,
      batchMaxDelayMs: 200,
      onWritten: (m) => {
        written += m.length;
      },
    });
    const messages = telemetryMessages({ messages: INGEST_MESSAGES, devices: 50, runId, tsMs: Date.now() });
    const t0 = performance.now();
    for (const [i, m] of messages.entries()) {
      await ingest.offer(m.topic, m.payload);
      // Yield now and then, as socket reads do: the child's IPC and the timers get their turn.
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    ingest.flush();
    await waitFor('every message written', () => written >= INGEST_MESSAGES, { timeoutMs: 120_000 });
    const rate = INGEST_MESSAGES / ((performance.now() - t0) / 1000);
    ingest.stop();
    return rate;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const w = await retrainWorld(t);
  const rt = w.retraining();
  for (const [deviceId, state] of w.field) {
    const l = rt.labels.add(
      { deviceId, state, fromMs: T0, toMs: T0 + w.fieldSeconds * 1000 + 5000, note: 'maintenance log' },
      'bench',
      Date.now(),
    );
    if (!l.ok) throw new Error(l.message);
  }
  const input = {
    requestId: 'ur-bench',
    model: { name: MODEL, version: BASE_VERSION },
    devices: [...w.field.keys()],
    fromMs: T0,
    toMs: T0 + 3_600_000,
    trials: 2,
    conditionsLab: { devicesPerState: 3, secondsPerDevice: 20 },
  };
  const ended = new Map<string, TrainingJobView>();
  rt.onEnded((j) => ended.set(j.id, j));
  const runJob = async (during?: () => Promise<void>): Promise<{ ms: number; job: TrainingJobView }> => {
    const t0 = performance.now();
    const opened = rt.open(input, 'bench');
    if (!opened.ok) throw new Error(opened.message);
    const id = opened.value.id;
    if (during !== undefined) await during();
    await waitFor(`job ${id} ended`, () => ended.has(id), { timeoutMs: 600_000, intervalMs: 50 });
    return { ms: performance.now() - t0, job: ended.get(id) as TrainingJobView };
  };

  const first: number[] = [];
  const retrain: number[] = [];
  const states: string[] = [];
  for (let r = 0; r < RUNS; r++) {
    first.push(await firstTraining());
    const j = await runJob();
    retrain.push(j.ms);
    states.push(j.job.state);
  }

  const idle: number[] = [];
  const busy: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    idle.push(await ingestRate(1000 + 2 * r));
    // The job's child is running (its lab data first) while the same messages go through ingest.
    await runJob(async () => {
      await waitFor('the job running', () => rt.list({ state: 'running' }).length > 0, { timeoutMs: 30_000 });
      busy.push(await ingestRate(1001 + 2 * r));
    });
  }

  const rows: Row[] = [
    {
      metric:
        'retraining job, child process (lab regen + captured + lab under conditions, search, gate, push)',
      median: median(retrain) / 1000,
      baseline: median(first) / 1000,
      unit: 's',
    },
    {
      metric: `collector ingest while a retraining job runs (${String(INGEST_MESSAGES)} telemetry messages)`,
      median: median(busy),
      baseline: median(idle),
      unit: 'windows/s',
    },
  ];
  process.stdout.write(
    section('Retraining', 'npm run bench -- retraining', rows, [
      `Row 1 baseline: the first training run of the same model in this process (generateLabData 3 devices per state × 20 s, 2 random-search trials, 2 folds, softmax regression), as \`edgeloop train\` does it. The retraining job regenerates that lab data from the model's lineage, adds the captured windows of 5 field devices (operator labels) and lab data under the estimated conditions (3 devices per state × 20 s at the estimated ambient and accel.x offset), searches 2 trials of the default space (hidden 0, 16 or 32 units, 3 folds: wider than the baseline's softmax regression with 2 folds, so the ratio is the whole job's cost, not the extra data's alone), fits, exports, runs both models on the same test rows (the gate), signs, pushes and stages. Job states: ${states.join(', ')}.`,
      `Row 2 baseline: the same ingest with no job, in the same run. Ingest is the collector's Ingest class and SQLite store without MQTT, messages offered back to back (yielding every 100). The job is a child process: the collector's event loop only sees its progress messages; what ingest loses is CPU on this 2-core machine.`,
      `Runs: first training ${first.map((x) => (x / 1000).toFixed(1)).join(', ')} s; retraining ${retrain.map((x) => (x / 1000).toFixed(1)).join(', ')} s; ingest idle ${idle.map((x) => x.toFixed(0)).join(', ')} /s; during a job ${busy.map((x) => x.toFixed(0)).join(', ')} /s.`,
    ]),
  );
} finally {
  for (const c of cleanups.reverse()) await c();
}
