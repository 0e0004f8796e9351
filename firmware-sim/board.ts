// The simulated board's firmware loop: samples the machine, frames the samples, and puts them on a virtual
// wire, applying the scenario's link faults. Pull-based and in-memory (no I/O, no clock): `generate(untilUs)`
// returns the bytes for scenario time up to untilUs, so a test can produce an hour of device time in seconds
// and runSim (run.ts) can pace the same bytes in real time.
//
// Time advances in 10 ms blocks: one 10-sample accel frame and one gyro frame per block (emitted when the
// block's last sample is taken), the 100 Hz magnetometer and the environmental samples at the block start.

import { encodeWireFrame } from '../shared/serial/decoder.ts';
import { encodeSampleValues, statusCodes, type Frame } from '../shared/serial/frames.ts';
import { referenceSensors, type DeviceDescriptor, type SensorDescriptor } from '../shared/sensors.ts';
import { emptyGroundTruth, type GroundTruth, type LossCause } from './ground-truth.ts';
import { MachineModel, type TrueState } from './machine.ts';
import { corruptWireFrame } from './link.ts';
import { Measurement } from './measurement.ts';
import { Prng } from '../shared/random.ts';
import { eventCategory, type Scenario, type ScenarioEvent } from './scenario.ts';

export const BLOCK_US = 10_000;
const IMU_PER_FRAME = 10;
export const FIRMWARE_VERSION = 'edgeloop-sim 0.1.0';

export interface BoardOptions {
  readonly scenario: Scenario;
  readonly seed: number;
  /** Overrides the scenario's deviceId. */
  readonly deviceId?: string | undefined;
  /** Lost frames listed in ground truth before only counting them (default 1,000,000). */
  readonly maxLostFrameRecords?: number | undefined;
}

type LinkEvent = Extract<ScenarioEvent, { kind: 'dropout' | 'corrupt' }>;

export class Board {
  readonly groundTruth: GroundTruth;
  private readonly scenario: Scenario;
  private readonly machine: MachineModel;
  private readonly measure: Measurement;
  private readonly linkRng: Prng;
  private readonly bootRng: Prng;
  private readonly maxLost: number;
  private readonly deviceId: string;
  private readonly sensors = referenceSensors;
  private readonly accel: SensorDescriptor;
  private readonly gyro: SensorDescriptor;
  private readonly slow: SensorDescriptor[];
  private nextEvent = 0;
  private tUs = 0;
  private seq = 0;
  private bootIdValue = 0;
  private bootAtUs = 0;
  private clockOffsetUs = 0;
  private readonly index = new Map<number, number>();
  private nextHeartbeatUs = 0;
  private linkDownUntilUs: number | null = null;
  private poweredOff = false;
  private rebootPending = false;
  private helloRequested = false;
  private readonly linkFaults: LinkEvent[] = [];
  private out: Uint8Array[] = [];
  // Scratch buffers, reused every block.
  private readonly imuBufs = Array.from({ length: 6 }, () => new Float64Array(IMU_PER_FRAME * 3));
  private readonly smallBufs = Array.from({ length: 3 }, () => new Float64Array(3));

  constructor(opts: BoardOptions) {
    this.scenario = opts.scenario;
    this.deviceId = opts.deviceId ?? opts.scenario.deviceId;
    this.maxLost = opts.maxLostFrameRecords ?? 1_000_000;
    this.machine = new MachineModel(opts.scenario, opts.seed);
    this.measure = new Measurement(opts.scenario, opts.seed, this.sensors);
    this.linkRng = new Prng(opts.seed, 'link');
    this.bootRng = new Prng(opts.seed, 'boot');
    this.accel = this.sensor('accel');
    this.gyro = this.sensor('gyro');
    this.slow = this.sensors.filter((s) => s.rateHz < 1000);
    this.groundTruth = emptyGroundTruth(
      opts.scenario.name,
      opts.seed,
      this.deviceId,
      this.sensors.map((s) => s.name),
    );
    this.boot();
  }

  private sensor(name: string): SensorDescriptor {
    const s = this.sensors.find((x) => x.name === name);
    if (s === undefined) throw new Error(`reference board has no ${name} sensor`);
    return s;
  }

  get device(): DeviceDescriptor {
    return {
      deviceId: this.deviceId,
      firmwareVersion: FIRMWARE_VERSION,
      protocolVersion: 1,
      bootId: this.bootIdValue,
      sensors: this.sensors,
    };
  }

  /** Scenario time generated so far, microseconds since the start of the run. */
  get timeUs(): number {
    return this.tUs;
  }

  /** The device's own clock: time since its last boot, plus any clock jump. */
  get deviceTimeUs(): number {
    return this.tUs - this.bootAtUs + this.clockOffsetUs;
  }

  get bootId(): number {
    return this.bootIdValue;
  }

