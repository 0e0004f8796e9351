// Sensor groups of a feature vector (docs/explanations.md): the unit of a local explanation. A feature
// name is `<sensor>.<channel...>.<feature>` (docs/features.md), and its sensor is the group. The reference
// board's sensors get the names people use for them; a bring-your-own model's features group by the same
// prefix rule, whatever its sensors are called.

/** What the reference board's sensor names mean, in the order explanations list them. */
export const SENSOR_GROUP_NAMES: Readonly<Record<string, string>> = Object.freeze({
  accel: 'accelerometer',
  gyro: 'gyroscope',
  mag: 'magnetometer',
  humidity: 'humidity',
  pressure: 'pressure',
  temperature: 'temperature',
});

/** Most groups an exact explanation takes: 2^12 = 4,096 coalitions, one batch. */
export const MAX_GROUPS = 12;

export interface FeatureGroup {
  /** `accelerometer`, or the feature-name prefix for a sensor the reference board does not have. */
  readonly name: string;
  /** Positions of its features in the model's input, ascending. */
  readonly indices: readonly number[];
}

/** The group a feature belongs to (`accel.x.rms` -> `accelerometer`; `foo` -> `foo`). */
export function groupOfFeature(feature: string): string {
  const dot = feature.indexOf('.');
  const prefix = dot > 0 ? feature.slice(0, dot) : feature;
  return SENSOR_GROUP_NAMES[prefix] ?? prefix;
}

/** Groups the input positions by sensor: known sensors first in board order, then the others by name. */
export function featureGroups(featureNames: readonly string[]): FeatureGroup[] {
  const byName = new Map<string, number[]>();
  featureNames.forEach((f, i) => {
    const g = groupOfFeature(f);
    const list = byName.get(g) ?? [];
    list.push(i);
    byName.set(g, list);
  });
  const known = Object.values(SENSOR_GROUP_NAMES);
  const rank = (g: string): number => {
    const k = known.indexOf(g);
    return k < 0 ? known.length : k;
  };
  return [...byName.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, indices]) => ({ name, indices }));
}
