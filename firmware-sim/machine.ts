// The physics of the simulated machine: a motor-driven shaft (~24.7 Hz) seen by a board bolted to its
// housing. Axes of the board: x radial (horizontal), y axial (along the shaft), z radial (vertical, carries
// gravity). Each machine state has the signature a vibration analyst would look for (ISO 10816 practice):
// imbalance = 1x shaft on the radial axes, misalignment = 2x (plus 1x) on the axial axis, bearing wear =
// impulses at the outer-race defect frequency (BPFO ~3.58x) ringing a structural resonance, overheating =
// a temperature rise with a time constant. Everything is deterministic given (scenario, seed).

import { Prng } from '../shared/random.ts';
import { Ar1 } from './noise.ts';
import type { MachineState, Scenario } from './scenario.ts';

/** Component amplitudes in physical units; blended linearly while a state change ramps. */
interface Signature {
  radial1x: number; // g
  radial2x: number; // g
  axial1x: number; // g
  axial2x: number; // g
  bearing: number; // g, peak of one bearing impulse
  heatC: number; // degC of extra temperature rise at steady state
  noise: number; // multiplier on broadband vibration noise
  load: number; // 0..1
}

function signature(state: MachineState, s: number, load: number): Signature {
  const base: Signature = {
    radial1x: 0.02,
    radial2x: 0.006,
    axial1x: 0.008,
    axial2x: 0.004,
    bearing: 0,
    heatC: 0,
    noise: 1,
    load,
  };
  switch (state) {
    case 'normal':
      return base;
    case 'imbalance':
      return { ...base, radial1x: 0.02 + 0.35 * s, axial1x: 0.008 + 0.03 * s, heatC: 2 * s };
    case 'misalignment':
      return {
        ...base,
        radial1x: 0.02 + 0.08 * s,
        radial2x: 0.006 + 0.1 * s,
        axial1x: 0.008 + 0.12 * s,
        axial2x: 0.004 + 0.25 * s,
        heatC: 4 * s,
        noise: 1 + 0.1 * s,
      };
    case 'bearing_wear':
      return { ...base, bearing: 0.1 + 1.4 * s, heatC: 3 * s, noise: 1 + 0.5 * s };
    case 'overheating':
      // Thinner lubricant at temperature: a mild rise in running vibration.
      return {
        ...base,
        radial1x: 0.02 * (1 + 0.3 * s),
        axial1x: 0.008 * (1 + 0.3 * s),
        heatC: 25 * s,
        noise: 1 + 0.2 * s,
      };
  }
}

function blend(a: Signature, b: Signature, p: number): Signature {
  // Written out (no helper closure): this runs once per 10 ms block.
  if (p >= 1) return b;
  return {
    radial1x: a.radial1x + (b.radial1x - a.radial1x) * p,
    radial2x: a.radial2x + (b.radial2x - a.radial2x) * p,
    axial1x: a.axial1x + (b.axial1x - a.axial1x) * p,
    axial2x: a.axial2x + (b.axial2x - a.axial2x) * p,
    bearing: a.bearing + (b.bearing - a.bearing) * p,
    heatC: a.heatC + (b.heatC - a.heatC) * p,
    noise: a.noise + (b.noise - a.noise) * p,
    load: a.load + (b.load - a.load) * p,
  };
}

interface Segment {
  readonly atUs: number;
  readonly rampUs: number;
  readonly state: MachineState;
  readonly severity: number;
  readonly from: Signature;
  readonly to: Signature;
}

export interface TrueState {
  readonly state: MachineState;
  readonly severity: number;
  /** 0..1: how far the ramp into this state has progressed (1 = fully in it). */
  readonly progress: number;
  /** The state being left while progress < 1. */
  readonly previous: MachineState | null;
  readonly load: number;
}

const FS = 1000; // IMU rate, Hz
const BPFO_RATIO = 3.58; // outer-race defect frequency / shaft frequency, a typical deep-groove bearing
const RESONANCE_HZ = 320; // housing resonance, below the 500 Hz Nyquist frequency of a 1 kHz IMU
const RING_TAU_S = 0.003;
const HEAT_TAU_S = 480;
const G = 1;

export class MachineModel {
  private readonly segments: Segment[] = [];
  private readonly ambient: Scenario['ambient'];
  private readonly ambientShifts: {
    atUs: number;
    durUs: number;
    sensor: 'temperature' | 'humidity';
    delta: number;
  }[] = [];
  private readonly rng: Prng;
  private readonly envRng: Prng;
  private phase = 0;
  private readonly wander: Ar1;
  private readonly shaftHz: number;
  // Bearing: time to the next impulse (s) and the resonator state.
  private nextImpulseS = 0;
  private y1 = 0;
  private y2 = 0;
  private readonly c1: number;
  private readonly c2: number;
  private readonly accelNoise: Ar1[];
  private readonly gyroNoise: Ar1[];
  private readonly magNoise: Ar1[];
  private readonly gyroBias: readonly number[];
  private readonly earth: readonly number[];
  // Environment state.
  private tempWalk = 0;
  private humWalk = 0;
  private pressWalk = 0;
  private rise: number | null = null;
  private riseAtUs = 0;
  private readonly tempNoise: Ar1;
  private readonly humNoise: Ar1;
  private readonly pressNoise: Ar1;

