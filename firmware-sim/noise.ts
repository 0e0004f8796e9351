// Coloured noise for the simulator's signals, drawn from the shared seeded PRNG (shared/random.ts): nothing
// in firmware-sim may call Math.random(), because the same scenario and seed must give the same bytes.

import type { Prng } from '../shared/random.ts';

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
