// The one seeded PRNG (issue #7 §4). Determinism is a product promise: the simulator gives the same bytes
// for the same scenario and seed, and training gives the same splits, weights and search for the same data
// and seed (issue #3 §3). Math.random cannot be seeded, so nothing that must be reproducible calls it.
//
// sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-clean to 2^40+ bytes) is tiny and
// fast in 32-bit JavaScript arithmetic. It is the simulator's generator since issue #1, kept bit-for-bit so
// a (scenario, seed) still produces the same capture; training used mulberry32 until issue #7 and now uses
// this one too. Not for cryptography.

/** 32-bit FNV-1a, to derive one independent stream per purpose from the user's seed and a label. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  private spare: number | null = null;

  /**
   * One stream per (seed, label): in the simulator signal noise, link faults and boot ids draw from
   * separate streams, so adding a corruption fault never changes the signal values. Seeds above 2^32 use
   * their high bits too.
   */
  constructor(seed: number, label = '') {
    this.a = (seed >>> 0) ^ 0x9e3779b9;
    this.b = fnv1a(label) ^ Math.floor(seed / 0x100000000);
    this.c = 0x243f6a88;
    // Warm up: sfc32 needs a dozen rounds before similar seeds decorrelate.
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Standard normal (Marsaglia's polar method: no trigonometry; caches the second value). */
  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u: number;
    let v: number;
    let q: number;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      q = u * u + v * v;
    } while (q >= 1 || q === 0);
    const k = Math.sqrt((-2 * Math.log(q)) / q);
    this.spare = v * k;
    return u * k;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

/**
 * A seeded uniform [0, 1) source as a plain function, for code that takes `() => number` (test data
 * generators, chunkers).
 */
export function uniform(seed: number, label = ''): () => number {
  const p = new Prng(seed, label);
  return () => p.next();
}

/**
 * Derives an independent 32-bit seed from a base seed and a path such as ('fold', 2), so every trial and
 * fold has its own stream and adding a trial never shifts the others. Unlike a Prng label, the result is a
 * plain seed that can be handed on (to the simulator, or recorded). FNV-1a over the text, then a murmur3
 * finaliser to spread the bits.
 */
export function deriveSeed(seed: number, ...path: readonly (string | number)[]): number {
  let h = fnv1a(`${seed >>> 0}/${path.join('/')}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Fisher-Yates shuffle into a new array. */
export function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

/**
 * Fills `out` with a stationary AR(1) series of unit variance, x[i+1] = phi·x[i] + sqrt(1 - phi²)·e: the
 * autocorrelated noise drift is judged on (the drift surrogate, its tests and benchmark). Returns `out`.
 */
export function fillAr1(prng: Prng, out: Float64Array, phi: number): Float64Array {
  const innovation = Math.sqrt(1 - phi * phi);
  let x = prng.gaussian();
  for (let i = 0; i < out.length; i++) {
    out[i] = x;
    x = phi * x + innovation * prng.gaussian();
  }
  return out;
}