  constructor(scenario: Scenario, seed: number) {
    this.rng = new Prng(seed, 'machine');
    this.envRng = new Prng(seed, 'environment');
    this.ambient = scenario.ambient;
    this.shaftHz = scenario.machine.shaftHz;
    let current = signature(scenario.machine.state, scenario.machine.severity, scenario.machine.load);
    let load = scenario.machine.load;
    this.segments.push({
      atUs: 0,
      rampUs: 0,
      state: scenario.machine.state,
      severity: scenario.machine.severity,
      from: current,
      to: current,
    });
    for (const e of scenario.events) {
      if (e.kind === 'state') {
        const atUs = Math.round(e.at * 1e6);
        const prev = this.signatureAt(atUs);
        load = e.load ?? load;
        current = signature(e.state, e.severity, load);
        this.segments.push({
          atUs,
          rampUs: Math.round(e.rampS * 1e6),
          state: e.state,
          severity: e.severity,
          from: prev,
          to: current,
        });
      } else if (e.kind === 'ambient_shift') {
        this.ambientShifts.push({
          atUs: e.at * 1e6,
          durUs: e.durationS * 1e6,
          sensor: e.sensor,
          delta: e.delta,
        });
      }
    }
    this.wander = new Ar1(this.rng, 0.999, 0.05);
    const w = (2 * Math.PI * RESONANCE_HZ) / FS;
    const r = Math.exp(-1 / (RING_TAU_S * FS));
    this.c1 = 2 * r * Math.cos(w);
    this.c2 = r * r;
    this.accelNoise = [0.9, 0.9, 0.9].map((phi) => new Ar1(this.rng, phi, 0.012));
    this.gyroNoise = [0.85, 0.85, 0.85].map((phi) => new Ar1(this.rng, phi, 0.06));
    this.magNoise = [0.8, 0.8, 0.8].map((phi) => new Ar1(this.rng, phi, 0.35));
    this.gyroBias = [0, 0, 0].map(() => this.rng.gaussian() * 0.4);
    const heading = this.rng.next() * 2 * Math.PI;
    this.earth = [20 * Math.cos(heading), 20 * Math.sin(heading), -44];
    this.tempNoise = new Ar1(this.envRng, 0.9, 0.03);
    this.humNoise = new Ar1(this.envRng, 0.9, 0.25);
    this.pressNoise = new Ar1(this.envRng, 0.8, 0.02);
  }

