// Real, small, signed bundles for the agent model tests, built with the shared ONNX fixture
// (test/helpers/onnx-fixture.ts): a softmax-regression graph over the reference board's 192 features
// (edgeloop-features/v1, default params), golden outputs produced by running it in onnxruntime-node,
// reference windows, a static HTTP file server on port 0 that can fail or cut on purpose,
// and command builders.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceRunner, type InferenceOutcome } from '../../agent/inference/runner.ts';
import { resolveModelManagerConfig, type ModelManagerConfig } from '../../agent/models/config.ts';
import { ModelManager } from '../../agent/models/manager.ts';
import type { ModelStateReport } from '../../agent/models/report.ts';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import { sha256Hex, type SigningKeyPair } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import type { ModelCommandPayload } from '../../shared/mqtt/schemas.ts';
import { uniform } from '../../shared/random.ts';
import type { ChannelWindow, Window } from '../../shared/samples.ts';
import { channelNames, referenceSensors } from '../../shared/sensors.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import { signGoldenBundle, sineReference, softmaxIo, softmaxOnnx } from '../helpers/onnx-fixture.ts';

export const sensors = referenceSensors;
export const pipeline = createFeaturePipeline();
export const featureNames = pipeline.featureNames(sensors);
export const WIDTH = featureNames.length;
export const LABELS = ['normal', 'imbalance', 'bearing_wear'] as const;

/** features[N,WIDTH] -MatMul-Add-Softmax-> probabilities[N,3]; ArgMax -> label[N] (int64). */
function seededModel(seed: number): Uint8Array {
  const u = uniform(seed);
  const C = LABELS.length;
  const weights = Array.from({ length: WIDTH * C }, () => (u() - 0.5) * 0.2);
  const bias = Array.from({ length: C }, () => (u() - 0.5) * 0.1);
  return softmaxOnnx({ features: WIDTH, classes: C, weights, bias, producerName: 'agent-model-test' });
}

/** One reference-board window (1 s, every channel full) with the given index; seed varies the signal. */
export function makeWindow(index: number, seed = 1): Window {
  const u = uniform(seed);
  const channels: ChannelWindow[] = [];
  for (const s of sensors) {
    channelNames(s).forEach((channel, axis) => {
      const n = Math.round(s.rateHz);
      const values = new Float64Array(n);
      const timestampsUs = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const t = i / s.rateHz;
        values[i] =
          Math.sin(2 * Math.PI * 29.5 * t + axis) + 0.3 * Math.sin(2 * Math.PI * 59 * t) + 0.05 * (u() - 0.5);
        timestampsUs[i] = t * 1e6;
      }
      channels.push({
        channel,
        sensorId: s.id,
        axis,
        unit: s.unit,
        rateHz: s.rateHz,
        values,
        timestampsUs,
        expected: n,
        missing: 0,
      });
    });
  }
  return {
    deviceId: 'dev-1',
    bootId: 1,
    index,
    startUs: index * 1e6,
    endUs: (index + 1) * 1e6,
    channels,
    integrity: { status: 'good', channels: {}, flags: [] },
  };
}

const reference = sineReference(featureNames.slice(0, 4), 100);

export interface BundleOptions {
  readonly name?: string;
  readonly version?: string;
  /** Weight seed: different seeds give different (but valid) models. */
  readonly seed?: number;
  /** Add this to every golden probability (the model then fails its golden test). */
  readonly goldenShift?: number;
  /** The bundle's reference profile (reference.json). Default: sine columns over the first 4 features. */
  readonly reference?: ReferenceProfile;
}

export function makeModelBundle(key: SigningKeyPair, o: BundleOptions = {}): Promise<SignedBundle> {
  return signGoldenBundle(key, {
    name: o.name ?? 'pump-condition',
    version: o.version ?? '1.0.0',
    model: seededModel(o.seed ?? 7),
    goldenRows: [1, 2].map((seed) => pipeline.compute(makeWindow(0, seed), sensors)),
    ...(o.goldenShift === undefined ? {} : { goldenShift: o.goldenShift }),
    io: softmaxIo(WIDTH, LABELS.length),
    labels: LABELS,
    reference: o.reference ?? reference,
    pipeline: { ...pipeline.ref },
  });
}

export const archiveOf = (b: SignedBundle): Uint8Array => encodeBundleArchive(b.contents);
export const digestOf = (bytes: Uint8Array): string => `sha256:${sha256Hex(bytes)}`;

