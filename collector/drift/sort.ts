// An ascending copy of a Float64Array. V8's TypedArray sort is a comparison sort (about 10 ms per 100k
// values here); `edgeloop drift` sorts two columns of 100k per comparison, so for long arrays this LSD
// radix sort on the IEEE-754 bits (16-bit digits, 4 passes, passes whose digit never varies skipped)
// halves that. Keys are mapped so unsigned order is numeric order (negatives: all bits flipped;
// positives: sign bit set), then mapped back. NaN never reaches it (columns are finite-filtered).

/** Below this length the native sort wins (the 4 x 65536-bucket histograms cost more than they save). */
const RADIX_MIN = 32_768;

/** A sorted copy (ascending); the input is left as it was. */
export function sortedCopy(src: Float64Array): Float64Array {
  const n = src.length;
  if (n < RADIX_MIN) return Float64Array.from(src).sort();
  let a = new Float64Array(src);
  let b = new Float64Array(n);
  let au = new Uint32Array(a.buffer, a.byteOffset, 2 * n);
  let bu = new Uint32Array(b.buffer, 0, 2 * n);
  const counts = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    let lo = au[2 * i] as number;
    let hi = au[2 * i + 1] as number;
    if (hi & 0x80000000) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    } else hi = (hi | 0x80000000) >>> 0;
    au[2 * i] = lo;
    au[2 * i + 1] = hi;
    counts[lo & 0xffff] = (counts[lo & 0xffff] as number) + 1;
    counts[65536 + (lo >>> 16)] = (counts[65536 + (lo >>> 16)] as number) + 1;
    counts[131072 + (hi & 0xffff)] = (counts[131072 + (hi & 0xffff)] as number) + 1;
    counts[196608 + (hi >>> 16)] = (counts[196608 + (hi >>> 16)] as number) + 1;
  }
  for (let p = 0; p < 4; p++) {
    const base = p * 65536;
    let sum = 0;
    let skip = false;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d] as number;
      if (c === n) skip = true;
      counts[base + d] = sum;
      sum += c;
    }
    if (skip) continue;
    const word = p < 2 ? 0 : 1;
    const shift = p % 2 === 0 ? 0 : 16;
    for (let i = 0; i < n; i++) {
      const lo = au[2 * i] as number;
      const hi = au[2 * i + 1] as number;
      const key = word === 0 ? lo : hi;
      const d = shift === 0 ? key & 0xffff : key >>> 16;
      const pos = counts[base + d] as number;
      counts[base + d] = pos + 1;
      bu[2 * pos] = lo;
      bu[2 * pos + 1] = hi;
    }
    const t = a;
    a = b;
    b = t;
    const tu = au;
    au = bu;
    bu = tu;
  }
  for (let i = 0; i < n; i++) {
    let lo = au[2 * i] as number;
    let hi = au[2 * i + 1] as number;
    if (hi & 0x80000000) hi = (hi & 0x7fffffff) >>> 0;
    else {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    }
    au[2 * i] = lo;
    au[2 * i + 1] = hi;
  }
  return a;
}
