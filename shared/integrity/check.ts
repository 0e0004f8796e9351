// The strategy interface every integrity check implements (one file per check, STYLE.md), and the small
// helpers they share. A check looks at one channel window against its sensor descriptor and returns one
// flag, good included; evaluateIntegrity keeps only the non-good ones.

import type { ChannelWindow, FlagStatus, IntegrityCheckName, IntegrityFlag } from '../samples.ts';
import type { SensorDescriptor } from '../sensors.ts';
import type { IntegrityConfig } from './config.ts';
import type { ChannelHistory, TimestampEvent } from './state.ts';

/** The samples a check may look at: history before the window, then the window itself. */
export interface ChannelContext {
  readonly values: Float64Array;
  readonly timestampsUs: Float64Array;
  /** Index in `values` of the window's first sample; everything before it is history. */
  readonly windowStart: number;
}

export interface CheckInput {
  readonly channel: ChannelWindow;
  readonly sensor: SensorDescriptor;
  readonly config: IntegrityConfig;
  /** History before the window plus the window (just the window when evaluation is stateless). */
  readonly context: ChannelContext;
  /** Per-channel state carried across windows; undefined for a stateless evaluation. */
  readonly history: ChannelHistory | undefined;
  /** Time-base anomalies the windower saw on this channel's sensor, to report with this window. */
  readonly events: readonly TimestampEvent[];
  /**
   * Loss the sample index explains (binary mode): timestamp of a sample, µs -> samples lost right after it.
   * An interval that starts there spans that many more periods, so it is loss, not jitter.
   */
  readonly lostAfterUs?: ReadonlyMap<number, number>;
}

export interface IntegrityCheck {
  readonly name: IntegrityCheckName;
  evaluate(input: CheckInput): IntegrityFlag;
}

const rank: Readonly<Record<FlagStatus, number>> = { good: 0, suspect: 1, fail: 2 };

export function worse(a: FlagStatus, b: FlagStatus): FlagStatus {
  return rank[b] > rank[a] ? b : a;
}

/** good / suspect / fail for a statistic where larger is worse (QARTOD: >= threshold flags). */
export function grade(value: number, suspect: number, failAt: number): FlagStatus {
  if (value >= failAt) return 'fail';
  if (value >= suspect) return 'suspect';
  return 'good';
}

export function makeFlag(
  channel: ChannelWindow,
  check: IntegrityCheckName,
  status: FlagStatus,
  reason: string,
  value?: number,
  threshold?: number,
): IntegrityFlag {
  return {
    channel: channel.channel,
    check,
    status,
    reason,
    ...(value === undefined ? {} : { value }),
    ...(threshold === undefined ? {} : { threshold }),
  };
}

/** Rounds for reasons: enough digits to read, not a wall of them. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

export function pct(fraction: number): string {
  return `${fmt(fraction * 100)}%`;
}

/** k-th smallest (0-based) by quickselect, reordering `a` in place: O(n), unlike a sort. */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i++] = a[j] as number;
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}

/** Median of a copy (the input is not reordered). Non-finite values must be filtered out before. */
export function median(values: Float64Array): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const s = Float64Array.from(values);
  const mid = n >> 1;
  const upper = select(s, mid);
  if (n % 2 === 1) return upper;
  // After select, everything below index mid is <= upper: the lower middle is their maximum.
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < mid; i++) lower = Math.max(lower, s[i] as number);
  return (lower + upper) / 2;
}

/** 1.4826 * median absolute deviation: the standard deviation for Gaussian data, robust to outliers. */
export function robustSpread(values: Float64Array): number {
  const m = median(values);
  const dev = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs((values[i] as number) - m);
  return 1.4826 * median(dev);
}

/** The finite values of an array (NaN and infinities are the nan check's business). */
export function finiteOnly(values: Float64Array): Float64Array {
  let n = 0;
  for (const v of values) if (Number.isFinite(v)) n++;
  if (n === values.length) return values;
  const out = new Float64Array(n);
  let j = 0;
  for (const v of values) if (Number.isFinite(v)) out[j++] = v;
  return out;
}

/** Declared sample period in µs, or 0 when the rate is unknown (CSV before two lines arrived). */
export function periodUs(channel: ChannelWindow): number {
  return channel.rateHz > 0 ? 1e6 / channel.rateHz : 0;
}
