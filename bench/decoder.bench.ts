// Serial decoder throughput (issue #2 §5): FrameDecoder on a realistic reference-board stream, against a
// baseline measured in the same run over the same bytes: a bare loop that only finds the 0x00 delimiters.
// Run: node --import tsx bench/decoder.bench.ts  (prints one Markdown section to stdout)
import { cpuMs, fmt, median, section } from './lib.ts';
import { encodeWireFrame, FrameDecoder } from '../shared/serial/decoder.ts';
import { decodeSampleValues, encodeSampleValues, type Frame } from '../shared/serial/frames.ts';
import { referenceSensors } from '../shared/sensors.ts';

const DEVICE_SECONDS = 300;
const CHUNK_BYTES = 4096; // a typical read() size from a tty
const RUNS = 7;
const LINE_RATE_BYTES = 921_600 / 10; // 8N1: 10 bits per byte

/** The reference board's stream in time order: IMU 10 samples per frame, others 1, a 1 Hz heartbeat. */
function buildStream(seconds: number): { bytes: Uint8Array; frames: number; samples: number } {
  const events: { t: number; frame: Frame }[] = [];
  let noise = 1;
  const rnd = (): number => {
    noise = (Math.imul(noise, 1103515245) + 12345) >>> 0;
    return noise / 2 ** 32 - 0.5;
  };
  let samples = 0;
  for (const s of referenceSensors) {
    const perFrame = s.rateHz >= 1000 ? 10 : 1;
    const nFrames = Math.round((seconds * s.rateHz) / perFrame);
    for (let k = 0; k < nFrames; k++) {
      const firstIndex = k * perFrame;
      const values: number[] = [];
      for (let i = 0; i < perFrame; i++) {
        const t = (firstIndex + i) / s.rateHz;
        for (let a = 0; a < s.axes.length; a++) {
          const mid = (s.rangeMin + s.rangeMax) / 2;
          const span = (s.rangeMax - s.rangeMin) / 2;
          values.push(mid + span * (0.1 * Math.sin(2 * Math.PI * 29.5 * t + a) + 0.01 * rnd()));
        }
      }
      const timestampUs = Math.round((firstIndex * 1e6) / s.rateHz);
      const data = encodeSampleValues(values, s);
      events.push({
        t: timestampUs,
        frame: { type: 'samples', seq: 0, sensorId: s.id, timestampUs, firstIndex, count: perFrame, data },
      });
      samples += perFrame;
    }
  }
  for (let sec = 0; sec < seconds; sec++) {
    events.push({
      t: sec * 1e6,
      frame: {
        type: 'status',
        seq: 0,
        code: 0,
        severity: 'info',
        sensorId: 255,
        droppedSamples: 0,
        message: '',
      },
    });
  }
  events.sort((a, b) => a.t - b.t);
  const hello: Frame = {
    type: 'hello',
    seq: 0,
    device: {
      deviceId: 'bench-0001',
      firmwareVersion: '1.0.0',
      protocolVersion: 1,
      bootId: 7,
      sensors: referenceSensors,
    },
  };
  const wire = [
    Uint8Array.of(0),
    encodeWireFrame(hello),
    ...events.map((e, i) => encodeWireFrame({ ...e.frame, seq: i + 1 })),
  ];
  const bytes = new Uint8Array(wire.reduce((n, w) => n + w.length, 0));
  let at = 0;
  for (const w of wire) {
    bytes.set(w, at);
    at += w.length;
  }
  return { bytes, frames: events.length + 1, samples };
}

const stream = buildStream(DEVICE_SECONDS);
const chunks: Uint8Array[] = [];
for (let at = 0; at < stream.bytes.length; at += CHUNK_BYTES)
  chunks.push(stream.bytes.subarray(at, at + CHUNK_BYTES));

