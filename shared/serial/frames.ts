// Serial protocol v1 frame layouts (docs/serial-protocol.md). All integers little-endian.
//
//   offset  size  field
//   0       1     protocol version (1)
//   1       1     frame type
//   2       4     seq: u32 frame counter per device boot, +1 for every frame the device sends
//   6       n     payload (per type, below)
//   6+n     4     CRC-32/ISO-HDLC over bytes 0 .. 6+n-1
//
// The whole is COBS-encoded and followed by one 0x00 delimiter.

import { fail, ok, type Failure, type Result } from '../errors.ts';
import {
  sampleTypeBytes,
  sampleTypeCode,
  sampleTypes,
  type DeviceDescriptor,
  type SampleType,
  type SensorDescriptor,
} from '../sensors.ts';
import { Reader, Writer } from './bytes.ts';
import { crc32 } from './crc32.ts';

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 6;
export const CRC_BYTES = 4;
/** Longest decoded frame (header + payload + CRC) a v1 receiver must accept. */
export const MAX_FRAME_BYTES = 1024;
/** STATUS sensorId meaning "the whole device"; sensor ids are therefore 0..254. */
export const DEVICE_SENSOR_ID = 255;
/** Most axes one sensor may declare. */
export const MAX_AXES = 8;

export const frameTypeCode = {
  hello: 0x01,
  samples: 0x02,
  status: 0x03,
  helloRequest: 0x10,
} as const;
export type FrameTypeName = keyof typeof frameTypeCode;

export interface HelloFrame {
  readonly type: 'hello';
  readonly seq: number;
  readonly device: DeviceDescriptor;
}

export interface SamplesFrame {
  readonly type: 'samples';
  readonly seq: number;
  readonly sensorId: number;
  /** Device time of the first sample, microseconds since device boot. */
  readonly timestampUs: number;
  /** Per-sensor index of the first sample since boot (u32, wraps). Loss = index gap. */
  readonly firstIndex: number;
  readonly count: number;
  /** Raw little-endian values, count × axes × sizeof(type), interleaved by sample. */
  readonly data: Uint8Array;
}

export const statusSeverity = ['info', 'warning', 'error'] as const;
export type StatusSeverity = (typeof statusSeverity)[number];

/** Device status codes (docs/serial-protocol.md §STATUS). */
export const statusCodes = {
  heartbeat: 0,
  sensorFault: 1,
  bufferOverflow: 2,
  clockAdjusted: 3,
  lowVoltage: 4,
} as const;

export interface StatusFrame {
  readonly type: 'status';
  readonly seq: number;
  readonly code: number;
  readonly severity: StatusSeverity;
  /** Sensor the status concerns, or 255 for the whole device. */
  readonly sensorId: number;
  /** Samples the device itself dropped since boot (e.g. its own buffer overflowed). */
  readonly droppedSamples: number;
  readonly message: string;
}

export interface HelloRequestFrame {
  readonly type: 'helloRequest';
  readonly seq: number;
}

export type Frame = HelloFrame | SamplesFrame | StatusFrame | HelloRequestFrame;

/**
 * A frame with a valid CRC and a known version whose type byte this receiver does not know (a newer
 * device, or a reserved type). It arrived intact and used a seq number, so it is counted by type, not as
 * missing or corrupted; its payload is ignored.
 */
export interface UnknownFrame {
  readonly type: 'unknown';
  readonly seq: number;
  readonly typeCode: number;
}

/** What a receiver can get from the wire: a frame it knows, or an intact one it does not. */
export type ReceivedFrame = Frame | UnknownFrame;

function header(w: Writer, type: FrameTypeName, seq: number): void {
  w.u8(PROTOCOL_VERSION);
  w.u8(frameTypeCode[type]);
  w.u32(seq);
}

