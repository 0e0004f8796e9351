// The sensor front end between the physics and the wire: calibration drift (bias, gain, noise) and sensor
// faults (stuck, spikes, clipping) per channel, then saturation at the descriptor's full-scale range.
// A fault here changes values but never the framing: link faults live in board.ts.

import type { SensorDescriptor } from '../shared/sensors.ts';
import { channelNames } from '../shared/sensors.ts';
import { Prng } from '../shared/random.ts';
import type { Scenario, ScenarioEvent } from './scenario.ts';

type ChannelEvent = Extract<ScenarioEvent, { channel: string }>;

interface ChannelState {
  readonly events: ChannelEvent[];
  /** Last value output, held while the channel is stuck. */
  last: number;
}

interface Params {
  bias: number;
  gain: number;
  noise: number;
  stuck: boolean;
  spikeRate: number;
  spikeMagnitude: number;
  clipFactor: number;
}

function progress(atUs: number, durationS: number, tUs: number): number {
  const durUs = durationS * 1e6;
  return durUs <= 0 ? 1 : Math.min(1, Math.max(0, (tUs - atUs) / durUs));
}

function active(e: { at: number; durationS?: number | undefined }, tUs: number): boolean {
  const at = e.at * 1e6;
  return tUs >= at && (e.durationS === undefined || tUs < at + e.durationS * 1e6);
}

export class Measurement {
  private readonly channels = new Map<string, ChannelState>();
  private readonly rng: Prng;

  constructor(scenario: Scenario, seed: number, sensors: readonly SensorDescriptor[]) {
    this.rng = new Prng(seed, 'sensor-faults');
    for (const s of sensors)
      for (const c of channelNames(s)) this.channels.set(c, { events: [], last: Number.NaN });
    for (const e of scenario.events) {
      if (!('channel' in e)) continue;
      // `accel` targets every axis of the sensor; `accel.x` one channel.
      for (const [name, st] of this.channels)
        if (name === e.channel || name.startsWith(`${e.channel}.`)) st.events.push(e);
    }
  }

  private params(st: ChannelState, tUs: number, sensor: SensorDescriptor): Params {
    const p: Params = {
      bias: 0,
      gain: 1,
      noise: 1,
      stuck: false,
      spikeRate: 0,
      spikeMagnitude: 0,
      clipFactor: 0,
    };
    for (const e of st.events) {
      const atUs = e.at * 1e6;
      if (tUs < atUs) continue;
      switch (e.kind) {
        case 'bias_ramp':
          p.bias += e.delta * progress(atUs, e.durationS, tUs);
          break;
        case 'gain_change':
          p.gain *= 1 + (e.factor - 1) * progress(atUs, e.durationS, tUs);
          break;
        case 'noise_growth':
          p.noise *= 1 + (e.factor - 1) * progress(atUs, e.durationS, tUs);
          break;
        case 'stuck':
          if (active(e, tUs)) p.stuck = true;
          break;
        case 'spikes':
          if (active(e, tUs)) {
            p.spikeRate += e.ratePerS;
            p.spikeMagnitude = e.magnitude ?? (sensor.rangeMax - sensor.rangeMin) / 4;
          }
          break;
        case 'clipping':
          if (active(e, tUs)) p.clipFactor = e.factor ?? Number.POSITIVE_INFINITY;
          break;
      }
    }
    return p;
  }

  /**
   * Turns clean values plus noise (n samples, interleaved by axis) into what the sensor reports. Parameters
   * are evaluated once per call (one frame, at most 10 ms), which is finer than any drift in a scenario.
   */
  apply(
    sensor: SensorDescriptor,
    tUs: number,
    n: number,
    clean: Float64Array,
    noise: Float64Array,
    out: Float64Array,
  ): void {
    const names = channelNames(sensor);
    const nAxes = names.length;
    const dtS = 1 / sensor.rateHz;
    for (let a = 0; a < nAxes; a++) {
      const st = this.channels.get(names[a] as string) as ChannelState;
      const p = st.events.length === 0 ? null : this.params(st, tUs, sensor);
      for (let i = 0; i < n; i++) {
        const k = i * nAxes + a;
        let v = (clean[k] as number) + (noise[k] as number) * (p?.noise ?? 1);
        if (p !== null) {
          if (p.stuck && !Number.isNaN(st.last)) {
            out[k] = st.last;
            continue;
          }
          v = v * p.gain + p.bias;
          if (p.spikeRate > 0 && this.rng.next() < p.spikeRate * dtS)
            v += this.rng.next() < 0.5 ? -p.spikeMagnitude : p.spikeMagnitude;
          if (p.clipFactor > 0)
            v =
              p.clipFactor === Number.POSITIVE_INFINITY
                ? v >= 0
                  ? sensor.rangeMax
                  : sensor.rangeMin
                : v * p.clipFactor;
        }
        v = Math.min(sensor.rangeMax, Math.max(sensor.rangeMin, v));
        out[k] = v;
        st.last = v;
      }
    }
  }
}
