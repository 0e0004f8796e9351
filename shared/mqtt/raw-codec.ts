// Raw samples v1: a compact binary payload for `edgeloop/v1/devices/{id}/raw` (docs/mqtt.md §Raw samples).
// Batched JSON of raw samples is several times slower to encode than packed floats (issue #4 §2;
// bench/outbox.bench.ts measures it), so raw samples are packed. All fields little-endian:
//
//   offset  size  field
//   0       1     version (1)
//   1       1     sensorId (0..254, from the device HELLO)
//   2       1     axes per sample (1..8)
//   3       1     flags (reserved, 0; receivers ignore unknown bits)
//   4       4     runId       u32, agent run id (as in every JSON payload)
//   8       8     msgSeq      u64, per-run message sequence (< 2^53)
//   16      4     bootId      u32, device boot id from HELLO
//   20      4     firstIndex  u32, device per-sensor index of the first sample ("device seq"; wraps)
//   24      8     timestampUs f64, device time of the first sample, µs since device boot
//   32      8     periodUs    f64, sample spacing, µs
//   40      4     count       u32, samples in the block
//   44      4·n   values      f32 × count × axes, interleaved by sample (x0 y0 z0 x1 y1 z1 ...)
//
// The header is 44 bytes (a multiple of 4). MQTT.js hands payloads to us as Buffers that are slices of a
// larger socket buffer at any byte offset, so decoding never views the bytes as a Float32Array in place
// (`new Float32Array(buf.buffer, offset)` throws on an unaligned offset): it reads through a DataView, or
// copies into a fresh, aligned buffer first.

import { EdgeloopError, fail, ok, type Result } from '../errors.ts';

export const RAW_VERSION = 1;
export const RAW_HEADER_BYTES = 44;
/** Largest block one message may carry (count × axes), 1 MiB of floats; keeps under broker size limits. */
export const MAX_RAW_VALUES = 262_144;

export interface RawSamples {
  readonly sensorId: number;
  readonly axes: number;
  readonly runId: number;
  readonly msgSeq: number;
  readonly bootId: number;
  readonly firstIndex: number;
  readonly timestampUs: number;
  readonly periodUs: number;
  readonly count: number;
  /** count × axes values, interleaved by sample. */
  readonly values: Float32Array;
}

export type RawSamplesInput = Omit<RawSamples, 'values' | 'count'> & { readonly values: ArrayLike<number> };

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}

/** Packs one block. Throws on input no caller should build (a bug), never on data from the wire. */
export function encodeRawSamples(input: RawSamplesInput): Uint8Array {
  const { sensorId, axes, values } = input;
  const bad =
    !Number.isInteger(sensorId) || sensorId < 0 || sensorId > 254
      ? 'sensorId'
      : !Number.isInteger(axes) || axes < 1 || axes > 8
        ? 'axes'
        : !isU32(input.runId)
          ? 'runId'
          : !Number.isSafeInteger(input.msgSeq) || input.msgSeq < 0
            ? 'msgSeq'
            : !isU32(input.bootId)
              ? 'bootId'
              : !isU32(input.firstIndex)
                ? 'firstIndex'
                : values.length % axes !== 0 || values.length > MAX_RAW_VALUES
                  ? 'values.length'
                  : undefined;
  if (bad !== undefined) throw new EdgeloopError('EDGELOOP_ERR_MQTT_PAYLOAD', `raw samples: invalid ${bad}`);

  const n = values.length;
  const out = new Uint8Array(RAW_HEADER_BYTES + 4 * n);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, RAW_VERSION);
  dv.setUint8(1, sensorId);
  dv.setUint8(2, axes);
  dv.setUint8(3, 0);
  dv.setUint32(4, input.runId, true);
  dv.setBigUint64(8, BigInt(input.msgSeq), true);
  dv.setUint32(16, input.bootId, true);
  dv.setUint32(20, input.firstIndex, true);
  dv.setFloat64(24, input.timestampUs, true);
  dv.setFloat64(32, input.periodUs, true);
  dv.setUint32(40, n / axes, true);
  if (littleEndianHost && values instanceof Float32Array) {
    // Byte copy of the floats' memory: same bytes as the loop below on a little-endian host.
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), RAW_HEADER_BYTES);
  } else {
    for (let i = 0; i < n; i++) dv.setFloat32(RAW_HEADER_BYTES + 4 * i, values[i] as number, true);
  }
  return out;
}

/** Unpacks one block from a payload at any byte offset. Wrong sizes and versions are values, not throws. */
export function decodeRawSamples(payload: Uint8Array): Result<RawSamples> {
  if (payload.byteLength < RAW_HEADER_BYTES) {
    return fail(
      'EDGELOOP_ERR_MQTT_PAYLOAD',
      `raw samples: ${payload.byteLength} bytes is shorter than the header`,
    );
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = dv.getUint8(0);
  if (version !== RAW_VERSION) return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `raw samples: version ${version}`);
  const sensorId = dv.getUint8(1);
  const axes = dv.getUint8(2);
  const count = dv.getUint32(40, true);
  if (axes < 1 || axes > 8) return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `raw samples: ${axes} axes`);
  const n = count * axes;
  if (n > MAX_RAW_VALUES || payload.byteLength !== RAW_HEADER_BYTES + 4 * n) {
    return fail(
      'EDGELOOP_ERR_MQTT_PAYLOAD',
      `raw samples: ${payload.byteLength} bytes for ${count} samples × ${axes} axes`,
    );
  }
  const msgSeq = dv.getBigUint64(8, true);
  if (msgSeq > BigInt(Number.MAX_SAFE_INTEGER))
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', 'raw samples: msgSeq');

  let values: Float32Array;
  if (littleEndianHost) {
    // Copy into a fresh ArrayBuffer (offset 0, so aligned). Not payload.slice(): on a Node Buffer that is
    // a view into the same, possibly pooled, memory rather than a copy.
    values = new Float32Array(n);
    new Uint8Array(values.buffer).set(payload.subarray(RAW_HEADER_BYTES));
  } else {
    values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = dv.getFloat32(RAW_HEADER_BYTES + 4 * i, true);
  }
  return ok({
    sensorId,
    axes,
    runId: dv.getUint32(4, true),
    msgSeq: Number(msgSeq),
    bootId: dv.getUint32(16, true),
    firstIndex: dv.getUint32(20, true),
    timestampUs: dv.getFloat64(24, true),
    periodUs: dv.getFloat64(32, true),
    count,
    values,
  });
}
