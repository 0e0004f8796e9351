// Synthetic, separable feature rows for tests, benchmarks and docs examples: each device-minute group
// carries one machine state, and each class has its own centroid in feature space.
import { type DatasetRow, KNOWN_CLASSES } from './dataset.ts';
import { Prng } from '../../shared/random.ts';

export interface SyntheticOptions {
  readonly seed: number;
  /** Default 4. */
  readonly devices?: number;
  /** Minutes per device. Default 10. */
  readonly minutes?: number;
  /** Windows (rows) per device-minute. Default 6. */
  readonly rowsPerGroup?: number;
  /** Default 8. */
  readonly features?: number;
  /** Noise std relative to the centroid spacing of 1. Default 0.35. */
  readonly noise?: number;
  readonly classes?: readonly string[];
}

export function syntheticRows(options: SyntheticOptions): DatasetRow[] {
  const prng = new Prng(options.seed);
  const classes = options.classes ?? KNOWN_CLASSES;
  const f = options.features ?? 8;
  const noise = options.noise ?? 0.35;
  // Centroids: a random point per class, scaled per feature so the scaler has work to do.
  const scale = Array.from({ length: f }, (_, j) => 10 ** ((j % 4) - 1));
  const centroids = classes.map(() => Array.from({ length: f }, () => prng.gaussian()));
  const rows: DatasetRow[] = [];
  for (let d = 1; d <= (options.devices ?? 4); d++) {
    for (let m = 0; m < (options.minutes ?? 10); m++) {
      const k = prng.int(0, classes.length - 1);
      const label = classes[k] as string;
      const centre = centroids[k] as number[];
      for (let w = 0; w < (options.rowsPerGroup ?? 6); w++) {
        const features = centre.map((c, j) => (c + noise * prng.gaussian()) * (scale[j] as number) + j);
        rows.push({
          features,
          label,
          group: `sim-${d}@${m}`,
          time: 1_700_000_000_000 + m * 60_000 + w * 10_000,
        });
      }
    }
  }
  return rows;
}
