// Agent inference cost (issue #4 §1): one reference window (12 channels, 192 features) through the feature
// pipeline and an onnxruntime session (softmax regression, 192 -> 3), against two baselines in the same
// run: features alone, and session.run alone. Then event-loop lag (perf_hooks monitorEventLoopDelay)
// while idle, while inferring 1 window/s (the default window rate) and 100 windows/s, to decide whether
// inference needs a worker thread.
// Run: node --import tsx bench/inference.bench.ts
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadOnnxSession } from '../shared/platform/onnx.ts';
import { createOnnxEngine } from '../agent/inference/onnx-engine.ts';
import { InferenceRunner } from '../agent/inference/runner.ts';
import { generateSigningKeyPair } from '../shared/bundle/signing.ts';
import {
  makeModelBundle,
  makeWindow,
  pipeline,
  sensors,
  WIDTH,
} from '../test/integration/agent-model-fixture.ts';
import { median, section } from './lib.ts';

const bundle = await makeModelBundle(generateSigningKeyPair());
const modelBytes = bundle.contents.files.get('model.onnx')!;
const session = await loadOnnxSession(modelBytes);
if (!session.ok) throw new Error(session.message);
const engine = createOnnxEngine({
  manifest: bundle.manifest,
  manifestDigest: '0'.repeat(64),
  session: session.value,
});
if (!engine.ok) throw new Error(engine.message);
const e = engine.value;
const window = makeWindow(0);
const fixedFeatures = pipeline.compute(window, sensors);

async function perCall(fn: () => unknown, n: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

const N = 2000;
const full = await perCall(async () => {
  const r = await e.infer(window, sensors);
  if (!r.ok) throw new Error(r.message);
}, N);
const featuresOnly = await perCall(() => pipeline.compute(window, sensors), N);
const runOnly = await perCall(async () => {
  const r = await session.value.run({
    features: { dtype: 'float32', data: fixedFeatures, dims: [1, WIDTH] },
  });
  if (!r.ok) throw new Error(r.message);
}, N);
// Back-to-back windows through the engine: the ceiling of one agent's inference rate.
const throughputStart = process.hrtime.bigint();
for (let i = 0; i < N; i++) await e.infer(window, sensors);
const windowsPerSec = N / (Number(process.hrtime.bigint() - throughputStart) / 1e9);

async function lagWhile(ms: number, windowsPerSecond: number): Promise<{ p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const runner = new InferenceRunner();
  runner.swap(e);
  let index = 0;
  const timer =
    windowsPerSecond > 0
      ? setInterval(() => runner.submit({ ...window, index: index++ }, sensors), 1000 / windowsPerSecond)
      : undefined;
  h.enable();
  await new Promise((r) => setTimeout(r, ms));
  h.disable();
  clearInterval(timer);
  await runner.whenIdle();
  await runner.close();
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

const idle = await lagWhile(4000, 0);
const oneHz = await lagWhile(6000, 1);
const hundredHz = await lagWhile(4000, 100);
await e.close();

process.stdout.write(
  section(
    'Agent inference',
    'node --import tsx bench/inference.bench.ts',
    [
      {
        metric: 'features + session.run per window (median)',
        median: median(full),
        baseline: median(featuresOnly),
        unit: 'ms',
      },
      {
        metric: 'session.run alone per window (median)',
        median: median(runOnly),
        baseline: median(featuresOnly),
        unit: 'ms',
      },
      { metric: 'windows inferred per second, serial', median: windowsPerSec, unit: 'windows/s' },
      {
        metric: 'event-loop lag p99, inferring 1 window/s vs idle',
        median: oneHz.p99,
        baseline: idle.p99,
        unit: 'ms',
      },
      {
        metric: 'event-loop lag max, inferring 1 window/s vs idle',
        median: oneHz.max,
        baseline: idle.max,
        unit: 'ms',
      },
      {
        metric: 'event-loop lag p99, inferring 100 windows/s vs idle',
        median: hundredHz.p99,
        baseline: idle.p99,
        unit: 'ms',
      },
    ],
    [
      `Model: softmax regression over the reference board's ${WIDTH} features (edgeloop-features/v1) to 3 classes, batch 1, one intra-op thread. ${N} timed calls after 50 warm-up calls.`,
      'The baseline for inference is the feature pipeline alone on the same window; lag baselines are the idle loop over the same duration (monitorEventLoopDelay, 1 ms resolution).',
    ],
  ),
);
