// CSV line mode (Edge Impulse data-forwarder format) and binary/CSV auto-detection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectStreamMode, LineSplitter, MAX_CSV_LINE_BYTES, parseCsvLine } from '../../shared/serial/csv.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { referenceSensors } from '../../shared/sensors.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function values(line: string, cols?: number): number[] {
  const r = parseCsvLine(line, cols);
  assert.ok(r !== null && r.ok, `${JSON.stringify(line)}: ${r === null ? 'comment' : r.ok ? '' : r.message}`);
  return [...r.value];
}

test('parseCsvLine reads comma- and tab-separated numbers, with CRLF and spaces', () => {
  assert.deepEqual(values('0.12,-9.81,3e-2'), [0.12, -9.81, 0.03]);
  assert.deepEqual(values('1\t2\t3\r'), [1, 2, 3]);
  assert.deepEqual(values(' 1 , +2.5 ,.5, -7. \r', 4), [1, 2.5, 0.5, -7]);
  assert.deepEqual(values('42'), [42]);
});

test('parseCsvLine keeps NaN and infinities as values for the integrity checks', () => {
  const v = values('nan,-nan,NaN,inf,-inf,1');
  assert.ok(Number.isNaN(v[0]) && Number.isNaN(v[1]) && Number.isNaN(v[2]));
  assert.deepEqual(v.slice(3), [Infinity, -Infinity, 1]);
});

test('parseCsvLine treats empty lines and # lines as comments', () => {
  assert.equal(parseCsvLine(''), null);
  assert.equal(parseCsvLine('   \r'), null);
  assert.equal(parseCsvLine('# accX,accY,accZ'), null);
  assert.equal(parseCsvLine('  # boot 1.2.3'), null);
});

test('parseCsvLine rejects the wrong column count and non-numbers with EDGELOOP_ERR_CSV_LINE', () => {
  for (const [line, cols, what] of [
    ['1,2', 3, '2 columns, expected 3'],
    ['1,2,3,4', 3, '4 columns, expected 3'],
    ['1,,3', undefined, 'column 2'],
    ['1,abc,3', undefined, 'column 2 is not a number: "abc"'],
    ['0x1f', undefined, 'column 1'],
    ['1,2,', undefined, 'column 3'],
    ['timestamp,accX', undefined, 'column 1'],
    ['1;2;3', undefined, 'column 1'],
  ] as const) {
    const r = parseCsvLine(line, cols);
    assert.ok(r !== null && !r.ok, line);
    assert.equal(r.code, 'EDGELOOP_ERR_CSV_LINE');
    assert.ok(r.message.includes(what), `${line}: ${r.message}`);
  }
});

test('LineSplitter splits on \\n across chunks, strips \\r and keeps split UTF-8 characters whole', () => {
  const s = new LineSplitter();
  const lines: string[] = [];
  const input = bytes('1,2,3\r\n4,5,6\n# 24 °C\n\n7,8');
  for (let i = 0; i < input.length; i++) s.push(input.subarray(i, i + 1), (l) => lines.push(l));
  assert.deepEqual(lines, ['1,2,3', '4,5,6', '# 24 °C', '']);
  assert.equal(s.pending, 3);
  s.push(bytes('\n'), (l) => lines.push(l));
  assert.equal(lines.at(-1), '7,8');
});

test('LineSplitter drops over-long lines whole, counts them, holds bounded memory and recovers', () => {
  const s = new LineSplitter(16);
  const lines: string[] = [];
  let maxPending = 0;
  const input = bytes(`1,2\n${'9'.repeat(100)}\n${'8'.repeat(16)}\n3,4\n`);
  for (let i = 0; i < input.length; i += 5) {
    s.push(input.subarray(i, i + 5), (l) => lines.push(l));
    maxPending = Math.max(maxPending, s.pending);
  }
  assert.deepEqual(lines, ['1,2', '8'.repeat(16), '3,4']);
  assert.equal(s.overlong, 1);
  assert.ok(maxPending <= 16);
  // The default bound and a megabyte without a newline.
  const d = new LineSplitter();
  d.push(new Uint8Array(1 << 20).fill(0x31), () => assert.fail('no line expected'));
  assert.ok(d.pending <= MAX_CSV_LINE_BYTES);
  assert.equal(d.overlong, 1);
});

test('detectStreamMode recognises binary frames, including a head that joined mid-frame', () => {
  const hello = encodeWireFrame({
    type: 'hello',
    seq: 0,
    device: { deviceId: 'd', firmwareVersion: '1', protocolVersion: 1, bootId: 1, sensors: referenceSensors },
  });
  assert.equal(detectStreamMode(Uint8Array.of(0)), 'binary');
  assert.equal(detectStreamMode(hello), 'binary');
  assert.equal(detectStreamMode(hello.subarray(5, 40)), null, 'short head without a delimiter is undecided');
  const noZero = hello.subarray(0, hello.indexOf(0));
  assert.ok(noZero.length >= 64);
  assert.equal(detectStreamMode(noZero), 'binary');
});

test('detectStreamMode recognises CSV heads, waits on long first lines, tolerates a little noise', () => {
  const csv = bytes(
    '0.01,-0.02,0.98,0.1,0.2,0.3\r\n0.02,-0.01,0.99,0.1,0.2,0.3\r\n0.01,-0.02,0.98,0.1,0.2,0.3\r\n',
  );
  assert.equal(detectStreamMode(csv), 'csv');
  assert.equal(detectStreamMode(csv.subarray(0, 10)), null);
  assert.equal(detectStreamMode(bytes('1\t2\t3\n'.repeat(20))), 'csv');
  // A 13-channel line is longer than 64 bytes: undecided until a newline arrives, not misread as binary.
  const long = bytes(`${Array.from({ length: 13 }, (_, i) => (-1.234567 * i).toFixed(6)).join(',')}\n`);
  assert.ok(long.length > 80);
  assert.equal(detectStreamMode(long.subarray(0, 80)), null);
  assert.equal(detectStreamMode(long), 'csv');
  // One stray byte from a boot banner in 200 bytes of text is still CSV.
  const noisy = bytes('1,2,3\n'.repeat(34)).slice(0, 200);
  noisy[3] = 0xf3;
  assert.equal(detectStreamMode(noisy), 'csv');
  // Printable bytes forever without a newline: binary once no CSV line could be that long.
  assert.equal(detectStreamMode(new Uint8Array(MAX_CSV_LINE_BYTES + 1).fill(0x41)), 'binary');
  // Mostly non-text: binary.
  assert.equal(
    detectStreamMode(Uint8Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 0xff : 0x31))),
    'binary',
  );
});
