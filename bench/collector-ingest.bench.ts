// Collector ingest rate (issue #9 §8 "Benchmarks"): windows per second through the collector's ingest path
// (collector/adapters/mqtt.ts subscriber with held PUBACKs → Ingest: size check, decodeMessage, dedup →
// batched SQLite writes → onWritten feed), as main.ts wires it minus HTTP, against a bare MQTT.js
// subscriber draining the same messages from the same private Mosquitto in the same run.
//
// Method: every subscriber first opens its persistent QoS 1 session and leaves; one publisher then fills
// all the sessions' queues with the same real telemetry payloads (buildTelemetryPayload, 192 features,
// ~7.7 KB, many devices); then each subscriber in turn reconnects and drains its queue, so the consumer's
// rate is measured without a publisher competing for the 2 cores. Timers inside the run split the drain
// into decode (accept() minus store writes inside it), store write, the onWritten feed (monitors,
// metrics), and the rest (MQTT.js parsing, sockets, PUBACKs, waiting for the broker). A last part measures
// decodeMessage alone, on this thread and in worker threads, to see whether workers would lift the cap.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { connect } from 'mqtt';
import { startSubscriber } from '../collector/adapters/mqtt.ts';
import { createCollectorMetrics } from '../collector/api/metrics.ts';
import { ingestFilters } from '../collector/main.ts';
import { createIntegrityMonitor } from '../collector/integrity/monitor.ts';
import { DeadLetterRing } from '../collector/ingest/dead-letters.ts';
import { Ingest } from '../collector/ingest/ingest.ts';
import { MonitorEngine } from '../collector/monitor/engine.ts';
import type { Monitor } from '../collector/monitor/types.ts';
import { openSqliteTelemetryStore } from '../collector/storage/sqlite-store.ts';
import type { IncomingMessage } from '../collector/storage/types.ts';
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { decodeMessage } from '../shared/mqtt/codec.ts';
import { createLogger } from '../shared/platform/logger.ts';
import { referenceSensors } from '../shared/sensors.ts';
import { startMosquitto } from '../test/integration/agent-mqtt-fixture.ts';
import { telemetryMessages } from './telemetry-messages.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { fmt, median, section, type Row } from './lib.ts';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

// --- worker side of the decode experiment: decode what the main thread sends, answer with the result.
interface DecodeJob {
  readonly topics: readonly string[];
  readonly payloads: readonly Uint8Array[];
  /** Reply with the features as one transferred Float32Array instead of cloning the decoded objects. */
  readonly compact: boolean;
}

if (!isMainThread) {
  parentPort?.on('message', (job: DecodeJob) => {
    const decoded = job.payloads.map((p, k) => {
      const r = decodeMessage(job.topics[k] ?? '', p);
      return r.ok ? r.value : null;
    });
    if (!job.compact) {
      parentPort?.postMessage(decoded);
      return;
    }
    // What a worker-based ingest could hand back: the envelope without the features, and the feature
    // values packed as the store keeps them (float32, in one buffer moved, not copied).
    const width = featureNames.length;
    const values = new Float32Array(decoded.length * width);
    const envelopes = decoded.map((d, k) => {
      if (d?.kind !== 'telemetry') return null;
      const { features, ...rest } = d.payload;
      let c = 0;
      for (const v of Object.values(features)) values[k * width + c++] = v ?? Number.NaN;
      return rest;
    });
    parentPort?.postMessage({ envelopes, values }, [values.buffer]);
  });
}

const pipeline = createFeaturePipeline();
const featureNames = pipeline.featureNames(referenceSensors);
/** MESSAGES telemetry payloads, round-robin over DEVICES, float32 features as an agent sends them. */
function buildPayloads(runId: number): { topic: string; payload: Buffer }[] {
  return telemetryMessages({ messages: MESSAGES, devices: DEVICES, runId, tsMs: Date.now() }).map((m) => ({
    topic: m.topic,
    payload: Buffer.from(m.payload),
  }));
}

const hr = (): bigint => process.hrtime.bigint();
const secs = (a: bigint, b: bigint): number => Number(b - a) / 1e9;
/**
 * CPU seconds this process has used. The parts are timed in CPU, not wall, time: on a loaded machine a
 * wall timer around accept() also counts the time the OS ran other processes.
 */
