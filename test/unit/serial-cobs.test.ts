// Serial protocol v1 byte layer: CRC-32/ISO-HDLC and COBS, including the 254/255-byte block edges
// (issue #2 §5 "Codec unit tests"). Frame-level tests are in serial-codec.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from '../../shared/serial/crc32.ts';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../../shared/serial/cobs.ts';
import { uniform } from '../../shared/random.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (h) => parseInt(h, 16));
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('crc32 matches the CRC-32/ISO-HDLC check value and honours start/end', () => {
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(ascii('xx123456789yy'), 2, 11), 0xcbf43926);
  // zlib's crc32 of "The quick brown fox jumps over the lazy dog" (a second independent vector).
  assert.equal(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

test('COBS encodes the published vectors (Cheshire & Baker; Wikipedia examples)', () => {
  const cases: [number[], number[]][] = [
    [[], [0x01]],
    [[0x00], [0x01, 0x01]],
    [
      [0x00, 0x00],
      [0x01, 0x01, 0x01],
    ],
    [
      [0x00, 0x11, 0x00],
      [0x01, 0x02, 0x11, 0x01],
    ],
    [
      [0x11, 0x22, 0x00, 0x33],
      [0x03, 0x11, 0x22, 0x02, 0x33],
    ],
    [
      [0x11, 0x22, 0x33, 0x44],
      [0x05, 0x11, 0x22, 0x33, 0x44],
    ],
    [
      [0x11, 0x00, 0x00, 0x00],
      [0x02, 0x11, 0x01, 0x01, 0x01],
    ],
    // 254 non-zero bytes: one full block, no spare trailing code byte.
    [range(0x01, 0xfe), [0xff, ...range(0x01, 0xfe)]],
    [range(0x00, 0xfe), [0x01, 0xff, ...range(0x01, 0xfe)]],
    // 255 non-zero bytes: a full block, then a block of one.
    [range(0x01, 0xff), [0xff, ...range(0x01, 0xfe), 0x02, 0xff]],
    [
      [...range(0x02, 0xff), 0x00],
      [0xff, ...range(0x02, 0xff), 0x01, 0x01],
    ],
    [
      [...range(0x03, 0xff), 0x00, 0x01],
      [0xfe, ...range(0x03, 0xff), 0x02, 0x01],
    ],
  ];
  for (const [input, encoded] of cases) {
    const src = Uint8Array.from(input);
    assert.deepEqual([...cobsEncode(src)], encoded, `encode ${input.length} bytes`);
    assert.deepEqual(
      [...(cobsDecode(Uint8Array.from(encoded)) ?? [])],
      input,
      `decode ${input.length} bytes`,
    );
  }
});

test('COBS decoder accepts the non-canonical spare 0x01 after a full block', () => {
  const nonCanonical = Uint8Array.from([0xff, ...range(0x01, 0xfe), 0x01]);
  assert.deepEqual([...(cobsDecode(nonCanonical) ?? [])], range(0x01, 0xfe));
});

test('COBS rejects a zero inside a block and a code that points past the end', () => {
  assert.equal(cobsDecode(hex('03 11 00')), null);
  assert.equal(cobsDecode(hex('05 11 22')), null);
  assert.equal(cobsDecode(hex('00')), null);
  assert.deepEqual([...(cobsDecode(new Uint8Array(0)) ?? [1])], []);
});

test('COBS round-trips random inputs around the 254/255-byte block boundaries', () => {
  const rnd = uniform(7);
  const lengths = [0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 762, 1023, 1024, 1025, 2048];
  for (const zeroShare of [0, 0.01, 0.3, 1]) {
    for (const n of lengths) {
      const src = Uint8Array.from({ length: n }, () => (rnd() < zeroShare ? 0 : 1 + Math.floor(rnd() * 255)));
      const enc = cobsEncode(src);
      assert.ok(!enc.includes(0), `no zero in the encoding of ${n} bytes`);
      assert.ok(enc.length <= cobsMaxEncodedLength(n), `bound holds for ${n} bytes`);
      if (zeroShare === 0)
        assert.equal(enc.length, n === 0 ? 1 : n + Math.ceil(n / 254), `exact size for ${n} bytes`);
      assert.deepEqual(cobsDecode(enc), src, `round trip of ${n} bytes, zero share ${zeroShare}`);
    }
  }
});
