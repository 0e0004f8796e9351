// The whole agent (issue #4 §6 "Benchmarks"): one `edgeloop agent` process reading the reference board
// (docs/serial-protocol.md: 1 kHz accel+gyro, 100 Hz mag, env sensors) from a real pseudo-terminal, with
// features, a signed ONNX model installed over the MQTT model command topic, the SQLite outbox and QoS 1
// publishing to a Mosquitto of our own. `edgeloop sim` writes the board's stream in another child process;
// a subscriber in this process times every telemetry message. Measured: the agent's CPU share and resident
// memory from /proc at real time, latency from the window's last sample to the subscriber, the highest
// speed the agent keeps up with, and (baseline, same broker, same subscriber) a bare MQTT.js publisher.
//
// The agent and the simulator run the production build, `node dist/cli/edgeloop.js` (the bench runs
// `npm run build` first), never tsx, so memory is what a gateway sees. A bare `node -e` process idles next
// to the agent for the whole run: its RSS is the floor any Node program pays on this machine.
// BENCH_AGENT_QUICK=1 skips the speed ladder (for iterating on memory); BENCH_AGENT_NODE_OPTIONS replaces the
// NODE_OPTIONS the agent gets from the service unit.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { createVirtualSerialPair } from '../firmware-sim/adapters/pty.ts';
import { generateSigningKeyPair } from '../shared/bundle/signing.ts';
import { encodeJsonPayload } from '../shared/mqtt/codec.ts';
import { buildTopic, type TopicKind } from '../shared/mqtt/topics.ts';
import {
  archiveOf,
  installCommand,
  makeModelBundle,
  startFileServer,
} from '../test/integration/agent-model-fixture.ts';
import { freePort, tcpReachable } from '../test/integration/agent-mqtt-fixture.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { quantile } from 'simple-statistics';
import { median, section, type Row } from './lib.ts';

const root = new URL('..', import.meta.url).pathname;
const DEVICE = 'bench-1';
/** Sample vectors per device second on the reference board: 2 × 1000 (IMU) + 100 (mag) + 12 (env). */
const SAMPLES_PER_S = 2112;
/** Channel values per device second: 3 × 1000 + 3 × 1000 + 3 × 100 + 1 + 10 + 1 (13 channels). */
const CHANNEL_VALUES_PER_S = 6312;
const REALTIME_S = 34;
const LADDER_WALL_S = 10;
const MAX_SPEED = 256;
const DRAIN_MS = 3000;
const BARE_N = 5000;
const IN_FLIGHT = 64;
const CLK_TCK = 100; // Linux USER_HZ on every mainstream architecture: /proc/<pid>/stat counts in these.

const topic = (kind: TopicKind, device = DEVICE): string => {
  const t = buildTopic(kind, device);
  if (!t.ok) throw new Error(t.message);
  return t.value;
};
const TELEMETRY = topic('telemetry');
const BARE_TOPIC = topic('telemetry', 'bench-bare');

interface Arrival {
  readonly atMs: number;
  readonly index: number;
  readonly endUs: number;
  readonly predicted: boolean;
  readonly bytes: number;
  readonly bootId: number;
}

const cleanups: (() => unknown)[] = [];
const later = (fn: () => unknown): void => {
  cleanups.push(fn);
};

/** SIGTERM, then SIGKILL after 5 s; resolves when the child is gone. Idempotent. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    kill.unref();
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function spawnEdgeloop(args: readonly string[], onLine: (line: string) => void): ChildProcess {
  // The production build, as the service unit runs it (docs/deploy/edgeloop-agent.service); the unit's
  // NODE_OPTIONS apply to the agent only, the simulator runs with Node's defaults.
  const child = spawn(process.execPath, ['dist/cli/edgeloop.js', ...args], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NODE_OPTIONS: args[0] === 'agent' ? AGENT_NODE_OPTIONS : '',
    },
  });
  let buf = '';
  child.stderr.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  later(() => stop(child));
  return child;
}

/** Mosquitto on a free port: no persistence, no cap on queued QoS 1 messages (none dropped for us). */
async function startBroker(dir: string): Promise<string> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  later(() => stop(child));
  await waitFor(
    'mosquitto',
    async () => {
      if (child.exitCode !== null) throw new Error('mosquitto exited');
      return tcpReachable('127.0.0.1', port, 200);
    },
    { timeoutMs: 10_000 },
  );
  return `mqtt://127.0.0.1:${String(port)}`;
}

