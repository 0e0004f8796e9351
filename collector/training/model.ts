// The classifier (issue #3 §3): a standard scaler then a one-hidden-layer ReLU MLP with softmax, or
// softmax regression when hidden = 0. Plain Float64Array math: the model is small, exports to ONNX as
// a handful of standard ops, and training is deterministic given the seed (same weights bit-for-bit on
// the same Node build; there is no threading and every sum runs in a fixed order).
import { Prng, shuffled } from '../../shared/random.ts';

export interface Scaler {
  readonly mean: Float64Array;
  /** Population std; features with std below 1e-12 get 1 so they pass through centred, not blown up. */
  readonly std: Float64Array;
}

export interface Hyperparameters {
  /** Hidden units; 0 means softmax regression (no hidden layer). */
  readonly hidden: number;
  /** Adam step size. */
  readonly learningRate: number;
  /** L2 penalty on weights (not biases), added to the gradient. */
  readonly l2: number;
  /** Passes over the training rows. */
  readonly epochs: number;
  /** Rows per mini-batch. */
  readonly batchSize: number;
}

export interface MlpWeights {
  readonly features: number;
  readonly hidden: number;
  readonly classes: number;
  /** [features x hidden], row-major; empty when hidden = 0. */
  readonly w1: Float64Array;
  readonly b1: Float64Array;
  /** [(hidden or features) x classes], row-major. */
  readonly w2: Float64Array;
  readonly b2: Float64Array;
}

export interface TrainedModel {
  readonly classes: readonly string[];
  readonly scaler: Scaler;
  readonly weights: MlpWeights;
  readonly hyperparameters: Hyperparameters;
}

export function fitScaler(x: Float64Array, n: number, f: number): Scaler {
  const mean = new Float64Array(f);
  const std = new Float64Array(f);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) + (x[i * f + j] as number);
  for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      const d = (x[i * f + j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + d * d;
    }
  }
  for (let j = 0; j < f; j++) {
    const s = Math.sqrt((std[j] as number) / n);
    std[j] = s < 1e-12 ? 1 : s;
  }
  return { mean, std };
}

export function applyScaler(s: Scaler, x: Float64Array, n: number, f: number): Float64Array {
  const out = new Float64Array(n * f);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++)
      out[i * f + j] = ((x[i * f + j] as number) - (s.mean[j] as number)) / (s.std[j] as number);
  }
  return out;
}

/** out[n x c] = a[n x d] * w[d x c] + b[c] */
function affine(
  a: Float64Array,
  n: number,
  d: number,
  w: Float64Array,
  b: Float64Array,
  c: number,
): Float64Array {
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) out[i * c + k] = b[k] as number;
    for (let j = 0; j < d; j++) {
      const v = a[i * d + j] as number;
      if (v === 0) continue;
      for (let k = 0; k < c; k++) out[i * c + k] = (out[i * c + k] as number) + v * (w[j * c + k] as number);
    }
  }
  return out;
}

function softmaxInPlace(z: Float64Array, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < c; k++) max = Math.max(max, z[i * c + k] as number);
    let sum = 0;
    for (let k = 0; k < c; k++) {
      const e = Math.exp((z[i * c + k] as number) - max);
      z[i * c + k] = e;
      sum += e;
    }
    for (let k = 0; k < c; k++) z[i * c + k] = (z[i * c + k] as number) / sum;
  }
}

interface Forward {
  hidden: Float64Array; // post-ReLU activations [n x h], or the input when h = 0
  probs: Float64Array; // [n x c]
}

function forward(w: MlpWeights, x: Float64Array, n: number): Forward {
  const { features: f, hidden: h, classes: c } = w;
  let a = x;
  if (h > 0) {
    a = affine(x, n, f, w.w1, w.b1, h);
    for (let i = 0; i < a.length; i++) if ((a[i] as number) < 0) a[i] = 0;
  }
  const probs = affine(a, n, h > 0 ? h : f, w.w2, w.b2, c);
  softmaxInPlace(probs, n, c);
  return { hidden: a, probs };
}

/** Class probabilities [n x c] for already-scaled rows. */
export function predictScaled(w: MlpWeights, x: Float64Array, n: number): Float64Array {
  return forward(w, x, n).probs;
}

/**
 * Class probabilities [n x c] for raw feature rows (row-major [n x f]). The exported graph takes float32
 * features and standardises them in float64 (onnx-export.ts), so this does the same: each input is
 * rounded to float32 first (a no-op for pipeline features, which are float32 already), then scaled in
 * float64. The parity check of issue #3 §4 then compares like with like.
 */
export function predictProba(model: TrainedModel, x: Float64Array, n: number): Float64Array {
  const f = model.weights.features;
  const x32 = Float64Array.from(x, Math.fround);
  return predictScaled(model.weights, applyScaler(model.scaler, x32, n, f), n);
}

