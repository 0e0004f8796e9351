// Integrity check configuration: one defaults object with units in the names (STYLE.md habit 8), each check
// overridable on its own. docs/integrity.md documents every default and why it was chosen; keep them in step.

import { unknownOptionError } from '../config.ts';
import { EdgeloopError } from '../errors.ts';
import { integrityCheckNames, type IntegrityCheckName } from '../samples.ts';

export interface SpanLimits {
  readonly min: number;
  readonly max: number;
}

export interface IntegrityConfig {
  /** QARTOD gross range test: outside the sensor span -> fail, outside the user span -> suspect. */
  readonly range: {
    readonly enabled: boolean;
    /** Slack around the sensor span, in resolution steps (float rounding of scaled integers). */
    readonly toleranceSteps: number;
    /** Operator limits by channel ("accel.x") or sensor ("accel") name; channel wins. None by default. */
    readonly userSpans: Readonly<Record<string, SpanLimits>>;
  };
  /** Fraction of samples at full scale. */
  readonly clipping: {
    readonly enabled: boolean;
    /** A value within this many resolution steps of rangeMin/rangeMax counts as clipped. */
    readonly fullScaleSteps: number;
    readonly suspectFraction: number;
    readonly failFraction: number;
  };
  /** Any NaN or infinity fails the channel. */
  readonly nan: { readonly enabled: boolean };
  /** QARTOD flat line test: the longest run of values within a tolerance. */
  readonly flatline: {
    readonly enabled: boolean;
    /** Values within this many resolution steps of each other (max - min of the run) are "the same". */
    readonly toleranceSteps: number;
    readonly suspectSamples: number;
    readonly failSamples: number;
    /** Sensors slower than this are environmental: their runs must also last the seconds below. */
    readonly slowRateHz: number;
    readonly slowSuspectSeconds: number;
    readonly slowFailSeconds: number;
  };
  /** QARTOD spike test, with a robust (median/MAD) scale instead of a fixed threshold. */
  readonly spike: {
    readonly enabled: boolean;
    /** Neighbour deviation in units of the robust spread (1.4826 * MAD) of the channel. */
    readonly suspectSpread: number;
    readonly failSpread: number;
    /** Fewer samples than this (window + history) and the spread is not trusted: no verdict. */
    readonly minReferenceSamples: number;
    /** Floor of the robust spread, in resolution steps, so a quiet quantized channel is not all spikes. */
    readonly minSpreadSteps: number;
  };
  /** QARTOD timing/gap test: missing samples from index gaps, timestamp gaps and a short window. */
  readonly gap: {
    readonly enabled: boolean;
    /** An interval longer than this many periods is a gap of round(dt / period) - 1 samples. */
    readonly gapPeriods: number;
    readonly suspectFraction: number;
    readonly failFraction: number;
  };
  /** Inter-sample intervals against the declared period (real in CSV mode: arrival times). */
  readonly jitter: {
    readonly enabled: boolean;
    /** 95th percentile of |interval - period| / period. */
    readonly suspectP95Fraction: number;
    readonly failP95Fraction: number;
    /** |mean interval - period| / period: the device runs at another rate than it declares. */
    readonly suspectRateErrorFraction: number;
    readonly failRateErrorFraction: number;
    readonly minIntervals: number;
    /** Intervals longer than this many periods are lost samples (the gap check's), not jitter. */
    readonly maxIntervalPeriods: number;
  };
  /** Device time going backwards, or jumping forward further than any gap explains. */
  readonly timestamp: {
    readonly enabled: boolean;
    /** A forward jump beyond the index-predicted time larger than this restarts window alignment. */
    readonly clockJumpMs: number;
    readonly backwardStatus: 'suspect' | 'fail';
    readonly jumpStatus: 'suspect' | 'fail';
  };
  /** Samples of history kept per channel for slow sensors (spike scale, flat runs, jitter). */
  readonly historySamples: number;
}