  /** False while a disconnect fault holds the cable unplugged. */
  get linkUp(): boolean {
    return this.linkDownUntilUs === null;
  }

  /** The true machine state at scenario time us (labels for training data). */
  stateAt(us: number): TrueState {
    return this.machine.stateAt(us);
  }

  /** The host asked for HELLO (a HELLO_REQUEST frame): answer at the next block. */
  requestHello(): void {
    this.helloRequested = true;
  }

  /** Scenario time of the next unplug or replug after the current time, or null. */
  nextLinkChangeUs(): number | null {
    if (this.linkDownUntilUs !== null) return this.linkDownUntilUs;
    for (let i = this.nextEvent; i < this.scenario.events.length; i++) {
      const e = this.scenario.events[i] as ScenarioEvent;
      if (e.kind === 'disconnect') return Math.ceil((e.at * 1e6) / BLOCK_US) * BLOCK_US;
    }
    return null;
  }

  /** Generates every block that ends at or before untilUs and returns the wire bytes. */
  generate(untilUs: number): Uint8Array {
    while (this.tUs + BLOCK_US <= untilUs) this.block();
    const parts = this.out;
    this.out = [];
    let n = 0;
    for (const p of parts) n += p.length;
    const bytes = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    this.groundTruth.endUs = this.tUs;
    return bytes;
  }

  private boot(): void {
    this.bootIdValue = this.bootRng.u32();
    this.bootAtUs = this.tUs;
    this.seq = 0;
    this.clockOffsetUs = 0;
    this.index.clear();
    this.nextHeartbeatUs = this.tUs + this.scenario.heartbeatS * 1e6;
    this.groundTruth.boots.push({ atUs: this.tUs, bootId: this.bootIdValue });
    // A lone delimiter first, so a receiver holding a partial frame from before the boot realigns at once.
    this.out.push(new Uint8Array([0]));
    this.emit({ type: 'hello', seq: this.seq, device: this.device }, null, null, 0);
  }

  private applyEvents(): void {
    const events = this.scenario.events;
    while (this.nextEvent < events.length && (events[this.nextEvent] as ScenarioEvent).at * 1e6 <= this.tUs) {
      const e = events[this.nextEvent++] as ScenarioEvent;
      const category = eventCategory(e.kind);
      // Drift persists once ramped in (its durationS is the ramp); a fault ends after its durationS.
      const endUs =
        category === 'fault' && 'durationS' in e && e.durationS !== undefined
          ? Math.round((e.at + e.durationS) * 1e6)
          : null;
      this.groundTruth.events.push({ category, atUs: this.tUs, endUs, event: e });
      if (e.kind === 'clock_jump') this.clockOffsetUs += e.deltaUs;
      else if (e.kind === 'dropout' || e.kind === 'corrupt') this.linkFaults.push(e);
      else if (e.kind === 'disconnect' && this.linkDownUntilUs === null) {
        this.linkDownUntilUs = Math.ceil(((e.at + e.durationS) * 1e6) / BLOCK_US) * BLOCK_US;
        this.poweredOff = e.reboot;
        this.rebootPending = e.reboot;
      }
    }
    if (this.linkDownUntilUs !== null && this.tUs >= this.linkDownUntilUs) {
      this.linkDownUntilUs = null;
      this.poweredOff = false;
      if (this.rebootPending) {
        this.rebootPending = false;
        this.boot();
      }
    }
  }