/** Index of the largest probability per row; ties go to the lower index, as ONNX ArgMax does. */
export function argmaxRows(p: Float64Array | Float32Array, n: number, c: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if ((p[i * c + k] as number) > (p[i * c + best] as number)) best = k;
    out[i] = best;
  }
  return out;
}

class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  constructor(size: number) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  step(p: Float64Array, g: Float64Array, lr: number, t: number): void {
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] as number;
      const m = b1 * (this.m[i] as number) + (1 - b1) * gi;
      const v = b2 * (this.v[i] as number) + (1 - b2) * gi * gi;
      this.m[i] = m;
      this.v[i] = v;
      p[i] = (p[i] as number) - (lr * (m / c1)) / (Math.sqrt(v / c2) + 1e-8);
    }
  }
}

/**
 * Trains on scaled rows with mini-batch Adam and softmax cross-entropy. Weight init (He normal) and
 * the per-epoch shuffle come from `seed`, so the same inputs give the same weights bit-for-bit.
 */
export function trainMlp(
  x: Float64Array,
  y: Int32Array,
  n: number,
  f: number,
  c: number,
  hp: Hyperparameters,
  seed: number,
): MlpWeights {
  const prng = new Prng(seed);
  const h = hp.hidden;
  const d = h > 0 ? h : f;
  const w1 = new Float64Array(h > 0 ? f * h : 0);
  const b1 = new Float64Array(h);
  const w2 = new Float64Array(d * c);
  const b2 = new Float64Array(c);
  const s1 = Math.sqrt(2 / f);
  for (let i = 0; i < w1.length; i++) w1[i] = prng.gaussian() * s1;
  const s2 = Math.sqrt((h > 0 ? 2 : 1) / d);
  for (let i = 0; i < w2.length; i++) w2[i] = prng.gaussian() * s2;
  const w: MlpWeights = { features: f, hidden: h, classes: c, w1, b1, w2, b2 };

  const opt = [new Adam(w1.length), new Adam(h), new Adam(w2.length), new Adam(c)] as const;
  const g1 = new Float64Array(w1.length);
  const gb1 = new Float64Array(h);
  const g2 = new Float64Array(w2.length);
  const gb2 = new Float64Array(c);
  const order = Array.from({ length: n }, (_, i) => i);
  const bs = Math.max(1, Math.min(hp.batchSize, n));
  let t = 0;
  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    const perm = shuffled(order, prng);
    for (let start = 0; start < n; start += bs) {
      const idx = perm.slice(start, start + bs);
      const m = idx.length;
      const xb = new Float64Array(m * f);
      for (let r = 0; r < m; r++)
        xb.set(x.subarray((idx[r] as number) * f, ((idx[r] as number) + 1) * f), r * f);
      const fw = forward(w, xb, m);
      // dL/dlogits = (p - onehot) / m for mean cross-entropy.
      const dz = fw.probs;
      for (let r = 0; r < m; r++) {
        const k = y[idx[r] as number] as number;
        dz[r * c + k] = (dz[r * c + k] as number) - 1;
      }
      for (let i = 0; i < dz.length; i++) dz[i] = (dz[i] as number) / m;
      gradAffine(fw.hidden, m, d, dz, c, w2, hp.l2, g2, gb2);
      if (h > 0) {
        // Back through w2 and the ReLU: da = dz * w2^T, zeroed where the unit was off.
        const da = new Float64Array(m * h);
        for (let r = 0; r < m; r++) {
          for (let j = 0; j < h; j++) {
            if ((fw.hidden[r * h + j] as number) <= 0) continue;
            let s = 0;
            for (let k = 0; k < c; k++) s += (dz[r * c + k] as number) * (w2[j * c + k] as number);
            da[r * h + j] = s;
          }
        }
        gradAffine(xb, m, f, da, h, w1, hp.l2, g1, gb1);
      }
      t++;
      opt[0].step(w1, g1, hp.learningRate, t);
      opt[1].step(b1, gb1, hp.learningRate, t);
      opt[2].step(w2, g2, hp.learningRate, t);
      opt[3].step(b2, gb2, hp.learningRate, t);
    }
  }
  return w;
}

/** gw = a^T * dz + l2 * w; gb = column sums of dz. */
function gradAffine(
  a: Float64Array,
  m: number,
  d: number,
  dz: Float64Array,
  c: number,
  w: Float64Array,
  l2: number,
  gw: Float64Array,
  gb: Float64Array,
): void {
  for (let i = 0; i < gw.length; i++) gw[i] = l2 * (w[i] as number);
  gb.fill(0);
  for (let r = 0; r < m; r++) {
    for (let k = 0; k < c; k++) gb[k] = (gb[k] as number) + (dz[r * c + k] as number);
    for (let j = 0; j < d; j++) {
      const v = a[r * d + j] as number;
      if (v === 0) continue;
      for (let k = 0; k < c; k++) gw[j * c + k] = (gw[j * c + k] as number) + v * (dz[r * c + k] as number);
    }
  }
}
