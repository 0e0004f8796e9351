// Seeded randomness for the simulator. Determinism is a product promise (same scenario + seed -> same bytes),
// so nothing in firmware-sim may call Math.random(). sfc32 (Chris Doty-Humphrey's Small Fast Counting
// generator, PractRand-clean to 2^40+ bytes) is tiny and fast in 32-bit JavaScript arithmetic.

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
   * One stream per (seed, label): signal noise, link faults and boot ids draw from separate streams, so
   * adding a corruption fault never changes the signal values.
   */
  constructor(seed: number, label = '') {
    this.a = (seed >>> 0) ^ 0x9e3779b9;
    this.b = fnv1a(label) ^ Math.floor(seed / 0x100000000);
    this.c = 0x243f6a88;
    // Warm up: sfc32 needs a dozen rounds before similar seeds decorrelate.
    for (let i = 0; i < 15; i++) this.u32();
  }

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

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

/**
 * AR(1) noise, x[n] = phi x[n-1] + sqrt(1 - phi^2) sigma e[n]: stationary with standard deviation sigma and
 * lag-1 autocorrelation phi. Real sensor noise is coloured (filtering, thermal drift), not i.i.d., and the
 * drift monitors must be tested against that (PRODUCT.md, drift quality).
 */
export class Ar1 {
  private x: number;
  private readonly k: number;
  constructor(
    private readonly rng: Prng,
    private readonly phi: number,
    sigma: number,
  ) {
    this.k = Math.sqrt(1 - phi * phi) * sigma;
    this.x = rng.gaussian() * sigma;
  }
  next(): number {
    this.x = this.phi * this.x + this.k * this.rng.gaussian();
    return this.x;
  }
}