/** Serialises a frame to its decoded bytes (header, payload, CRC), before COBS. */
export function encodeFrame(frame: Frame): Uint8Array {
  const w = new Writer();
  header(w, frame.type, frame.seq);
  switch (frame.type) {
    case 'hello': {
      const d = frame.device;
      w.u32(d.bootId);
      w.str8(d.deviceId);
      w.str8(d.firmwareVersion);
      // Structural limits only (a u8 must not wrap); semantic checks live in the parser, so tests can
      // still build a HELLO that a receiver must reject.
      byteField('sensor count', d.sensors.length);
      w.u8(d.sensors.length);
      for (const s of d.sensors) {
        byteField('sensor id', s.id);
        w.u8(s.id);
        w.str8(s.name);
        w.str8(s.unit);
        w.u8(sampleTypeCode[s.type]);
        byteField('axis count', s.axes.length);
        w.u8(s.axes.length);
        for (const a of s.axes) w.str8(a);
        w.f32(s.rateHz);
        w.f32(s.rangeMin);
        w.f32(s.rangeMax);
        w.f32(s.resolution);
      }
      break;
    }
    case 'samples':
      byteField('sensor id', frame.sensorId);
      if (!Number.isInteger(frame.count) || frame.count < 0 || frame.count > 0xffff) {
        throw new RangeError(`sample count ${frame.count} does not fit a u16`);
      }
      w.u8(frame.sensorId);
      w.u64(frame.timestampUs);
      w.u32(frame.firstIndex);
      w.u16(frame.count);
      w.bytes(frame.data);
      break;
    case 'status':
      byteField('sensor id', frame.sensorId);
      w.u16(frame.code);
      w.u8(statusSeverity.indexOf(frame.severity));
      w.u8(frame.sensorId);
      w.u32(frame.droppedSamples);
      w.str8(frame.message);
      break;
    case 'helloRequest':
      break;
  }
  const out = w.finish();
  if (out.length > MAX_FRAME_BYTES)
    throw new RangeError(`frame of ${out.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  return out;
}

function byteField(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${what} ${v} does not fit a u8`);
}

/**
 * Why a sensor descriptor is impossible, or null when it is usable. The agent divides by the rate, scales
 * by the resolution and judges clipping against the range, so each of these must be sane.
 */
export function sensorDescriptorProblem(s: SensorDescriptor): string | null {
  if (s.id === DEVICE_SENSOR_ID)
    return `sensor ${s.name} uses id ${DEVICE_SENSOR_ID}, reserved for the device`;
  if (s.name === '') return `sensor ${s.id} has an empty name`;
  if (s.axes.length < 1 || s.axes.length > MAX_AXES) {
    return `sensor ${s.name} declares ${s.axes.length} axes (1..${MAX_AXES} allowed)`;
  }
  if (new Set(s.axes).size !== s.axes.length || s.axes.some((a) => a === '')) {
    return `sensor ${s.name} has empty or duplicate axis names`;
  }
  if (!(Number.isFinite(s.rateHz) && s.rateHz > 0)) return `sensor ${s.name} has rate ${s.rateHz} Hz`;
  if (!(Number.isFinite(s.rangeMin) && Number.isFinite(s.rangeMax) && s.rangeMin < s.rangeMax)) {
    return `sensor ${s.name} has range [${s.rangeMin}, ${s.rangeMax}]`;
  }
  if (!(Number.isFinite(s.resolution) && s.resolution > 0)) {
    return `sensor ${s.name} has resolution ${s.resolution}`;
  }
  return null;
}

const typeByCode = new Map<number, FrameTypeName>(
  Object.entries(frameTypeCode).map(([k, v]) => [v, k as FrameTypeName]),
);
const sampleTypeByCode = new Map<number, SampleType>(sampleTypes.map((t) => [sampleTypeCode[t], t]));

/**
 * Parses the decoded bytes of one frame (after COBS). Checks the CRC first, then the version, then the
 * layout. An intact frame of an unknown type comes back as an UnknownFrame. Never throws on bad input.
 */
