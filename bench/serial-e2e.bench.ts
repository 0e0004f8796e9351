// End to end over a real pseudo-terminal: `edgeloop sim` in a child process writes the reference board's
// stream to the device end; this process reads the other end either with the agent's ingestion (decode,
// loss accounting, windowing, integrity) or with a bare byte reader (the baseline: the cost of just
// getting the bytes off the pty). CPU is this process's user+system time while it reads.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { openSerialPort } from '../agent/adapters/serialport.ts';
import { IngestPipeline } from '../agent/ingest/pipeline.ts';
import { SerialReader } from '../agent/ingest/serial-reader.ts';
import { createVirtualSerialPair } from '../firmware-sim/adapters/pty.ts';
import { loadScenario } from '../firmware-sim/adapters/scenario-files.ts';
import { createBoard } from '../firmware-sim/board.ts';
import { median, section } from './lib.ts';

const root = new URL('..', import.meta.url).pathname;
const scenario = loadScenario('steady');
if (!scenario.ok) throw new Error(scenario.message);

interface RunResult {
  wallMs: number;
  cpuMs: number;
  samples: number;
  bytes: number;
}

function expected(durationS: number): { bytes: number; samples: number } {
  if (!scenario.ok) throw new Error(scenario.message);
  const board = createBoard({ scenario: scenario.value, seed: 1 });
  const bytes = board.generate(durationS * 1e6);
  const samples = Object.values(board.groundTruth.sensors).reduce((a, s) => a + s.generated, 0);
  return { bytes: bytes.length, samples };
}

async function run(mode: 'agent' | 'bare', durationS: number, speed: string): Promise<RunResult> {
  const pair = await createVirtualSerialPair();
  if (!pair.ok) throw new Error(pair.message);
  const want = expected(durationS);
  let bytes = 0;
  let samples = 0;
  let port: Duplex | undefined;
  let reader: SerialReader | undefined;
  let pipeline: IngestPipeline | undefined;
  if (mode === 'agent') {
    pipeline = new IngestPipeline({}, () => undefined);
    const p = pipeline;
    reader = new SerialReader({
      open: () => openSerialPort({ path: pair.value.portPath, baudRate: 921_600 }),
      pipeline: p,
    });
    reader.start();
  } else {
    const r = await openSerialPort({ path: pair.value.portPath, baudRate: 921_600 });
    if (!r.ok) throw new Error(r.message);
    port = r.value;
    port.on('data', (b: Buffer) => (bytes += b.length));
  }
  await new Promise((r) => setTimeout(r, 200));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      'bin/edgeloop.js',
      'sim',
      '--scenario',
      'steady',
      '--seed',
      '1',
      '--duration',
      String(durationS),
      '--speed',
      speed,
      '--out',
      pair.value.devicePath,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' } },
  );
  const exited = once(child, 'exit');
  const done = (): boolean => {
    if (pipeline !== undefined)
      samples = Object.values(pipeline.stats().stream.samples).reduce((a, b) => a + b, 0);
    return mode === 'agent' ? samples >= want.samples : bytes >= want.bytes;
  };
  const deadline = Date.now() + 120_000;
  // Poll rarely: the polling itself is CPU this process is charged for, in both modes alike.
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  await exited;
  await reader?.close();
  port?.destroy();
  await pair.value.close();
  if (!done()) throw new Error(`${mode}: incomplete (${String(mode === 'agent' ? samples : bytes)})`);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, samples: want.samples, bytes: want.bytes };
}

const reps = 3;
async function medianOf(mode: 'agent' | 'bare', durationS: number, speed: string): Promise<RunResult> {
  const rs: RunResult[] = [];
  for (let i = 0; i < reps; i++) rs.push(await run(mode, durationS, speed));
  return {
    wallMs: median(rs.map((r) => r.wallMs)),
    cpuMs: median(rs.map((r) => r.cpuMs)),
    samples: rs[0]!.samples,
    bytes: rs[0]!.bytes,
  };
}

// Throughput: 300 s of device time as fast as the pty carries it.
const maxAgent = await medianOf('agent', 300, 'max');
const maxBare = await medianOf('bare', 300, 'max');
// The line rate of a 921600-baud link (8N1: 92,160 bytes/s) is this many times the board's byte rate.
const boardBytesPerS = maxAgent.bytes / 300;
const lineSpeed = (92_160 / boardBytesPerS).toFixed(2);
const lineAgent = await medianOf('agent', 60, lineSpeed);
const lineBare = await medianOf('bare', 60, lineSpeed);
// Real time: the reference board at 1 kHz x 6 IMU channels + magnetometer + environment, 10 s.
const rtAgent = await medianOf('agent', 10, '1');
const rtBare = await medianOf('bare', 10, '1');

const pct = (r: RunResult): number => (100 * r.cpuMs) / r.wallMs;
process.stdout.write(
  section(
    'Serial end to end (simulator -> pty -> agent ingestion)',
    'npm run bench -- serial-e2e',
    [
      {
        metric: 'samples/s, as fast as the pty carries them',
        median: maxAgent.samples / (maxAgent.wallMs / 1000),
        baseline: maxBare.samples / (maxBare.wallMs / 1000),
        unit: 'samples/s',
      },
      {
        metric: 'MB/s over the pty',
        median: maxAgent.bytes / maxAgent.wallMs / 1000,
        baseline: maxBare.bytes / maxBare.wallMs / 1000,
        unit: 'MB/s',
      },
      {
        metric: `reader CPU at the 921600-baud line rate (${lineSpeed}x real time)`,
        median: pct(lineAgent),
        baseline: pct(lineBare),
        unit: '% of one core',
      },
      {
        metric: 'reader CPU for the reference board in real time',
        median: pct(rtAgent),
        baseline: pct(rtBare),
        unit: '% of one core',
      },
      {
        metric: 'reader CPU per second of device data (max speed)',
        median: maxAgent.cpuMs / 300,
        baseline: maxBare.cpuMs / 300,
        unit: 'ms',
      },
    ],
    [
      `The baseline is a bare byte reader on the same pty (serialport, counting bytes). The board stream is ${(boardBytesPerS / 1000).toFixed(1)} kB/s (${String(Math.round(maxAgent.samples / 300))} samples/s); medians of ${String(reps)} runs. The simulator runs in a child process and is not counted.`,
    ],
  ),
);
