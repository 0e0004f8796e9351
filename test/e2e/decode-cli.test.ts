// `edgeloop decode` on inputs a firmware engineer really feeds it (issue #8 §4): random bytes, a capture in
// a protocol version it does not speak, a capture with every kind of dropped frame, and `| head`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { decodeCommand } from '../../agent/decode-cli.ts';
import { main } from '../../cli/main.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { cobsEncode } from '../../shared/serial/cobs.ts';
import { crc32 } from '../../shared/serial/crc32.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { CRC_BYTES, encodeFrame, encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const accel = referenceSensors[0]!;

function io(stdout: NodeJS.WritableStream = new PassThrough()) {
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  if (stdout instanceof PassThrough) stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return {
    out: () => o,
    err: () => e,
    io: { stdout, stderr, env: {}, signal: new AbortController().signal },
  };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-decode-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Decoded frame bytes with byte `at` replaced and a fresh CRC, COBS-encoded with its delimiter. */
function rewritten(frame: Frame, at: number, value: number): Uint8Array {
  const body = encodeFrame(frame).slice(0, -CRC_BYTES);
  body[at] = value;
  const raw = new Uint8Array(body.length + CRC_BYTES);
  raw.set(body);
  new DataView(raw.buffer).setUint32(body.length, crc32(body), true);
  return Uint8Array.from([...cobsEncode(raw), 0]);
}

const hello = (seq: number): Frame => ({
  type: 'hello',
  seq,
  device: { deviceId: 'rig-1', firmwareVersion: 't', protocolVersion: 1, bootId: 3, sensors: [accel] },
});
const samples = (seq: number, index: number, sensorId = 0): Frame => ({
  type: 'samples',
  seq,
  sensorId,
  timestampUs: index * 1000,
  firstIndex: index,
  count: 10,
  data: encodeSampleValues(new Array<number>(30).fill(0.01), accel),
});

test('random bytes: says no valid frames were found, with the invalid ones by code, and exits 1', async (t) => {
  const file = join(tempDir(t), 'noise.bin');
  writeFileSync(file, randomBytes(20_000));
  const c = io();
  const code = await decodeCommand.run([file], c.io);
  assert.equal(code, 1, c.err());
  assert.match(
    c.err(),
    /no valid frames in 20000 byte\(s\): \d+ invalid \(.*\).*\[EDGELOOP_ERR_DECODE_EMPTY\]/,
  );
});

test('every frame in an unknown protocol version: names the version it saw and exits 1', async (t) => {
  const file = join(tempDir(t), 'v2.bin');
  const frames = [hello(0), samples(1, 0), samples(2, 10)].map((f) => rewritten(f, 0, 2));
  writeFileSync(file, Buffer.concat([Uint8Array.of(0), ...frames]));
  const c = io();
  const code = await decodeCommand.run([file], c.io);
  assert.equal(code, 1, c.err());
  assert.match(c.err(), /serial protocol v2 \(3 frame\(s\)\), this decoder supports v1/);
  assert.match(c.err(), /\[EDGELOOP_ERR_DECODE_EMPTY\]/);
});

test('--json counts every dropped frame by code', async (t) => {
  const file = join(tempDir(t), 'mixed.bin');
  // A CRC error: the frame's bytes are intact COBS, its last CRC byte is wrong.
  const raw = encodeFrame(samples(6, 999));
  raw[raw.length - 1] = raw[raw.length - 1]! ^ 0xff;
  const corrupt = Uint8Array.from([...cobsEncode(raw), 0]);
  const parts = [
    Uint8Array.of(0),
    encodeWireFrame(samples(0, 0)), // before HELLO
    encodeWireFrame(hello(1)),
    encodeWireFrame(samples(2, 0)),
    encodeWireFrame(samples(3, 10, 7)), // sensor 7 was not announced
    rewritten(samples(4, 20), 1, 0x7e), // a frame type this decoder does not know
    rewritten(samples(5, 20), 0, 3), // protocol v3
    corrupt,
    encodeWireFrame(samples(7, 30)),
  ];
  writeFileSync(file, Buffer.concat(parts));
  const c = io();
  assert.equal(await decodeCommand.run([file, '--json'], c.io), 0, c.err());
  const j = JSON.parse(c.out()) as Record<string, unknown>;
  assert.deepEqual(j.droppedByCode, {
    EDGELOOP_ERR_PROTOCOL_VERSION: 1,
    EDGELOOP_ERR_FRAME_CRC: 1,
    EDGELOOP_ERR_NO_HELLO: 1,
    EDGELOOP_ERR_UNKNOWN_SENSOR: 1,
    EDGELOOP_ERR_FRAME_TYPE: 1,
  });
  assert.deepEqual(j.unknownFrameTypes, { '0x7e': 1 });
  assert.deepEqual(j.samplesDroppedByCode, { EDGELOOP_ERR_NO_HELLO: 10, EDGELOOP_ERR_UNKNOWN_SENSOR: 10 });
});

test('a stdout that closes early (EPIPE) ends the decode quietly with 0', async (t) => {
  const file = join(tempDir(t), 'cap.bin');
  const sim = io();
  assert.equal(await simCommand.run(['--duration', '5', '--speed', 'max', '--out', file], sim.io), 0);
  let writes = 0;
  const closing = new Writable({
    write(_chunk, _enc, cb) {
      writes++;
      const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      cb(writes > 1 ? err : null);
    },
  });
  const c = io(closing);
  assert.equal(await decodeCommand.run([file, '--windows', '--window-ms', '10'], c.io), 0, c.err());
  assert.equal(c.err(), '');
});

test('edgeloop decode <capture> --windows | head: a closed pipe is a normal end, no stack trace', async (t) => {
  const file = join(tempDir(t), 'cap.bin');
  const sim = io();
  // 60 s in 10 ms windows is 6000 lines, far more than a pipe buffer holds.
  assert.equal(await simCommand.run(['--duration', '60', '--speed', 'max', '--out', file], sim.io), 0);
  const child = spawn(process.execPath, [bin, 'decode', file, '--windows', '--window-ms', '10'], {
    env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Like `head -1`: read the first chunk, then close the pipe.
  child.stdout.once('data', () => {
    child.stdout.destroy();
  });
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (c) => {
      resolve(c);
    }),
  );
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|at .*\.ts:\d+/);
});

test('decode options come from flags, EDGELOOP_DECODE_* / EDGELOOP_* variables and a --config file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'decode.json');
  writeFileSync(file, JSON.stringify({ windowMs: 5 }));
  const run = async (argv: string[], env: Record<string, string>) => {
    const c = io();
    const code = await main(['decode', ...argv], { ...c.io, env });
    return { code, err: c.err() };
  };
  const viaFile = await run([file, '--config', file], {});
  assert.equal(viaFile.code, 2);
  assert.match(viaFile.err, /windowMs: expected an integer 10\.\.600000 \(ms\).*EDGELOOP_ERR_CONFIG_INVALID/);
  const viaEnv = await run([file], { EDGELOOP_DECODE_MODE: 'serial' });
  assert.equal(viaEnv.code, 2);
  assert.match(viaEnv.err, /mode: expected auto, binary or csv/);
  const typo = await run([file], { EDGELOOP_DECODE_WINDOW_SM: '100' });
  assert.equal(typo.code, 2);
  assert.match(typo.err, /did you mean EDGELOOP_DECODE_WINDOW_MS\?/);
});
