// Hyperparameter search (issue #3 §3): grid or random, seeded, scored by mean macro-F1 over validation
// folds grouped by device-minute. Every trial is recorded for the bundle's lineage.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import { type DatasetRow, groupedFolds } from './dataset.ts';
import { classificationMetrics } from './metrics.ts';
import {
  applyScaler,
  argmaxRows,
  fitScaler,
  type Hyperparameters,
  predictScaled,
  trainMlp,
} from './model.ts';
import { deriveSeed, Prng, shuffled } from '../../shared/random.ts';

/** Candidate values per hyperparameter. Random search samples learningRate and l2 log-uniformly in their range. */
export interface SearchSpace {
  readonly hidden: readonly number[];
  readonly learningRate: readonly number[];
  readonly l2: readonly number[];
  readonly epochs: readonly number[];
  readonly batchSize: readonly number[];
}

export const DEFAULT_SEARCH_SPACE: SearchSpace = Object.freeze({
  hidden: [0, 16, 32],
  learningRate: [0.003, 0.01, 0.03],
  l2: [0, 1e-4, 1e-3],
  epochs: [40],
  batchSize: [32],
});

export interface SearchOptions {
  readonly kind: 'grid' | 'random';
  /** Budget: number of trials. Grid search evaluates min(trials, grid size) points. */
  readonly trials: number;
  /** Validation folds (>= 2), grouped by device-minute. */
  readonly folds: number;
  /** Overrides for the default space, per hyperparameter. */
  readonly space?: Partial<SearchSpace>;
}

export interface Trial {
  /** 0-based, in evaluation order. */
  readonly index: number;
  readonly hyperparameters: Hyperparameters;
  /** Macro-F1 on each validation fold, in fold order. */
  readonly foldScores: readonly number[];
  readonly meanMacroF1: number;
  /** Wall time of the trial; not part of any reproducibility claim. */
  readonly durationMs: number;
}

export interface SearchProgress {
  /** Trials finished so far (1-based). */
  readonly trial: number;
  readonly of: number;
  /** Best mean macro-F1 so far. */
  readonly best: number;
  readonly bestTrial: number;
}

export interface SearchResult {
  readonly trials: readonly Trial[];
  readonly best: Trial;
}

export interface SearchData {
  readonly rows: readonly DatasetRow[];
  readonly x: Float64Array;
  readonly y: Int32Array;
  readonly f: number;
  readonly classes: readonly string[];
}

function pick<T>(values: readonly T[], prng: Prng): T {
  return values[prng.int(0, values.length - 1)] as T;
}

function logUniform(lo: number, hi: number, prng: Prng): number {
  const v = lo === hi ? lo : Math.exp(Math.log(lo) + prng.next() * (Math.log(hi) - Math.log(lo)));
  return Number(v.toPrecision(4));
}

function checkSpace(space: SearchSpace): void {
  for (const [key, values] of Object.entries(space) as [string, readonly number[]][]) {
    if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v < 0)) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `search space "${key}" needs finite values >= 0`,
      );
    }
  }
  if (
    space.learningRate.some((v) => v === 0) ||
    space.epochs.some((v) => v < 1) ||
    space.batchSize.some((v) => v < 1)
  ) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      'learningRate must be > 0, epochs and batchSize >= 1',
    );
  }
}

/**
 * The hyperparameters to try. Grid: the Cartesian product in a fixed nesting order (hidden, learningRate,
 * l2, epochs, batchSize); when the budget is smaller, a seeded sample of it, kept in grid order.
 * Random: `trials` independent draws (hidden, epochs, batchSize from their lists; learningRate and
 * the positive l2 values log-uniform over their range; l2 = 0 with probability 1/|l2 list| if listed).
 */