export const defaultIntegrityConfig: IntegrityConfig = Object.freeze({
  range: Object.freeze({ enabled: true, toleranceSteps: 0.5, userSpans: Object.freeze({}) }),
  clipping: Object.freeze({ enabled: true, fullScaleSteps: 1, suspectFraction: 0.001, failFraction: 0.05 }),
  nan: Object.freeze({ enabled: true }),
  flatline: Object.freeze({
    enabled: true,
    toleranceSteps: 0.5,
    suspectSamples: 100,
    failSamples: 500,
    slowRateHz: 20,
    slowSuspectSeconds: 1800,
    slowFailSeconds: 7200,
  }),
  spike: Object.freeze({
    enabled: true,
    suspectSpread: 12,
    failSpread: 40,
    minReferenceSamples: 16,
    minSpreadSteps: 2,
  }),
  gap: Object.freeze({ enabled: true, gapPeriods: 1.5, suspectFraction: 0.001, failFraction: 0.1 }),
  jitter: Object.freeze({
    enabled: true,
    suspectP95Fraction: 0.5,
    failP95Fraction: 1.5,
    suspectRateErrorFraction: 0.02,
    failRateErrorFraction: 0.1,
    minIntervals: 8,
    maxIntervalPeriods: 3,
  }),
  timestamp: Object.freeze({
    enabled: true,
    clockJumpMs: 2000,
    backwardStatus: 'fail',
    jumpStatus: 'suspect',
  }),
  historySamples: 64,
} as const);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Per-check overrides: `{ spike: { suspectSpread: 8 } }`. Unknown names are errors naming the closest one. */
export type IntegrityConfigOverrides = {
  readonly [K in IntegrityCheckName]?: Partial<IntegrityConfig[K]>;
} & { readonly historySamples?: number };

function invalid(path: string, msg: string): EdgeloopError {
  return new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `integrity.${path}: ${msg}`);
}

function checkSection(name: IntegrityCheckName, section: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(section)) {
    if (k === 'enabled') {
      if (typeof v !== 'boolean') throw invalid(`${name}.${k}`, 'must be true or false');
    } else if (k === 'userSpans') {
      for (const [ch, span] of Object.entries(v as Record<string, SpanLimits>)) {
        if (!Number.isFinite(span.min) || !Number.isFinite(span.max) || span.min >= span.max) {
          throw invalid(`${name}.userSpans.${ch}`, 'needs finite min < max');
        }
      }
    } else if (k === 'backwardStatus' || k === 'jumpStatus') {
      if (v !== 'suspect' && v !== 'fail') throw invalid(`${name}.${k}`, 'must be "suspect" or "fail"');
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw invalid(`${name}.${k}`, 'must be a finite number >= 0');
    }
  }
  for (const [s, f] of [
    ['suspectFraction', 'failFraction'],
    ['suspectSamples', 'failSamples'],
    ['slowSuspectSeconds', 'slowFailSeconds'],
    ['suspectSpread', 'failSpread'],
    ['suspectP95Fraction', 'failP95Fraction'],
    ['suspectRateErrorFraction', 'failRateErrorFraction'],
  ] as const) {
    const a = section[s];
    const b = section[f];
    if (typeof a === 'number' && typeof b === 'number' && a > b)
      throw invalid(`${name}.${s}`, `must not exceed ${f} (${b})`);
  }
}

/** Merges overrides over the defaults, validates and freezes. Throws EDGELOOP_ERR_CONFIG_* on bad input. */
export function resolveIntegrityConfig(overrides: IntegrityConfigOverrides = {}): IntegrityConfig {
  const known = [...integrityCheckNames, 'historySamples'];
  const out = { ...defaultIntegrityConfig } as Mutable<IntegrityConfig>;
  // Overrides often come from JSON or env parsing, so trust nothing about their shape.
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (!known.includes(key)) throw unknownOptionError(key, known, 'integrity.');
    if (value === undefined) continue;
    if (key === 'historySamples') {
      if (!Number.isInteger(value) || (value as number) < 3) throw invalid(key, 'must be an integer >= 3');
      out.historySamples = value as number;
      continue;
    }
    const name = key as IntegrityCheckName;
    const base = defaultIntegrityConfig[name] as unknown as Record<string, unknown>;
    for (const k of Object.keys(value as object)) {
      if (!(k in base)) throw unknownOptionError(k, Object.keys(base), `integrity.${name}.`);
    }
    const merged = { ...base, ...(value as object) } as Record<string, unknown>;
    checkSection(name, merged);
    (out as unknown as Record<string, unknown>)[name] = Object.freeze(merged);
  }
  return Object.freeze(out);
}