let sink = 0;
function decodeOnly(): void {
  const d = new FrameDecoder();
  let frames = 0;
  for (const c of chunks) d.push(c, (e) => (e.ok ? frames++ : undefined));
  if (frames !== stream.frames || d.counters.invalidTotal !== 0)
    throw new Error(`decoded ${frames} of ${stream.frames} frames`);
  sink += frames;
}
function decodeAndScale(): void {
  const d = new FrameDecoder();
  let values = 0;
  for (const c of chunks) {
    d.push(c, (e) => {
      if (!e.ok || e.frame.type !== 'samples') return;
      const s = referenceSensors[e.frame.sensorId];
      if (s === undefined) return;
      const r = decodeSampleValues(e.frame, s);
      if (r.ok) values += r.value.length;
    });
  }
  sink += values;
}
/** Baseline: only what any framing reader must do, find each delimiter. */
function scanDelimiters(): void {
  let n = 0;
  for (const c of chunks) {
    for (let at = c.indexOf(0); at !== -1; at = c.indexOf(0, at + 1)) n++;
  }
  if (n !== stream.frames + 1) throw new Error(`found ${n} delimiters`);
  sink += n;
}

/**
 * CPU time (user + system) of each run rather than wall time: this is a shared 2-core box, often loaded, and
 * time spent preempted is not the decoder's cost. Runs of the three loops interleave so drift hits all alike.
 */
async function measure(): Promise<{ decode: number; scale: number; scan: number }> {
  const runs = { decode: [] as number[], scale: [] as number[], scan: [] as number[] };
  for (let w = 0; w < 2; w++) {
    decodeOnly();
    decodeAndScale();
    scanDelimiters();
  }
  for (let i = 0; i < RUNS; i++) {
    runs.decode.push((await cpuMs(decodeOnly)).cpuMs);
    runs.scale.push((await cpuMs(decodeAndScale)).cpuMs);
    runs.scan.push((await cpuMs(scanDelimiters)).cpuMs);
  }
  return { decode: median(runs.decode), scale: median(runs.scale), scan: median(runs.scan) };
}
const { decode: decodeMs, scale: scaleMs, scan: scanMs } = await measure();
if (sink === 0) throw new Error('nothing measured');

const mb = stream.bytes.length / 1e6;
const perSec = (n: number, ms: number): number => n / (ms / 1000);
const decodeBps = perSec(stream.bytes.length, decodeMs);
const scaleBps = perSec(stream.bytes.length, scaleMs);
const boardBps = stream.bytes.length / DEVICE_SECONDS;
const pct = (x: number): string => `${fmt(x * 100)} %`;

process.stdout.write(
  section(
    'Serial decoder',
    'node --import tsx bench/decoder.bench.ts',
    [
      {
        metric: 'FrameDecoder frames/s (baseline: delimiters found/s)',
        median: perSec(stream.frames, decodeMs),
        baseline: perSec(stream.frames + 1, scanMs),
      },
      {
        metric: 'FrameDecoder MB/s (baseline: delimiter scan MB/s)',
        median: mb / (decodeMs / 1000),
        baseline: mb / (scanMs / 1000),
      },
      {
        metric: 'decode + scale samples, MB/s',
        median: mb / (scaleMs / 1000),
        baseline: mb / (scanMs / 1000),
      },
      { metric: 'decode + scale samples, samples/s', median: perSec(stream.samples, scaleMs) },
      {
        metric: "one core's share to decode + scale a full 921600-baud line (92 160 B/s)",
        median: pct(LINE_RATE_BYTES / scaleBps),
      },
      {
        metric: `one core's share for the reference board (${fmt(boardBps)} B/s)`,
        median: pct(boardBps / scaleBps),
      },
    ],
    [
      `Stream: ${DEVICE_SECONDS} s of the reference board (shared/sensors.ts; accel and gyro 10 samples per frame at 1 kHz, mag and environmental 1 per frame, 1 Hz STATUS), ${fmt(mb)} MB, ${fmt(stream.frames)} frames, fed in ${CHUNK_BYTES}-byte chunks; median CPU time of ${RUNS} runs after 2 warm-ups. Decode-only MB/s: ${fmt(decodeBps / 1e6)}.`,
      "Baseline: a loop that only finds the 0x00 delimiters with indexOf over the same chunks, measured in the same process. The ratio is the decoder's speed relative to that floor (COBS, CRC-32 and parsing are the difference).",
    ],
  ),
);