export function searchCandidates(options: SearchOptions, seed: number): Hyperparameters[] {
  const space: SearchSpace = { ...DEFAULT_SEARCH_SPACE, ...options.space };
  checkSpace(space);
  if (!Number.isInteger(options.trials) || options.trials < 1) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `search trials must be an integer >= 1, got ${options.trials}`,
    );
  }
  const prng = new Prng(deriveSeed(seed, 'search', options.kind));
  if (options.kind === 'grid') {
    const grid: Hyperparameters[] = [];
    for (const hidden of space.hidden)
      for (const learningRate of space.learningRate)
        for (const l2 of space.l2)
          for (const epochs of space.epochs)
            for (const batchSize of space.batchSize)
              grid.push({ hidden, learningRate, l2, epochs, batchSize });
    if (options.trials >= grid.length) return grid;
    const chosen = shuffled(
      grid.map((_, i) => i),
      prng,
    )
      .slice(0, options.trials)
      .sort((a, b) => a - b);
    return chosen.map((i) => grid[i] as Hyperparameters);
  }
  const lr = [Math.min(...space.learningRate), Math.max(...space.learningRate)] as const;
  const positives = space.l2.filter((v) => v > 0);
  const out: Hyperparameters[] = [];
  for (let t = 0; t < options.trials; t++) {
    const hidden = pick(space.hidden, prng);
    const learningRate = logUniform(lr[0], lr[1], prng);
    const zeroL2 = positives.length === 0 || (space.l2.includes(0) && prng.next() < 1 / space.l2.length);
    const l2 = zeroL2 ? 0 : logUniform(Math.min(...positives), Math.max(...positives), prng);
    out.push({
      hidden,
      learningRate,
      l2,
      epochs: pick(space.epochs, prng),
      batchSize: pick(space.batchSize, prng),
    });
  }
  return out;
}

/** Trains on the other folds and returns macro-F1 on fold `k`. The scaler is fitted on the training folds only. */
function scoreFold(
  data: SearchData,
  foldOf: readonly number[],
  k: number,
  hp: Hyperparameters,
  seed: number,
): number {
  const { x, y, f, classes } = data;
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  foldOf.forEach((fold, i) => (fold === k ? valIdx : trainIdx).push(i));
  const gather = (idx: readonly number[]): { xs: Float64Array; ys: Int32Array } => {
    const xs = new Float64Array(idx.length * f);
    const ys = new Int32Array(idx.length);
    idx.forEach((r, i) => {
      xs.set(x.subarray(r * f, (r + 1) * f), i * f);
      ys[i] = y[r] as number;
    });
    return { xs, ys };
  };
  const tr = gather(trainIdx);
  const va = gather(valIdx);
  const scaler = fitScaler(tr.xs, trainIdx.length, f);
  const w = trainMlp(
    applyScaler(scaler, tr.xs, trainIdx.length, f),
    tr.ys,
    trainIdx.length,
    f,
    classes.length,
    hp,
    seed,
  );
  const probs = predictScaled(w, applyScaler(scaler, va.xs, valIdx.length, f), valIdx.length);
  return classificationMetrics(va.ys, argmaxRows(probs, valIdx.length, classes.length), classes).macroF1;
}

/**
 * Runs the search. Each trial and fold trains with its own derived seed, so results do not depend on
 * how many trials ran before. Yields to the event loop between trials so a progress bar can draw.
 * Ties on mean macro-F1 go to the earlier trial.
 */
export async function runSearch(
  data: SearchData,
  options: SearchOptions,
  seed: number,
  onProgress?: (p: SearchProgress) => void,
): Promise<Result<SearchResult>> {
  const candidates = searchCandidates(options, seed);
  const folds = groupedFolds(data.rows, options.folds, deriveSeed(seed, 'folds'));
  if (!folds.ok) return folds;
  const foldOf = folds.value;
  for (let k = 0; k < options.folds; k++) {
    if (!foldOf.includes(k)) return fail('EDGELOOP_ERR_TRAINING_SPLIT', `validation fold ${k} is empty`);
  }
  const trials: Trial[] = [];
  let best: Trial | undefined;
  for (const [index, hp] of candidates.entries()) {
    const started = performance.now();
    const foldScores: number[] = [];
    for (let k = 0; k < options.folds; k++)
      foldScores.push(scoreFold(data, foldOf, k, hp, deriveSeed(seed, 'trial', index, 'fold', k)));
    const meanMacroF1 = foldScores.reduce((s, v) => s + v, 0) / foldScores.length;
    const trial: Trial = {
      index,
      hyperparameters: hp,
      foldScores,
      meanMacroF1,
      durationMs: performance.now() - started,
    };
    trials.push(trial);
    if (best === undefined || meanMacroF1 > best.meanMacroF1) best = trial;
    onProgress?.({ trial: index + 1, of: candidates.length, best: best.meanMacroF1, bestTrial: best.index });
    await yieldToLoop();
  }
  if (best === undefined) return fail('EDGELOOP_ERR_TRAINING_SPLIT', 'the search ran no trials');
  return ok({ trials, best });
}