export function parseFrame(bytes: Uint8Array): Result<ReceivedFrame> {
  if (bytes.length < HEADER_BYTES + CRC_BYTES)
    return fail('EDGELOOP_ERR_FRAME_TRUNCATED', `frame of ${bytes.length} bytes`);
  const body = bytes.length - CRC_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const want = view.getUint32(body, true);
  if (crc32(bytes, 0, body) !== want) return fail('EDGELOOP_ERR_FRAME_CRC');
  const version = bytes[0] as number;
  if (version !== PROTOCOL_VERSION) {
    return fail(
      'EDGELOOP_ERR_PROTOCOL_VERSION',
      `device speaks serial protocol v${version}, this agent supports v${PROTOCOL_VERSION}`,
    );
  }
  const typeCode = bytes[1] as number;
  const type = typeByCode.get(typeCode);
  const r = new Reader(bytes, 2, body);
  const seq = r.u32();
  if (type === undefined) return ok({ type: 'unknown', seq, typeCode });
  const truncated = (): Failure => fail('EDGELOOP_ERR_FRAME_TRUNCATED', `${type} frame payload is short`);
  switch (type) {
    case 'hello': {
      if (!r.has(4)) return truncated();
      const bootId = r.u32();
      const deviceId = r.str8();
      const firmwareVersion = r.str8();
      if (deviceId === null || firmwareVersion === null || !r.has(1)) return truncated();
      const n = r.u8();
      const sensors: SensorDescriptor[] = [];
      for (let i = 0; i < n; i++) {
        if (!r.has(1)) return truncated();
        const id = r.u8();
        const name = r.str8();
        const unit = r.str8();
        if (name === null || unit === null || !r.has(2)) return truncated();
        const typeCode = r.u8();
        const st = sampleTypeByCode.get(typeCode);
        if (st === undefined) {
          return fail('EDGELOOP_ERR_HELLO_INVALID', `sensor ${name} has unknown sample type ${typeCode}`);
        }
        const nAxes = r.u8();
        const axes: string[] = [];
        for (let a = 0; a < nAxes; a++) {
          const axis = r.str8();
          if (axis === null) return truncated();
          axes.push(axis);
        }
        if (!r.has(16)) return truncated();
        const sensor: SensorDescriptor = {
          id,
          name,
          unit,
          type: st,
          axes,
          rateHz: r.f32(),
          rangeMin: r.f32(),
          rangeMax: r.f32(),
          resolution: r.f32(),
        };
        const problem = sensorDescriptorProblem(sensor);
        if (problem !== null) return fail('EDGELOOP_ERR_HELLO_INVALID', problem);
        if (sensors.some((o) => o.id === id))
          return fail('EDGELOOP_ERR_HELLO_INVALID', `sensor id ${id} is used twice`);
        sensors.push(sensor);
      }
      if (deviceId === '') return fail('EDGELOOP_ERR_HELLO_INVALID', 'the device id is empty');
      return ok({
        type,
        seq,
        device: { deviceId, firmwareVersion, protocolVersion: version, bootId, sensors },
      });
    }
    case 'samples': {
      if (!r.has(15)) return truncated();
      const sensorId = r.u8();
      const timestampUs = r.u64();
      const firstIndex = r.u32();
      const count = r.u16();
      const data = r.take(body - r.pos);
      return ok({ type, seq, sensorId, timestampUs, firstIndex, count, data });
    }
    case 'status': {
      if (!r.has(8)) return truncated();
      const code = r.u16();
      const severity = statusSeverity[r.u8()] ?? 'error';
      const sensorId = r.u8();
      const droppedSamples = r.u32();
      const message = r.str8();
      if (message === null) return truncated();
      return ok({ type, seq, code, severity, sensorId, droppedSamples, message });
    }
    case 'helloRequest':
      return ok({ type, seq });
  }
}

/**
 * Scales the raw values of a samples frame to physical units, interleaved by sample (x0,y0,z0,x1,...).
 * Fails when the payload length does not match count × axes × type size for the described sensor.
 */
export function decodeSampleValues(frame: SamplesFrame, sensor: SensorDescriptor): Result<Float64Array> {
  const nAxes = sensor.axes.length;
  const size = sampleTypeBytes[sensor.type];
  const expected = frame.count * nAxes * size;
  if (frame.data.length !== expected) {
    return fail(
      'EDGELOOP_ERR_FRAME_TRUNCATED',
      `samples for ${sensor.name}: ${frame.data.length} bytes, expected ${expected}`,
    );
  }
  const out = new Float64Array(frame.count * nAxes);
  const v = new DataView(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  const res = Math.fround(sensor.resolution);
  // One loop per type: this runs for every sample the agent ingests (benchmarked in bench/decoder.bench.ts).
  const n = out.length;
  if (sensor.type === 'i16') for (let i = 0; i < n; i++) out[i] = v.getInt16(i * 2, true) * res;
  else if (sensor.type === 'i32') for (let i = 0; i < n; i++) out[i] = v.getInt32(i * 4, true) * res;
  else for (let i = 0; i < n; i++) out[i] = v.getFloat32(i * 4, true);
  return ok(out);
}

/** Encodes physical values (interleaved) to the sensor's raw wire type, saturating at the type's limits. */
export function encodeSampleValues(values: ArrayLike<number>, sensor: SensorDescriptor): Uint8Array {
  const size = sampleTypeBytes[sensor.type];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  const res = Math.fround(sensor.resolution);
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    switch (sensor.type) {
      case 'i16':
        v.setInt16(i * 2, Number.isNaN(x) ? 0 : Math.max(-32768, Math.min(32767, Math.round(x / res))), true);
        break;
      case 'i32':
        v.setInt32(
          i * 4,
          Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.round(x / res))),
          true,
        );
        break;
      case 'f32':
        v.setFloat32(i * 4, x, true);
        break;
    }
  }
  return out;
}
