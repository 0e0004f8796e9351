// Sensor descriptors: what a board says about each sensor in its HELLO (docs/serial-protocol.md §HELLO).
// The agent judges every channel against its descriptor, so these fields are the contract between
// firmware and edge integrity checks.

export const sampleTypes = ['i16', 'i32', 'f32'] as const;
export type SampleType = (typeof sampleTypes)[number];

/** Bytes per value on the wire for each sample type. */
export const sampleTypeBytes: Readonly<Record<SampleType, number>> = { i16: 2, i32: 4, f32: 4 };

/** Wire code of each sample type (HELLO descriptor byte). */
export const sampleTypeCode: Readonly<Record<SampleType, number>> = { i16: 1, i32: 2, f32: 3 };

export interface SensorDescriptor {
  /** Wire id, 0..254, unique per device. */
  readonly id: number;
  /** Short name, e.g. "accel". Channel names are `${name}.${axis}` for multi-axis sensors. */
  readonly name: string;
  /** Physical unit of a scaled value, e.g. "g", "dps", "uT", "%RH", "hPa", "degC". */
  readonly unit: string;
  readonly type: SampleType;
  /** Axis names; one entry ("value") for a scalar sensor. 1..8 axes. */
  readonly axes: readonly string[];
  /** Declared output data rate in Hz. */
  readonly rateHz: number;
  /** Full-scale range in physical units. Values at either end are clipped readings. */
  readonly rangeMin: number;
  readonly rangeMax: number;
  /**
   * Physical units per least significant bit. For integer types a raw value r means r * resolution;
   * for f32 the value is already physical and this is the sensor's resolution, for information.
   */
  readonly resolution: number;
}

export interface DeviceDescriptor {
  readonly deviceId: string;
  readonly firmwareVersion: string;
  readonly protocolVersion: number;
  /** Random per boot: a new bootId means sequence numbers and device time restarted. */
  readonly bootId: number;
  readonly sensors: readonly SensorDescriptor[];
}

export function channelNames(sensor: SensorDescriptor): string[] {
  return sensor.axes.length === 1 ? [sensor.name] : sensor.axes.map((a) => `${sensor.name}.${a}`);
}

export function allChannelNames(sensors: readonly SensorDescriptor[]): string[] {
  return sensors.flatMap(channelNames);
}

const g = 16; // ±16 g accelerometer range
const dps = 2000; // ±2000 °/s gyroscope range

/**
 * The reference board edgeloop's simulator emulates: a 6-axis IMU (1 kHz), a magnetometer (100 Hz) and an
 * environmental sensor (humidity 1 Hz, pressure 10 Hz, temperature 1 Hz). Ranges and resolutions follow
 * common parts (ICM-42688-class IMU, AK09916-class magnetometer, BME280-class environmental sensor).
 */
export const referenceSensors: readonly SensorDescriptor[] = [
  {
    id: 0,
    name: 'accel',
    unit: 'g',
    type: 'i16',
    axes: ['x', 'y', 'z'],
    rateHz: 1000,
    rangeMin: -g,
    rangeMax: g,
    resolution: g / 32768,
  },
  {
    id: 1,
    name: 'gyro',
    unit: 'dps',
    type: 'i16',
    axes: ['x', 'y', 'z'],
    rateHz: 1000,
    rangeMin: -dps,
    rangeMax: dps,
    resolution: dps / 32768,
  },
  {
    id: 2,
    name: 'mag',
    unit: 'uT',
    type: 'i16',
    axes: ['x', 'y', 'z'],
    rateHz: 100,
    rangeMin: -4912,
    rangeMax: 4912,
    resolution: 0.15,
  },
  {
    id: 3,
    name: 'humidity',
    unit: '%RH',
    type: 'f32',
    axes: ['value'],
    rateHz: 1,
    rangeMin: 0,
    rangeMax: 100,
    resolution: 0.008,
  },
  {
    id: 4,
    name: 'pressure',
    unit: 'hPa',
    type: 'f32',
    axes: ['value'],
    rateHz: 10,
    rangeMin: 300,
    rangeMax: 1100,
    resolution: 0.0018,
  },
  {
    id: 5,
    name: 'temperature',
    unit: 'degC',
    type: 'f32',
    axes: ['value'],
    rateHz: 1,
    rangeMin: -40,
    rangeMax: 85,
    resolution: 0.01,
  },
];
