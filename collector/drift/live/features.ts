// Which features the live drift monitor watches, and how they map to channels, sensor groups and units
// (docs/monitors.md, "What is watched"). The default is each channel's level and spread: `mean` and `std`
// of every fast channel (accel, gyro, mag: 3 axes + magnitude), `mean` of every slow one (humidity,
// pressure, temperature): 27 of the 192 features on the reference board. Level and spread are what a
// calibration bias, a gain change, a noise growth or a change of surroundings move first; the spectral
// bands and shape features follow the machine state, which the prediction mix watches instead. Cost is
// linear in the count (ring memory, one comparison per feature, basis and due device).

import { channelNames, referenceSensors } from '../../../shared/sensors.ts';

/** Sensors whose level is the surroundings, not the machine: moved together, they are an environment change. */
export const ENVIRONMENT_GROUPS: ReadonlySet<string> = new Set(['temperature', 'humidity', 'pressure']);

/**
 * Smallest level change of an environment channel worth an alert, in its unit. A day moves the reference
 * board's temperature by ±3 degC and humidity by ±6 %RH, and the weather moves pressure by a few hPa; a
 * baseline learned over ten minutes would call that drift, so the floor is set above a few hours' swing.
 * Applied as the drift methods' physical floor (floorScale = floor / reference scale).
 */
export const DEFAULT_PHYSICAL_FLOORS: Readonly<Record<string, number>> = Object.freeze({
  'temperature.mean': 4,
  'humidity.mean': 10,
  'pressure.mean': 5,
});

export interface MonitoredFeature {
  /** `accel.x.mean` */
  readonly name: string;
  /** `accel.x`: what ChannelHealth is asked about. */
  readonly channel: string;
  /** `accel`: the decision unit (a sensor's axes and magnitude together). */
  readonly group: string;
  /** The channel's physical unit (`g`), or null for an unknown sensor. */
  readonly unit: string | null;
  /** Smallest level change worth an alert, in `unit`, or null (then the σ floor alone applies). */
  readonly physicalFloor: number | null;
}

/** The default monitored feature names for the reference board (fast: mean, std; slow: mean). */
export function defaultFeatureNames(): string[] {
  const out: string[] = [];
  for (const s of referenceSensors) {
    const channels = channelNames(s);
    if (s.axes.length === 3) channels.push(`${s.name}.magnitude`);
    const fast = s.rateHz >= 50;
    for (const c of channels) {
      out.push(`${c}.mean`);
      if (fast) out.push(`${c}.std`);
    }
  }
  return out;
}

const unitOf = new Map(referenceSensors.map((s) => [s.name, s.unit]));

/** Describes feature names (`<channel>.<feature>`); the names given win over the defaults. */
export function monitoredFeatures(
  names: readonly string[],
  floors: Readonly<Record<string, number>> = DEFAULT_PHYSICAL_FLOORS,
): MonitoredFeature[] {
  const list = names.length > 0 ? names : defaultFeatureNames();
  return [...new Set(list)].map((name) => {
    const dot = name.lastIndexOf('.');
    const channel = dot > 0 ? name.slice(0, dot) : name;
    const group = channel.split('.')[0] ?? channel;
    return {
      name,
      channel,
      group,
      unit: unitOf.get(group) ?? null,
      physicalFloor: floors[name] ?? null,
    };
  });
}