const cpuNow = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

interface Drain {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Seconds by part, for the collector variants. */
  readonly parts?: { decode: number; store: number; feed: number; monitorCycles: number; batches: number };
}

/** The bare baseline: MQTT.js, persistent session, acknowledges on receipt, does nothing with messages. */
async function bareSession(url: string, clientId: string, expect: number): Promise<() => Promise<Drain>> {
  const open = async (onMessage: () => void) => {
    const c = connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    c.on('message', onMessage);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => {
        resolve();
      });
      c.once('error', reject);
    });
    await c.subscribeAsync(ingestFilters as string[], { qos: 1 });
    return c;
  };
  await (await open(() => undefined)).endAsync();
  return async () => {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = hr();
    const c = await open(() => n++);
    await waitFor(
      () => `bare subscriber: ${n}/${expect}`,
      () => n >= expect,
      { timeoutMs: 300_000, intervalMs: 5 },
    );
    const t1 = hr();
    const cpu = process.cpuUsage(c0);
    await c.endAsync();
    return { seconds: secs(t0, t1), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
}

/**
 * The collector's ingest path, wired as collector/main.ts does (config defaults: batches of 500 or 200 ms),
 * with timers around accept() and the store. `monitors` builds the monitors for the monitors-on variant.
 */
async function collectorSession(
  url: string,
  clientId: string,
  expect: number,
  monitors: (() => Monitor[]) | undefined,
): Promise<() => Promise<Drain>> {
  const logger = createLogger({ stream: { write: () => undefined }, level: 'error' });
  const start = (
    onMessage: (topic: string, payload: Uint8Array) => Promise<void> | undefined,
    ackTag?: () => number,
  ) =>
    startSubscriber({
      url,
      clientId,
      filters: ingestFilters,
      onMessage,
      ...(ackTag === undefined ? {} : { ackTag }),
    });
  // Open the session (subscriptions) and leave, so the broker queues for it.
  const first = start(() => undefined);
  await waitFor('collector session open', () => first.connected());
  await new Promise((r) => setTimeout(r, 300)); // its SUBSCRIBE is answered right after CONNACK
  await first.close(2000);

  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-ingest-'));
    const raw = openSqliteTelemetryStore(join(dir, 'collector.sqlite'));
    const t = {
      accept: 0,
      storeInAccept: 0,
      store: 0,
      feed: 0,
      monitorCycles: 0,
      inAccept: false,
      batches: 0,
    };
    const timedWrite = (batch: readonly IncomingMessage[]) => {
      const a = cpuNow();
      const r = raw.writeBatch(batch);
      t.batches++;
      const s = cpuNow() - a;
      t.store += s;
      if (t.inAccept) t.storeInAccept += s;
      return r;
    };
    // Every other method passes through, bound to the real store (its private fields).
    const store = new Proxy(raw, {
      get: (target, prop) => {
        if (prop === 'writeBatch') return timedWrite;
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const metrics = createCollectorMetrics({
      queueDepth: () => 0,
      subscriberConnected: () => true,
      heldAcks: () => 0,
    });
    const engine =
      monitors === undefined
        ? undefined
        : new MonitorEngine({
            monitors: monitors(),
            store: raw,
            sink: { handle: () => undefined },
            intervalMs: 1000,
            nowMs: Date.now,
            logger,
            observer: {
              cycle(seconds) {
                t.monitorCycles += seconds;
                metrics.monitorCycle(seconds);
              },
              failed: () => undefined,
            },
          });
    let written = 0;
    const late: { release?: (b: number) => void } = {};
    const ingest = new Ingest({
      store,
      deadLetters: new DeadLetterRing(1000),
      maxMessageBytes: 262_144,
      batchMaxMessages: 500,
      batchMaxDelayMs: 200,
      observer: metrics.observer,
      onCommitted: (b) => late.release?.(b),
      onWritten: (messages) => {
        const a = cpuNow();
        metrics.committed(messages, Date.now());
        engine?.observe(messages);
        t.feed += cpuNow() - a;
        written += messages.length;
      },
    });
    const c0 = process.cpuUsage();
    const t0 = hr();
    const sub = start(
      (topic, payload) => {
        const a = cpuNow();
        t.inAccept = true;
        const r = ingest.offer(topic, payload);
        t.inAccept = false;
        t.accept += cpuNow() - a;
        return r;
      },
      () => ingest.ackTag(),
    );
    late.release = (b) => {
      sub.release(b);
    };
    engine?.start();
    await waitFor(
      () => `collector: ${written}/${expect}`,
      () => written >= expect,
      { timeoutMs: 300_000, intervalMs: 5 },
    );
    const t1 = hr();
    const cpu = process.cpuUsage(c0);
    engine?.stop();
    ingest.stop();
    await sub.close(2000);
    raw.close();
    rmSync(dir, { recursive: true, force: true });
    return {
      seconds: secs(t0, t1),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      parts: {
        decode: t.accept - t.storeInAccept,
        store: t.store,
        feed: t.feed,
        monitorCycles: t.monitorCycles,
        batches: t.batches,
      },
    };
  };
}

async function publishAll(
  url: string,
  messages: readonly { topic: string; payload: Buffer }[],
): Promise<void> {
  const c = connect(url, {
    clientId: 'bench-publisher',
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => {
      resolve();
    });
    c.once('error', reject);
  });
  // QoS 1 as agents publish, 1000 in flight at a time.
  for (let i = 0; i < messages.length; i += 1000)
    await Promise.all(messages.slice(i, i + 1000).map((m) => c.publishAsync(m.topic, m.payload, { qos: 1 })));
  await c.endAsync();
}

/** decodeMessage over the payloads on this thread, windows per CPU-second and per wall second. */
function decodeHere(messages: readonly { topic: string; payload: Buffer }[]): { cpu: number; wall: number } {
  const c0 = cpuNow();
  const t0 = hr();
  for (const m of messages) if (!decodeMessage(m.topic, m.payload).ok) throw new Error('decode failed');
  return { cpu: messages.length / (cpuNow() - c0), wall: messages.length / secs(t0, hr()) };
}

/**
 * The same through `n` worker threads: batches of 100 payloads, 4 in flight per worker, decoded messages
 * cloned back (or, `compact`, envelopes plus one transferred Float32Array of features); windows/s.
 */
async function decodeInWorkers(
  messages: readonly { topic: string; payload: Buffer }[],
  n: number,
  compact: boolean,
): Promise<number> {
  // tsx's loader does not reach workers started from a file URL on Node 20: register it inside the worker.
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const workers = Array.from({ length: n }, () => {
    const w = new Worker(boot, { eval: true });
    const waiting: ((reply: unknown) => void)[] = [];
    w.on('message', (reply) => waiting.shift()?.(reply));
    const run = (job: DecodeJob): Promise<unknown> =>
      new Promise((resolve) => {
        waiting.push(resolve);
        w.postMessage(job);
      });
    return { w, run };
  });
  const jobs: DecodeJob[] = [];
  for (let i = 0; i < messages.length; i += 100) {
    const slice = messages.slice(i, i + 100);
    jobs.push({ topics: slice.map((m) => m.topic), payloads: slice.map((m) => m.payload), compact });
  }
  try {
    // Warm each worker (module load, JIT) before timing, as the main thread is by the drains before.
    for (let r = 0; r < 3; r++)
      await Promise.all(workers.map((x) => Promise.all(jobs.slice(0, 20).map((j) => x.run(j)))));
    const t0 = hr();
    let next = 0;
    await Promise.all(
      workers.flatMap((x) =>
        [0, 1, 2, 3].map(async () => {
          while (next < jobs.length) await x.run(jobs[next++] as DecodeJob);
        }),
      ),
    );
    return messages.length / secs(t0, hr());
  } finally {
    await Promise.all(workers.map((x) => x.w.terminate()));
  }
}

async function main(): Promise<void> {
  const broker = await startMosquitto();
  try {
    const rate = { bare: [] as number[], collector: [] as number[], monitors: [] as number[] };
    const cpu = { bare: [] as number[], collector: [] as number[], monitors: [] as number[] };
    const perCpu = { bare: [] as number[], collector: [] as number[], monitors: [] as number[] };
    const parts: {
      decode: number[];
      store: number[];
      feed: number[];
      rest: number[];
      cycles: number[];
      batch: number[];
    } = {
      batch: [],
      decode: [],
      store: [],
      feed: [],
      rest: [],
      cycles: [],
    };
    const monitorParts = { feed: [] as number[], cycles: [] as number[] };
    let bytes = 0;
    let sample: readonly { topic: string; payload: Buffer }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const messages = buildPayloads(round + 1);
      bytes = median(messages.slice(0, 100).map((m) => m.payload.byteLength));
      sample = messages;
      const drains = {
        bare: await bareSession(broker.url, `bench-bare-${round}`, MESSAGES),
        collector: await collectorSession(broker.url, `bench-collector-${round}`, MESSAGES, undefined),
        monitors: await collectorSession(broker.url, `bench-monitors-${round}`, MESSAGES, () => [
          createIntegrityMonitor(),
        ]),
      };
      await publishAll(broker.url, messages);
      // Rotate the order each round, so no variant always drains first (warmer broker, colder JIT).
      const order = (['bare', 'collector', 'monitors'] as const).map(
        (_, i, a) => a[(i + round) % a.length] ?? 'bare',
      );
      for (const v of order) {
        global.gc?.();
        const d = await drains[v]();
        rate[v].push(MESSAGES / d.seconds);
        cpu[v].push(d.cpuSeconds / d.seconds);
        perCpu[v].push(MESSAGES / d.cpuSeconds);
        if (v === 'collector' && d.parts !== undefined) {
          parts.decode.push((d.parts.decode / MESSAGES) * 1e6);
          parts.store.push((d.parts.store / MESSAGES) * 1e6);
          parts.feed.push((d.parts.feed / MESSAGES) * 1e6);
          parts.rest.push(((d.cpuSeconds - d.parts.decode - d.parts.store - d.parts.feed) / MESSAGES) * 1e6);
          parts.batch.push(MESSAGES / d.parts.batches);
        }
        if (v === 'monitors' && d.parts !== undefined) {
          monitorParts.feed.push((d.parts.feed / MESSAGES) * 1e6);
          monitorParts.cycles.push((d.parts.monitorCycles / MESSAGES) * 1e6);
        }
        process.stderr.write(
          `round ${round + 1} ${v}: ${fmt(MESSAGES / d.seconds)} windows/s ${JSON.stringify(d)}\n`,
        );
      }
    }
    const here = [decodeHere(sample), decodeHere(sample), decodeHere(sample)];
    const decode1 = median(here.map((h) => h.wall));
    const decodeCpu = median(here.map((h) => h.cpu));
    // A yardstick for how loaded the machine is: the issue measured JSON.parse at ~33 µs per message.
    const parseUs = median(
      [0, 1, 2].map(() => {
        const c0 = cpuNow();
        for (const m of sample) JSON.parse(m.payload.toString('utf8'));
        return ((cpuNow() - c0) / sample.length) * 1e6;
      }),
    );
    const inWorkers = async (n: number, compact: boolean): Promise<number> =>
      median([await decodeInWorkers(sample, n, compact), await decodeInWorkers(sample, n, compact)]);
    const workers1 = await inWorkers(1, false);
    const workers2 = await inWorkers(2, false);
    const compact2 = await inWorkers(2, true);

    const bare = median(rate.bare);
    // Read off the figures above, so the conclusion is this run's and not a stale sentence.
    const verdict = (): string => {
      const total = median(parts.decode) + median(parts.store) + median(parts.feed) + median(parts.rest);
      const share = (x: number): string => `${Math.round((100 * x) / total)}%`;
      const capacity = median(perCpu.collector);
      return [
        `Where the collector's CPU goes per window: decode ${share(median(parts.decode))}, store ${share(median(parts.store))}, feed ${share(median(parts.feed))}, rest ${share(median(parts.rest))}.`,
        `One free core would ingest about ${fmt(capacity)} windows/s at this machine's speed now (JSON.parse at ${fmt(parseUs)} µs against the issue's 33 µs), so the 10k/s goal is ${capacity >= 10_000 ? 'met' : 'not met'} on one core.`,
        `Decode in 2 workers ran at ${fmt(workers2 / decode1)}x the main thread's rate cloning the messages back, ${fmt(compact2 / decode1)}x replying compactly, so workers ${Math.max(workers2, compact2) > 1.2 * decode1 ? 'help' : 'do not help'} here.`,
      ].join(' ');
    };
    const rows: Row[] = [
      {
        metric: `collector ingest (validate, dedup, SQLite), ${DEVICES} devices`,
        median: median(rate.collector),
        baseline: bare,
        unit: 'windows/s',
      },
      {
        metric: 'collector ingest + monitors (integrity)',
        median: median(rate.monitors),
        baseline: bare,
        unit: 'windows/s',
      },
      {
        metric: 'collector ingest per CPU-second of this process (capacity of one free core)',
        median: median(perCpu.collector),
        baseline: median(perCpu.bare),
        unit: 'windows/s',
      },
      {
        metric: 'same, collector ingest + monitors (integrity)',
        median: median(perCpu.monitors),
        baseline: median(perCpu.bare),
        unit: 'windows/s',
      },
      {
        metric: 'CPU use of this process during the drain (collector / bare)',
        median: median(cpu.collector),
        baseline: median(cpu.bare),
        unit: 'cores',
      },
      {
        metric: 'per window, CPU: decode + validate + dedup (accept() less store writes)',
        median: median(parts.decode),
        unit: 'µs',
      },
      {
        metric: 'per window, CPU: store write (SQLite, batches of 500)',
        median: median(parts.store),
        unit: 'µs',
      },
      {
        metric: 'mean messages per batch (500 = the drain was never waiting for the broker)',
        median: median(parts.batch),
      },
      {
        metric: 'per window, CPU: onWritten feed (metrics; no monitors)',
        median: median(parts.feed),
        unit: 'µs',
      },
      {
        metric: 'per window, CPU: rest (MQTT.js parse, sockets, PUBACKs, timers, GC)',
        median: median(parts.rest),
        unit: 'µs',
      },
      {
        metric: 'per window with monitors, CPU: feed (integrity observe) / cycles (wall)',
        median: `${fmt(median(monitorParts.feed))} / ${fmt(median(monitorParts.cycles))}`,
        unit: 'µs',
      },
      { metric: 'decodeMessage alone, main thread, per CPU-second', median: decodeCpu, unit: 'windows/s' },
      {
        metric: 'JSON.parse alone, CPU per message (the issue measured ~33 µs)',
        median: parseUs,
        unit: 'µs',
      },
      {
        metric: 'decodeMessage alone, 1 worker thread (main thread = baseline)',
        median: workers1,
        baseline: decode1,
        unit: 'windows/s',
      },
      {
        metric: 'decodeMessage alone, 2 worker threads (main thread = baseline)',
        median: workers2,
        baseline: decode1,
        unit: 'windows/s',
      },
      {
        metric: 'same, 2 workers replying compactly (features as one transferred Float32Array)',
        median: compact2,
        baseline: decode1,
        unit: 'windows/s',
      },
    ];
    process.stdout.write(
      section('Collector ingest', 'node --expose-gc --import tsx bench/collector-ingest.bench.ts', rows, [
        `${MESSAGES} telemetry messages per variant and round (${fmt(bytes)} bytes each, 192 features, ${DEVICES} devices, QoS 1), ${ROUNDS} rounds; medians.`,
        'Each subscriber drains the queue its persistent session built up on a private Mosquitto (max_queued_messages 0), so no publisher competes for the CPU; the bare MQTT.js subscriber (baseline) drains the same messages in the same round.',
        'The collector variants are collector/main.ts\'s ingest wiring minus HTTP: the collector subscriber (PUBACKs held until commit), Ingest (size check, decodeMessage, SequenceTracker dedup), SQLite WAL batches of 500 or 200 ms, metrics. Monitors: collector/monitor/engine.ts with the integrity monitor, evaluated every second. The drift monitor is left out here: its feed (observe) costs about 21 to 25 µs per window and a whole 1,000-device cycle about 0.5 s, both measured in "## Drift evaluation cycle (collector)".',
        'Decode in workers (no broker traffic meanwhile): batches of 100 payloads posted to worker threads, 4 batches in flight per worker, the decoded messages cloned back, or (compact) envelopes plus the features in one transferred Float32Array; the main-thread baseline is decodeMessage in a loop.',
        verdict(),
      ]),
    );
  } finally {
    await broker.close();
  }
}

if (isMainThread) await main();
