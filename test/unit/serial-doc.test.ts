// Keeps docs/serial-protocol.md true: its worked examples, COBS vectors, bandwidth table and constants are
// recomputed here with the real codec, and its C reference code is compiled and checked when gcc exists.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorCatalogue } from '../../shared/errors.ts';
import { cobsEncode } from '../../shared/serial/cobs.ts';
import { MAX_CSV_LINE_BYTES } from '../../shared/serial/csv.ts';
import { encodeWireFrame, MAX_ENCODED_FRAME_BYTES } from '../../shared/serial/decoder.ts';
import { encodeFrame, encodeSampleValues, MAX_FRAME_BYTES, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';

const doc = readFileSync(new URL('../../docs/serial-protocol.md', import.meta.url), 'utf8');
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const hexTokens = (s: string): string => (s.match(/\b[0-9a-f]{2}\b/g) ?? []).join(' ');

// The examples of §12. Change them here and in the doc together (the test says what the doc must show).
const sensors: SensorDescriptor[] = [
  {
    id: 0,
    name: 'accel',
    unit: 'g',
    type: 'i16',
    axes: ['x', 'y', 'z'],
    rateHz: 1000,
    rangeMin: -16,
    rangeMax: 16,
    resolution: 16 / 32768,
  },
  {
    id: 1,
    name: 'temp',
    unit: 'degC',
    type: 'f32',
    axes: ['value'],
    rateHz: 1,
    rangeMin: -40,
    rangeMax: 85,
    resolution: 0.01,
  },
];
const raw = Int16Array.of(0, 0, 2048, 32, -8, 2044);
const examples: Record<string, Frame> = {
  hello: {
    type: 'hello',
    seq: 0,
    device: { deviceId: 'pump-7', firmwareVersion: '1.4.2', protocolVersion: 1, bootId: 0x9c3b71e2, sensors },
  },
  samples: {
    type: 'samples',
    seq: 1,
    sensorId: 0,
    timestampUs: 1_000_000,
    firstIndex: 1000,
    count: 2,
    data: new Uint8Array(raw.buffer), // little-endian on every platform Node runs on
  },
  status: {
    type: 'status',
    seq: 2,
    code: 1,
    severity: 'warning',
    sensorId: 0,
    droppedSamples: 0,
    message: 'accel z stuck',
  },
  'hello-request': { type: 'helloRequest', seq: 0 },
};

function region(name: string): string {
  const start = doc.indexOf(`<!-- example:${name} -->`);
  assert.ok(start >= 0, `docs/serial-protocol.md lacks the example ${name}`);
  const end = doc.indexOf('<!-- /example -->', start);
  assert.ok(end > start);
  return doc.slice(start, end);
}

test('every worked example in the doc is what the encoder produces, decoded and on the wire', () => {
  for (const [name, frame] of Object.entries(examples)) {
    const rows = region(`${name}-decoded`)
      .split('\n')
      .filter((l) => /^\| \d+ \|/.test(l))
      .map((l) => l.split('|').map((c) => c.trim()));
    let offset = 0;
    const bytes: string[] = [];
    for (const r of rows) {
      assert.equal(Number(r[1]), offset, `${name}: offset column at ${r[3]}`);
      const b = hexTokens(r[2]!.replaceAll('`', ''));
      bytes.push(b);
      offset += b.split(' ').length;
    }
    assert.equal(bytes.join(' '), hex(encodeFrame(frame)), `${name}: decoded bytes`);
    assert.equal(
      hexTokens(region(`${name}-wire`).replace(/^<!--.*-->$/m, '')),
      hex(encodeWireFrame(frame)),
      `${name}: wire bytes`,
    );
  }
});

test('the COBS vectors in the doc are what the encoder produces', () => {
  const table = doc.slice(doc.indexOf('| input | COBS |'), doc.indexOf('## 3.'));
  let checked = 0;
  for (const line of table.split('\n')) {
    const m = /^\| `([0-9a-f ]+)` \| `([0-9a-f ]+)` \|$/.exec(line);
    if (m === null) continue;
    const input = Uint8Array.from(m[1]!.split(' '), (h) => parseInt(h, 16));
    assert.equal(hex(cobsEncode(input)), m[2], line);
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} COBS vectors found`);
  assert.ok(table.includes('| (empty) | `01` |'));
});

test('the bandwidth table matches frame sizes from the encoder and the batching rule', () => {
  const lines = doc.split('\n');
  let total = 0;
  let rows = 0;
  for (const s of referenceSensors) {
    const line = lines.find((l) => l.startsWith(`| ${s.name} | `) && l.includes(' Hz × '));
    assert.ok(line !== undefined, `bandwidth row for ${s.name}`);
    const cells = line.split('|').map((c) => c.trim());
    const perFrame = s.rateHz >= 1000 ? 10 : 1;
    const f: Frame = {
      type: 'samples',
      seq: 0x12345678,
      sensorId: s.id,
      timestampUs: 123456789,
      firstIndex: 123456,
      count: perFrame,
      data: encodeSampleValues(new Array<number>(perFrame * s.axes.length).fill(1.1), s),
    };
    const wire = encodeWireFrame(f).length;
    assert.deepEqual(
      cells.slice(3, 8).map((c) => Number(c.replaceAll(' ', ''))),
      [perFrame, encodeFrame(f).length, wire, s.rateHz / perFrame, (wire * s.rateHz) / perFrame],
      s.name,
    );
    total += (wire * s.rateHz) / perFrame;
    rows++;
  }
  const heartbeat = encodeWireFrame({
    type: 'status',
    seq: 1,
    code: 0,
    severity: 'info',
    sensorId: 255,
    droppedSamples: 0,
    message: '',
  });
  total += heartbeat.length;
  const totalLine = lines.find((l) => l.startsWith('| **total**'));
  assert.ok(
    totalLine?.includes(`**${total.toLocaleString('en').replaceAll(',', ' ')}**`),
    `total ${total} in ${totalLine}`,
  );
  for (const baud of [115200, 921600]) {
    const line = lines.find((l) => l.startsWith(`| ${baud.toLocaleString('en').replaceAll(',', ' ')} |`));
    assert.ok(line?.includes(`${((total / (baud / 10)) * 100).toFixed(1)}%`), `load at ${baud}: ${line}`);
  }
  assert.equal(rows, 6);
});

test('the constants and error codes the doc names are the code’s', () => {
  assert.ok(doc.includes(`at most **${MAX_FRAME_BYTES} bytes**`));
  assert.ok(doc.includes(`at most **${MAX_ENCODED_FRAME_BYTES} bytes**`));
  assert.ok(doc.includes(`Lines longer than ${MAX_CSV_LINE_BYTES} bytes`));
  assert.ok(doc.includes('`0xCBF43926`'));
  for (const code of doc.match(/EDGELOOP_ERR_[A-Z_]+/g) ?? [])
    assert.ok(code in errorCatalogue, `${code} is not in shared/errors.ts`);
});

test('the C reference code in the doc compiles and reproduces the SAMPLES example', (t) => {
  // CI compiles better-sqlite3 and so always has the C toolchain: there a missing gcc is a failure.
  if (!requireTool(t, haveCommand('gcc'), 'gcc', 'apt-get install gcc')) return;
  const code = /```c\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code !== undefined, 'no C block in the doc');
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-cdoc-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const main = `#include <stdio.h>
${code}
int main(void) {
  static const int16_t xyz[6] = {0, 0, 2048, 32, -8, 2044};
  uint8_t wire[1100], dec[1100];
  size_t n = build_samples(wire, 1, 0, 1000000u, 1000u, 2, xyz);
  printf("%08x\\n", (unsigned)crc32((const uint8_t *)"123456789", 9));
  for (size_t i = 0; i < n; i++) printf("%02x%s", wire[i], i + 1 < n ? " " : "\\n");
  long d = cobs_decode(wire, n - 1, dec);
  printf("%ld %08x\\n", d, (unsigned)crc32(dec, (size_t)d - 4));
  return 0;
}
`;
  writeFileSync(join(dir, 'doc.c'), main);
  const build = spawnSync(
    'gcc',
    ['-std=c99', '-Wall', '-Wextra', '-Werror', '-o', join(dir, 'doc'), join(dir, 'doc.c')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(build.status, 0, build.stderr);
  const run = spawnSync(join(dir, 'doc'), { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const [crc, wire, decoded] = run.stdout.trim().split('\n');
  assert.equal(crc, 'cbf43926');
  assert.equal(wire, hex(encodeWireFrame(examples.samples!)));
  const bytes = encodeFrame(examples.samples!);
  const want = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true);
  assert.equal(decoded, `${bytes.length} ${want.toString(16).padStart(8, '0')}`);
});