  private segmentIndex(tUs: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.segments[mid] as Segment).atUs <= tUs) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private progress(seg: Segment, tUs: number): number {
    return seg.rampUs <= 0 ? 1 : Math.min(1, Math.max(0, (tUs - seg.atUs) / seg.rampUs));
  }

  private signatureAt(tUs: number): Signature {
    const seg = this.segments[this.segmentIndex(tUs)] as Segment;
    return blend(seg.from, seg.to, this.progress(seg, tUs));
  }

  /** The true machine state at scenario time tUs: the label for training data. */
  stateAt(tUs: number): TrueState {
    const i = this.segmentIndex(tUs);
    const seg = this.segments[i] as Segment;
    const p = this.progress(seg, tUs);
    const prev = i > 0 ? (this.segments[i - 1] as Segment).state : null;
    return {
      state: seg.state,
      severity: seg.severity,
      progress: p,
      previous: p < 1 ? prev : null,
      load: blend(seg.from, seg.to, p).load,
    };
  }

  /**
   * Fills n IMU samples starting at tUs (1 kHz), interleaved x,y,z. Clean signal and noise are separate so
   * the measurement layer can grow the noise of one channel (noise_growth drift).
   */
  imu(
    tUs: number,
    n: number,
    accel: Float64Array,
    accelNoise: Float64Array,
    gyro: Float64Array,
    gyroNoise: Float64Array,
  ): void {
    const sig = this.signatureAt(tUs);
    const vib = 0.6 + 0.5 * sig.load;
    const f = this.shaftHz * (1 - 0.02 * (sig.load - 0.8)) + this.wander.next();
    const dphi = (2 * Math.PI * f) / FS;
    const bpfo = BPFO_RATIO * f;
    const rock = 0.3 + 6 * sig.radial1x * vib; // dps: the housing rocks with the 1x force
    const [bx, by, bz] = this.gyroBias as [number, number, number];
    const an = this.accelNoise as [Ar1, Ar1, Ar1];
    const gn = this.gyroNoise as [Ar1, Ar1, Ar1];
    const ns = sig.noise;
    // Rotate a phasor sample by sample (two trig calls per block instead of two per sample).
    const cd = Math.cos(dphi);
    const sd = Math.sin(dphi);
    let c = Math.cos(this.phase);
    let s = Math.sin(this.phase);
    for (let i = 0; i < n; i++) {
      const c0 = c;
      c = c0 * cd - s * sd;
      s = s * cd + c0 * sd;
      const s2 = 2 * s * c;
      const c2 = c * c - s * s;
      // Bearing: an impulse every 1/BPFO s (1% slip jitter), amplitude-modulated by the load zone (1x),
      // ringing the housing resonance through a two-pole resonator.
      let x = 0;
      if (sig.bearing > 0) {
        this.nextImpulseS -= 1 / FS;
        if (this.nextImpulseS <= 0) {
          x = sig.bearing * vib * (1 + 0.6 * s) * (1 + 0.15 * this.rng.gaussian());
          this.nextImpulseS += (1 / bpfo) * (1 + 0.01 * this.rng.gaussian());
        }
      } else {
        this.nextImpulseS = 0;
      }
      const ring = this.c1 * this.y1 - this.c2 * this.y2 + x;
      this.y2 = this.y1;
      this.y1 = ring;
      const r1 = sig.radial1x * vib;
      const r2 = sig.radial2x * vib;
      const k = i * 3;
      accel[k] = r1 * s + r2 * (0.8 * s2 + 0.6 * c2) + ring;
      accel[k + 1] = sig.axial1x * vib * (0.96 * s + 0.28 * c) + sig.axial2x * vib * s2 + 0.4 * ring;
      accel[k + 2] = G + r1 * c + r2 * (0.8 * c2 - 0.6 * s2) + 0.8 * ring;
      accelNoise[k] = an[0].next() * ns;
      accelNoise[k + 1] = an[1].next() * ns;
      accelNoise[k + 2] = an[2].next() * ns;
      gyro[k] = bx + rock * (0.92 * s + 0.39 * c);
      gyro[k + 1] = by + 0.3 * rock * (0.36 * s + 0.93 * c);
      gyro[k + 2] = bz + 0.6 * rock * c;
      gyroNoise[k] = gn[0].next();
      gyroNoise[k + 1] = gn[1].next();
      gyroNoise[k + 2] = gn[2].next();
    }
    this.phase = (this.phase + n * dphi) % (2 * Math.PI);
  }

  /** One magnetometer sample: earth field plus the motor's stray field, which grows with load. */
  mag(tUs: number, clean: Float64Array, noise: Float64Array): void {
    const load = this.signatureAt(tUs).load;
    const s = Math.sin(this.phase);
    const c = Math.cos(this.phase);
    const [ex, ey, ez] = this.earth as [number, number, number];
    clean[0] = ex + 14 * load * s;
    clean[1] = ey + 10 * load * c;
    clean[2] = ez + 9 * load;
    for (let a = 0; a < 3; a++) noise[a] = (this.magNoise[a] as Ar1).next();
  }

  private ambientShift(tUs: number, sensor: 'temperature' | 'humidity'): number {
    let d = 0;
    for (const e of this.ambientShifts) {
      if (e.sensor !== sensor || tUs < e.atUs) continue;
      d += e.delta * (e.durUs <= 0 ? 1 : Math.min(1, (tUs - e.atUs) / e.durUs));
    }
    return d;
  }

  /** Daily cycle, warmest at 15:00 (degC offset from the scenario's ambient). */
  private daily(tUs: number): number {
    const hour = this.ambient.startHour + tUs / 3.6e9;
    return 3 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
  }

  /** Ambient temperature at tUs, without the machine's heat. */
  ambientTemperature(tUs: number): number {
    return (
      this.ambient.temperatureC + this.daily(tUs) + this.tempWalk + this.ambientShift(tUs, 'temperature')
    );
  }

  /** Temperature at the board (1 Hz): ambient plus the machine's rise, first-order with HEAT_TAU_S. */
  temperature(tUs: number): { clean: number; noise: number } {
    const sig = this.signatureAt(tUs);
    const target = 8 * sig.load + sig.heatC;
    if (this.rise === null) this.rise = target;
    else this.rise += (target - this.rise) * (1 - Math.exp(-(tUs - this.riseAtUs) / 1e6 / HEAT_TAU_S));
    this.riseAtUs = tUs;
    this.tempWalk = 0.9995 * this.tempWalk + 0.02 * this.envRng.gaussian();
    return { clean: this.ambientTemperature(tUs) + this.rise, noise: this.tempNoise.next() };
  }

  /** Relative humidity (1 Hz): falls as the day warms, plus a slow random walk. */
  humidity(tUs: number): { clean: number; noise: number } {
    this.humWalk = 0.9995 * this.humWalk + 0.05 * this.envRng.gaussian();
    const rh =
      this.ambient.humidityPct - 2 * this.daily(tUs) + this.humWalk + this.ambientShift(tUs, 'humidity');
    return { clean: Math.min(100, Math.max(0, rh)), noise: this.humNoise.next() };
  }

  /** Barometric pressure (10 Hz): a slow walk plus the semidiurnal atmospheric tide. */
  pressure(tUs: number): { clean: number; noise: number } {
    this.pressWalk = 0.99995 * this.pressWalk + 0.003 * this.envRng.gaussian();
    const hour = this.ambient.startHour + tUs / 3.6e9;
    return {
      clean: this.ambient.pressureHpa + 0.5 * Math.sin((4 * Math.PI * hour) / 24) + this.pressWalk,
      noise: this.pressNoise.next(),
    };
  }
}