  private block(): void {
    this.applyEvents();
    const t = this.tUs;
    const [ac, an, gc, gn, aOut, gOut] = this.imuBufs as [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    // The machine keeps turning while the board is off; only the board's sampling stops.
    this.machine.imu(t, IMU_PER_FRAME, ac, an, gc, gn);
    if (!this.poweredOff) {
      if (this.helloRequested) {
        this.helloRequested = false;
        this.emit({ type: 'hello', seq: this.seq, device: this.device }, null, null, 0);
      }
      if (this.scenario.heartbeatS > 0 && t >= this.nextHeartbeatUs) {
        this.nextHeartbeatUs += this.scenario.heartbeatS * 1e6;
        this.emit(
          {
            type: 'status',
            seq: this.seq,
            code: statusCodes.heartbeat,
            severity: 'info',
            sensorId: 255,
            droppedSamples: 0,
            message: 'ok',
          },
          null,
          null,
          0,
        );
      }
      for (const s of this.slow) this.sampleSlow(s, t);
      this.measure.apply(this.accel, t, IMU_PER_FRAME, ac, an, aOut);
      this.measure.apply(this.gyro, t, IMU_PER_FRAME, gc, gn, gOut);
      this.emitSamples(this.accel, t, IMU_PER_FRAME, aOut);
      this.emitSamples(this.gyro, t, IMU_PER_FRAME, gOut);
    } else {
      // Keep the environment's random walks and the magnetometer noise on their own schedule.
      for (const s of this.slow) this.physicsSlow(s, t);
    }
    this.tUs += BLOCK_US;
  }

  private due(s: SensorDescriptor, t: number): boolean {
    return (t - this.bootAtUs) % Math.round(1e6 / s.rateHz) === 0;
  }

  private physicsSlow(s: SensorDescriptor, t: number): { clean: Float64Array; noise: Float64Array } | null {
    if (!this.due(s, t)) return null;
    const [clean, noise] = this.smallBufs as [Float64Array, Float64Array];
    if (s.name === 'mag') this.machine.mag(t, clean, noise);
    else {
      const v =
        s.name === 'temperature'
          ? this.machine.temperature(t)
          : s.name === 'humidity'
            ? this.machine.humidity(t)
            : this.machine.pressure(t);
      clean[0] = v.clean;
      noise[0] = v.noise;
    }
    return { clean, noise };
  }

  private sampleSlow(s: SensorDescriptor, t: number): void {
    const v = this.physicsSlow(s, t);
    if (v === null) return;
    const outBuf = this.smallBufs[2] as Float64Array;
    this.measure.apply(s, t, 1, v.clean, v.noise, outBuf);
    this.emitSamples(s, t, 1, outBuf.subarray(0, s.axes.length));
  }

  private emitSamples(s: SensorDescriptor, firstUs: number, count: number, values: Float64Array): void {
    const firstIndex = this.index.get(s.id) ?? 0;
    this.index.set(s.id, firstIndex + count);
    const totals = this.groundTruth.sensors[s.name];
    if (totals !== undefined) totals.generated += count;
    const timestampUs = Math.max(0, firstUs - this.bootAtUs + this.clockOffsetUs);
    const data = encodeSampleValues(values.subarray(0, count * s.axes.length), s);
    this.emit(
      {
        type: 'samples',
        seq: this.seq,
        sensorId: s.id,
        timestampUs,
        firstIndex: firstIndex >>> 0,
        count,
        data,
      },
      s,
      firstIndex >>> 0,
      count,
    );
  }

  /** Assigns the next seq and puts the frame on the wire, or loses or corrupts it as the scenario says. */
  private emit(
    frame: Frame,
    sensor: SensorDescriptor | null,
    firstIndex: number | null,
    samples: number,
  ): void {
    // Callers build the frame with seq: this.seq; the counter advances for every frame, lost or not.
    const f = frame;
    const seq = f.seq;
    this.seq = (this.seq + 1) >>> 0;
    this.groundTruth.frames.built++;
    let cause: LossCause | null = null;
    let corruptBytes = 0;
    if (this.linkDownUntilUs !== null) cause = 'disconnect';
    else if (sensor !== null) {
      // Only samples frames are hit by link faults, so the receiver always has the HELLO it needs.
      for (const e of this.linkFaults) {
        if (!this.matches(e, sensor)) continue;
        if (e.kind === 'dropout' && (e.probability >= 1 || this.linkRng.next() < e.probability)) {
          cause = 'dropout';
          break;
        }
        if (e.kind === 'corrupt' && this.linkRng.next() < e.probability) {
          cause = 'corrupt';
          corruptBytes = e.bytes;
          break;
        }
      }
    }
    const totals = sensor === null ? undefined : this.groundTruth.sensors[sensor.name];
    if (cause === null) {
      this.out.push(encodeWireFrame(f));
      this.groundTruth.frames.intact++;
      if (totals !== undefined) totals.sentIntact += samples;
      return;
    }
    if (cause === 'corrupt') this.out.push(corruptWireFrame(encodeWireFrame(f), corruptBytes, this.linkRng));
    const key = cause === 'corrupt' ? 'corrupted' : cause === 'dropout' ? 'dropped' : 'disconnected';
    this.groundTruth.frames[key]++;
    if (totals !== undefined) {
      totals[key] += samples;
      totals.lost += samples;
    }
    if (this.groundTruth.lostFrames.length >= this.maxLost) {
      this.groundTruth.lostFramesOmitted++;
      return;
    }
    this.groundTruth.lostFrames.push({
      atUs: this.tUs,
      bootId: this.bootIdValue,
      seq,
      frameType: f.type === 'helloRequest' ? 'hello' : f.type,
      sensor: sensor?.name ?? null,
      firstIndex,
      samples,
      cause,
    });
  }

  private matches(e: LinkEvent, s: SensorDescriptor): boolean {
    if (e.sensor !== undefined && e.sensor !== s.name) return false;
    const at = e.at * 1e6;
    return this.tUs >= at && (e.durationS === undefined || this.tUs < at + e.durationS * 1e6);
  }
}

/** Builds a board for a scenario and seed. */
export function createBoard(opts: BoardOptions): Board {
  return new Board(opts);
}