function procStat(pid: number): { cpuMs: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  // VmHWM is the kernel's own peak of VmRSS over the process's life: no sampling can miss a spike.
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

interface SimRun {
  /** performance.now() when the sim logged its start line, just before its pacing clock starts. */
  t0Ms: number;
  /** Device time minus scenario time, ms (from the first progress line; 0 until then). */
  offsetMs: number;
  /** The sim's own wall time for the run, s (from its summary line). */
  wallS: number;
  /** Resolves when the sim child has exited. */
  exited: Promise<void>;
}

function startSim(devicePath: string, speed: number, durationS: number, seed: number): SimRun {
  const run: SimRun = { t0Ms: Number.NaN, offsetMs: 0, wallS: Number.NaN, exited: Promise.resolve() };
  let sawProgress = false;
  // Temp paths hold no spaces, so a split command line is safe here.
  const args = `sim --scenario steady --seed ${String(seed)} --duration ${String(durationS)} --speed ${String(speed)} --device-id ${DEVICE} --out ${devicePath}`;
  const child = spawnEdgeloop(args.split(' '), (line) => {
    if (line.startsWith('sim: scenario')) run.t0Ms = performance.now();
    const p = /^sim: t=([\d.]+) s device=([\d.]+) s/.exec(line);
    if (p !== null && !sawProgress) {
      sawProgress = true;
      run.offsetMs = Math.round((Number(p[2]) - Number(p[1])) * 10) * 100;
    }
    const d = /^sim: done: .* in ([\d.]+) s/.exec(line);
    if (d !== null) run.wallS = Number(d[1]);
  });
  run.exited = new Promise<void>((r) =>
    child.once('exit', () => {
      r();
    }),
  );
  return run;
}

/** Wall lag of a window: arrival minus the wall time its end was due (t0 + device end / speed). */
const lagMs = (a: Arrival, sim: SimRun, speed: number): number =>
  a.atMs - (sim.t0Ms + (a.endUs / 1000 - sim.offsetMs) / speed);

const QUICK = process.env.BENCH_AGENT_QUICK === '1';
/**
 * The agent's NODE_OPTIONS, read from the service unit (docs/deploy/edgeloop-agent.service), so the
 * benchmark measures the flags a gateway runs with. BENCH_AGENT_NODE_OPTIONS overrides them (experiments).
 */
const UNIT_NODE_OPTIONS =
  /^Environment=NODE_OPTIONS=(.*)$/m.exec(
    readFileSync(`${root}docs/deploy/edgeloop-agent.service`, 'utf8'),
  )?.[1] ?? '';
const AGENT_NODE_OPTIONS = process.env.BENCH_AGENT_NODE_OPTIONS ?? UNIT_NODE_OPTIONS;

const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
if (build.status !== 0) {
  process.stderr.write(`${build.stdout}${build.stderr}`);
  throw new Error(`npm run build failed (exit ${String(build.status)})`);
}

const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-agent-'));
later(() => {
  rmSync(dir, { recursive: true, force: true });
});
try {
  const url = await startBroker(dir);
  // Baseline: a bare Node process that only idles, alive for the whole run, sampled with the agent.
  const bareNode = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  later(() => stop(bareNode));
  const barePid = bareNode.pid;
  if (barePid === undefined) throw new Error('bare node did not start');
  const pair = await createVirtualSerialPair();
  if (!pair.ok) throw new Error(pair.message);
  later(() => pair.value.close());

  // The subscriber: every telemetry message of the agent and of the bare publisher, timed on arrival.
  const arrivals: Arrival[] = [];
  const states: string[] = [];
  let bareGot = 0;
  const sub: MqttClient = connect(url, { clientId: 'bench-sub', clean: true, reconnectPeriod: 0 });
  later(() => sub.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    sub.once('connect', () => {
      sub.subscribe([`edgeloop/v1/devices/${DEVICE}/#`, BARE_TOPIC], { qos: 1 }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    sub.once('error', reject);
  });
  sub.on('message', (t, payload) => {
    const atMs = performance.now();
    if (t === BARE_TOPIC) bareGot++;
    else if (t === TELEMETRY) {
      const m = JSON.parse(payload.toString()) as {
        bootId: number;
        window: { index: number; endUs: number };
        prediction: unknown;
      };
      arrivals.push({
        atMs,
        index: m.window.index,
        endUs: m.window.endUs,
        predicted: m.prediction !== null,
        bytes: payload.length,
        bootId: m.bootId,
      });
    } else if (t === topic('modelState'))
      states.push((JSON.parse(payload.toString()) as { state: string }).state);
  });

  // A real signed bundle (softmax regression over the 192 reference features), served over HTTP.
  const key = generateSigningKeyPair();
  const keyFile = join(dir, 'release.pub');
  writeFileSync(keyFile, key.publicKeyPem);
  const files = await startFileServer({ after: later });
  const bundle = await makeModelBundle(key, { name: 'pump-condition', version: '1.0.0' });
  const archive = archiveOf(bundle);
  files.set('/bundles/pump-condition-1.0.0.tar', archive);

  let agentReady = false;
  const agentLog: string[] = [];
  const agentArgs = `agent --serial ${pair.value.portPath} --mqtt ${url} --device-id ${DEVICE} --data-dir ${join(dir, 'state')} --trusted-key ${keyFile} --registry ${files.url}/bundles --model-health-windows 3 --metrics-port 0`;
  const agent = spawnEdgeloop(agentArgs.split(' '), (line) => {
    if (agentLog.length < 200) agentLog.push(line);
    if (line.includes('metrics at')) agentReady = true;
  });

  const pid = agent.pid;
  if (pid === undefined) throw new Error('agent did not start');
  await waitFor(
    'agent start',
    () => {
      if (agent.exitCode !== null) throw new Error(`agent exited: ${agentLog.join('\n')}`);
      return agentReady;
    },
    { timeoutMs: 30_000 },
  );

  const atStart = { ...procStat(pid), bareKb: procStat(barePid).rssKb };
  // Real time: install the model while the board streams, then measure once it serves predictions.
  const rt = startSim(pair.value.devicePath, 1, REALTIME_S, 1);
  await waitFor('first telemetry', () => arrivals.length >= 3, { timeoutMs: 20_000 });
  const beforeModel = procStat(pid);
  const cmd = encodeJsonPayload('modelCommand', {
    ...installCommand(`${files.url}/bundles/pump-condition-1.0.0.tar`, archive, { deploySeq: 1 }),
    deviceId: DEVICE,
  });
  if (!cmd.ok) throw new Error(cmd.message);
  await sub.publishAsync(topic('modelCommand'), Buffer.from(cmd.value), { qos: 1 });
  await waitFor(
    'model commit',
    () => states.some((s) => ['COMMITTED', 'FAILED', 'ROLLED_BACK'].includes(s)),
    { timeoutMs: 20_000 },
  );
  if (!states.includes('COMMITTED')) throw new Error(`model not committed: ${states.join(' ')}`);
  const firstServed = arrivals.length;
  const afterCommit = procStat(pid);
  process.stderr.write(
    `agent bench: RSS MiB at start ${(atStart.rssKb / 1024).toFixed(1)}, streaming without a model ${(beforeModel.rssKb / 1024).toFixed(1)} (peak ${(beforeModel.hwmKb / 1024).toFixed(1)}), model committed ${(afterCommit.rssKb / 1024).toFixed(1)} (peak ${(afterCommit.hwmKb / 1024).toFixed(1)})\n`,
  );
  await waitFor('warm-up windows', () => arrivals.length >= firstServed + 2, { timeoutMs: 10_000 });
  const from = arrivals.length;
  const s0 = procStat(pid);
  const w0 = performance.now();
  const rss: number[] = [];
  const bareRss: number[] = [];
  const sample = (): void => {
    rss.push(procStat(pid).rssKb);
    bareRss.push(procStat(barePid).rssKb);
  };
  const sampling = setInterval(sample, 500);
  sample();
  await rt.exited;
  clearInterval(sampling);
  const hwmAfterRealTimeKb = procStat(pid).hwmKb;
  const s1 = procStat(pid);
  const cpuWallMs = performance.now() - w0;
  const cpuShare = (100 * (s1.cpuMs - s0.cpuMs)) / cpuWallMs;
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  const measured = arrivals.slice(from);
  const lat = measured.map((a) => lagMs(a, rt, 1));
  const served = measured.filter((a) => a.predicted).length;
  const payloadBytes = median(measured.map((a) => a.bytes));

  // Highest sustainable speed: ~10 s of wall time per speed, doubling until the agent falls behind.
  interface Step {
    speed: number;
    windows: number;
    maxDevIndex: number;
    lagMaxMs: number;
    growthMs: number;
    ok: boolean;
    simLimited: boolean;
    cpuPct: number;
    simWallS: number;
  }
  const ladder: Step[] = [];
  for (let speed = 2, seed = 2; !QUICK && speed <= MAX_SPEED; speed *= 2, seed++) {
    const durationS = LADDER_WALL_S * speed;
    const start = arrivals.length;
    const c0 = procStat(pid).cpuMs;
    const t0 = performance.now();
    const sim = startSim(pair.value.devicePath, speed, durationS, seed);
    await sim.exited;
    const cpuPct = (100 * (procStat(pid).cpuMs - c0)) / (performance.now() - t0);
    await new Promise((r) => setTimeout(r, DRAIN_MS));
    // Only this run's boot: the previous run's last window, still open, is flushed when this one starts.
    const boot = arrivals.at(-1)?.bootId;
    const got = arrivals.slice(start).filter((a) => a.bootId === boot);
    const lags = got.map((a) => lagMs(a, sim, speed));
    const q = Math.max(1, Math.floor(lags.length / 4));
    const growthMs = median(lags.slice(-q)) - median(lags.slice(0, q));
    const lagMaxMs = Math.max(...lags);
    // The agent closes a window when a later sample arrives, so the run's last window may stay open.
    const complete = got.length >= durationS - 1;
    const simLimited = sim.wallS > (durationS / speed) * 1.2;
    const step: Step = {
      speed,
      windows: got.length,
      maxDevIndex: Math.max(...got.map((a) => a.index)),
      lagMaxMs,
      growthMs,
      ok: complete && lagMaxMs < 1000 && growthMs < 250,
      simLimited,
      cpuPct,
      simWallS: sim.wallS,
    };
    ladder.push(step);
    process.stderr.write(`agent bench: ${JSON.stringify(step)}\n`);
    if (!step.ok || simLimited) break;
  }
  const best = ladder.filter((s) => s.ok && !s.simLimited).at(-1);
  const peakKb = procStat(pid).hwmKb;
  const barePeakKb = procStat(barePid).hwmKb;
  const stopReason = ((): string => {
    const last = ladder.at(-1);
    if (last === undefined) return 'no run';
    if (last.simLimited)
      return `the simulator could not pace ${String(last.speed)}x over the pty (it took ${last.simWallS.toFixed(1)} s for ${String(LADDER_WALL_S)} s of schedule; lag there is measured against a schedule the simulator itself missed, so it says nothing about the agent)`;
    if (!last.ok)
      return `at ${String(last.speed)}x the agent fell behind (${String(last.windows)} of ${String(LADDER_WALL_S * last.speed)} windows within ${String(DRAIN_MS)} ms, max lag ${last.lagMaxMs.toFixed(0)} ms, lag growth ${last.growthMs.toFixed(0)} ms)`;
    return `the ladder stops at ${String(MAX_SPEED)}x`;
  })();
  await stop(agent);

  // Baseline: a bare MQTT.js QoS 1 publisher, same payload size, same broker and subscriber.
  const bare = connect(url, { clientId: 'bench-bare', reconnectPeriod: 0 });
  later(() => bare.endAsync(true));
  await new Promise<void>((r) =>
    bare.once('connect', () => {
      r();
    }),
  );
  const payload = Buffer.alloc(payloadBytes, 0x20);
  const bareRates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    bareGot = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let sent = 0;
      let acked = 0;
      const more = (): void => {
        while (sent < BARE_N && sent - acked < IN_FLIGHT) {
          sent++;
          bare.publish(BARE_TOPIC, payload, { qos: 1 }, () => {
            acked++;
            if (acked === BARE_N) resolve();
            else more();
          });
        }
      };
      more();
    });
    await waitFor('bare messages', () => bareGot >= BARE_N, { timeoutMs: 60_000 });
    bareRates.push((BARE_N / (performance.now() - t0)) * 1000);
  }
  const bareRate = median(bareRates);

  const bestSpeed = best?.speed ?? 1;
  const rows: Row[] = [
    {
      metric: 'agent CPU at real time (reference board, model serving)',
      median: cpuShare,
      unit: '% of one core',
    },
    {
      metric: 'steady RSS at real time, model serving (baseline: bare `node -e` idling)',
      median: median(rss) / 1024,
      baseline: median(bareRss) / 1024,
      unit: 'MiB',
    },
    {
      metric: 'peak RSS, VmHWM over the whole run (baseline: bare `node -e`)',
      median: peakKb / 1024,
      baseline: barePeakKb / 1024,
      unit: 'MiB',
    },
    {
      metric: 'RSS once started, before the board streams',
      median: atStart.rssKb / 1024,
      baseline: atStart.bareKb / 1024,
      unit: 'MiB',
    },
    {
      metric: 'RSS streaming, before any model (peak so far in brackets)',
      median: `${(beforeModel.rssKb / 1024).toFixed(1)} (${(beforeModel.hwmKb / 1024).toFixed(1)})`,
      unit: 'MiB',
    },
    {
      metric: 'peak RSS up to the end of real time (model installed and serving)',
      median: hwmAfterRealTimeKb / 1024,
      unit: 'MiB',
    },
    { metric: 'latency, window end → subscriber, p50 (real time)', median: quantile(lat, 0.5), unit: 'ms' },
    { metric: 'latency, window end → subscriber, p99 (real time)', median: quantile(lat, 0.99), unit: 'ms' },
    {
      metric: 'highest sustainable speed (sample vectors/s = 2112 × speed)',
      median: `${String(bestSpeed)}x = ${String(SAMPLES_PER_S * bestSpeed)} samples/s`,
    },
    {
      metric: 'telemetry delivered at that speed vs bare MQTT.js QoS 1 delivery',
      median: bestSpeed,
      baseline: bareRate,
      unit: 'msg/s',
    },
  ];
  process.stdout.write(
    section('Whole agent (ingestion + features + inference + MQTT)', 'npm run bench -- agent', rows, [
      `One \`edgeloop agent\` process, the production build (\`npm run build\`, then \`NODE_OPTIONS='${AGENT_NODE_OPTIONS}' node dist/cli/edgeloop.js agent\`, as the service unit runs it), reads \`edgeloop sim --scenario steady\` over a socat pty pair and publishes QoS 1 to a Mosquitto of our own (no persistence, max_queued_messages 0); SQLite outbox, 1 s windows, 192 features, a signed softmax-regression ONNX bundle installed over the model command topic (${String(served)} of ${String(measured.length)} measured windows carried a prediction).`,
      `Real time: ${String(measured.length)} windows at speed 1 after the model committed and 2 warm-up windows. CPU is utime+stime of the agent process (all threads) from /proc/<pid>/stat over ${(cpuWallMs / 1000).toFixed(1)} s; steady RSS is the median of VmRSS sampled every 500 ms from /proc/<pid>/status during real time; peak RSS is the kernel's VmHWM (highest VmRSS of the process's life: start, model download, verification, golden test, hot swap, real time and the speed ladder). The baseline is a bare \`node -e 'setInterval(() => {}, 1 << 30)'\` started with the broker and sampled at the same instants: the agent's own cost is the difference. For the CPU of the bare serial reading alone, see "Serial end to end".`,
      `Memory: peak ${((peakKb * 1024) / 1e6).toFixed(1)} MB (${(peakKb / 1024).toFixed(1)} MiB) over the whole run, ${((hwmAfterRealTimeKb * 1024) / 1e6).toFixed(1)} MB up to the end of real time with the model serving; steady ${((median(rss) * 1024) / 1e6).toFixed(1)} MB. Phases: ${(atStart.rssKb / 1024).toFixed(1)} MiB once started (modules, SQLite outbox, broker session), ${(beforeModel.rssKb / 1024).toFixed(1)} MiB streaming without a model, ${(afterCommit.rssKb / 1024).toFixed(1)} MiB once the model committed (onnxruntime's first session is most of the step). docs/deploy/README.md "Memory" explains what costs what and the NODE_OPTIONS the unit sets.`,
      `Latency: subscriber arrival minus the wall time the window's end (window.endUs, device time) was due, t0 + endUs, with t0 taken when the simulator logs its start line just before its pacing clock starts. The simulator writes 20 ms chunks up to 20 ms ahead of their device time, so the figures can read up to ~20 ms low; they include broker → subscriber delivery.`,
      `Highest sustainable speed: ${String(LADDER_WALL_S)} s of wall time per speed, doubling from 2x; a speed passes when every window but the last arrives within ${String(DRAIN_MS)} ms of the simulator's end, no window lags more than 1 s and the lag does not grow (last-quarter median minus first-quarter median < 250 ms). Stopped because ${stopReason}. Speeds tried (max lag, agent CPU): ${ladder.map((s) => `${String(s.speed)}x ${s.ok ? 'ok' : 'behind'}${s.simLimited ? ' (sim-limited)' : ''} (${s.lagMaxMs.toFixed(0)} ms, ${s.cpuPct.toFixed(0)} %)`).join(', ')}. One sample vector is one timestamped reading of one sensor: 1000 accel + 1000 gyro + 100 mag + 1 + 10 + 1 env = ${String(SAMPLES_PER_S)} vectors/s at 1x, which is ${String(CHANNEL_VALUES_PER_S)} channel values/s over the 13 channels.`,
      `Baseline: a bare MQTT.js QoS 1 publisher, ${String(IN_FLIGHT)} in flight, ${String(BARE_N)} messages of ${String(payloadBytes)} B (the median telemetry size), end to end to the same subscriber; median of 3. The agent sends one telemetry message per window, so its message rate is the speed; outbox write and replay rates are in "Outbox".`,
    ]),
  );
} finally {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch {
      // Best effort: keep closing the rest.
    }
  }
}