let msgSeq = 0;
export function installCommand(
  url: string,
  bytes: Uint8Array,
  o: { deploySeq: number; name?: string; version?: string; digest?: string },
): ModelCommandPayload {
  return {
    v: 1,
    deviceId: 'dev-1',
    runId: 1,
    msgSeq: ++msgSeq,
    tsMs: Date.now(),
    action: 'install',
    deploySeq: o.deploySeq,
    model: { name: o.name ?? 'pump-condition', version: o.version ?? '1.0.0' },
    url,
    digest: o.digest ?? digestOf(bytes),
  };
}

export interface FileServer {
  readonly url: string;
  /** Every request: path and Range header. */
  readonly requests: { path: string; range: string | undefined }[];
  set(path: string, bytes: Uint8Array): void;
  /** The next `n` requests answer 503. */
  failNext(n: number): void;
  /** The next request sends half the body, then cuts the connection. */
  cutNext(): void;
  close(): Promise<void>;
}

/** A tiny static server with Range support (bytes=a-), enough for the download adapter. */
export async function startFileServer(t: { after(fn: () => unknown): void }): Promise<FileServer> {
  const files = new Map<string, Uint8Array>();
  const requests: { path: string; range: string | undefined }[] = [];
  let failing = 0;
  let cut = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    requests.push({ path, range: req.headers.range });
    if (failing > 0) {
      failing--;
      res.writeHead(503).end();
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m === null ? 0 : Number(m[1]);
    if (start >= body.length && m !== null) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(start);
    const headers: Record<string, string | number> = {
      'content-length': slice.length,
      'accept-ranges': 'bytes',
    };
    if (m !== null) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(m === null ? 200 : 206, headers);
    if (cut) {
      cut = false;
      // Give the client a moment to read the half body before the cut: on a loaded machine an immediate
      // destroy can race the client's read, and the test would see a cut with nothing to resume.
      res.write(slice.subarray(0, slice.length >> 1), () => setTimeout(() => res.destroy(), 100));
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
    });
  };
  t.after(close);
  return {
    url,
    requests,
    set: (p, b) => {
      files.set(p, b);
    },
    failNext: (n) => {
      failing = n;
    },
    cutNext: () => {
      cut = true;
    },
    close,
  };
}

export function tempDir(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-agent-model-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export interface AgentHarness {
  readonly runner: InferenceRunner;
  readonly manager: ModelManager;
  readonly reports: ModelStateReport[];
  readonly outcomes: InferenceOutcome[];
  /** Starts submitting a window every `everyMs` (default 1 ms) until stopFeed(). */
  startFeed(everyMs?: number): void;
  stopFeed(): void;
  /** Submits windows until `n` more outcomes arrived. */
  pump(n: number): Promise<void>;
  close(): Promise<void>;
}

const template = makeWindow(0);

export async function startAgent(
  t: { after(fn: () => unknown): void },
  o: {
    dataDir: string;
    trustedKeys: readonly string[];
    config?: Partial<ModelManagerConfig>;
    loadSession?: OnnxSessionLoader;
    onReport?: (r: ModelStateReport) => void;
    start?: boolean;
  },
): Promise<AgentHarness> {
  const runner = new InferenceRunner({ maxQueue: 100_000 });
  const reports: ModelStateReport[] = [];
  const outcomes: InferenceOutcome[] = [];
  runner.observe((x) => outcomes.push(x));
  const manager = new ModelManager({
    dataDir: o.dataDir,
    runner,
    config: resolveModelManagerConfig({
      trustedKeys: o.trustedKeys,
      retryBaseMs: 20,
      retryCapMs: 100,
      downloadDeadlineMs: 3_000,
      downloadAttemptTimeoutMs: 5_000,
      healthWindows: 5,
      healthMaxMs: 20_000,
      // Latency is judged only where a test asks for it: on a loaded CI box a p95 of a few windows can
      // swing past 3x the previous model's by itself, and roll back an install that is not about latency.
      healthLatencyFactor: 1000,
      ...o.config,
    }),
    reportState: (r) => {
      reports.push(r);
      o.onReport?.(r);
    },
    sensors: () => sensors,
    ...(o.loadSession === undefined ? {} : { loadSession: o.loadSession }),
  });
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  const submit = () => runner.submit({ ...template, index: index++ }, sensors);
  let closed = false;
  const h: AgentHarness = {
    runner,
    manager,
    reports,
    outcomes,
    startFeed(everyMs = 1) {
      timer ??= setInterval(submit, everyMs);
    },
    stopFeed() {
      clearInterval(timer);
      timer = undefined;
    },
    async pump(n) {
      const target = outcomes.length + n;
      while (outcomes.length < target) {
        submit();
        await runner.whenIdle();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      h.stopFeed();
      await runner.close();
      await manager.close();
    },
  };
  t.after(() => h.close());
  if (o.start !== false) {
    const s = await manager.start();
    if (!s.ok) throw new Error(s.message);
  }
  return h;
}
