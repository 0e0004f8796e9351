// Parameters of the feature pipeline (docs/features.md §Parameters). Every option is here, with its default
// and unit, because the parameter hash must cover everything that changes a feature value: two pipelines
// with the same id and the same hash must produce the same numbers on the same window.

import { createHash } from 'node:crypto';
import { unknownOptionError } from '../config.ts';
import { EdgeloopError } from '../errors.ts';

export const bandScales = ['log', 'linear'] as const;
export type BandScale = (typeof bandScales)[number];

export const bandValues = ['fraction', 'power'] as const;
export type BandValue = (typeof bandValues)[number];

export interface FeatureParams {
  /**
   * Channels whose declared rate is at least this many Hz are "fast": they get the seven time-domain
   * features and band energies. Slower channels get mean/min/max/last only. Default 50 Hz, so the
   * reference magnetometer (100 Hz) is fast and pressure (10 Hz) is slow.
   */
  readonly fastRateHz: number;
  /** Number of spectral bands per fast channel, 1..64. Default 8. */
  readonly bands: number;
  /** 'log' (default): band 0 is [0, bandMinHz), bands 1..N-1 are log spaced up to Nyquist. 'linear': equal widths. */
  readonly bandScale: BandScale;
  /** Upper edge of band 0 for the 'log' scale, Hz. Must be below fastRateHz / 2. Default 5 Hz. */
  readonly bandMinHz: number;
  /** 'fraction' (default): band energy / total energy, dimensionless, sums to 1. 'power': mean-square, unit². */
  readonly bandValue: BandValue;
  /** Add a `<sensor>.magnitude` channel, sqrt(x²+y²+z²), for every three-axis sensor. Default true. */
  readonly magnitude: boolean;
  /** Band energies for magnitude channels too (when the sensor is fast). Default true. */
  readonly magnitudeBands: boolean;
  /**
   * A channel is valid when its finite samples are at least max(1, ceil(minCoverage × expected)); an
   * invalid channel's features are imputed as 0 and flagged in the valid mask. 0..1, default 0.5.
   */
  readonly minCoverage: number;
}

export const defaultFeatureParams: Readonly<FeatureParams> = Object.freeze({
  fastRateHz: 50,
  bands: 8,
  bandScale: 'log',
  bandMinHz: 5,
  bandValue: 'fraction',
  magnitude: true,
  magnitudeBands: true,
  minCoverage: 0.5,
});

const paramKeys = Object.keys(defaultFeatureParams) as (keyof FeatureParams)[];

function invalid(detail: string): EdgeloopError {
  return new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `feature pipeline: ${detail}`);
}

function finiteNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw invalid(`${name} must be a finite number, got ${String(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw invalid(`${name} must be one of ${allowed.join(', ')}, got ${String(v)}`);
  }
  return v as T;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(`${name} must be true or false, got ${String(v)}`);
  return v;
}

/**
 * Merges `input` over the defaults, validates every field and returns a frozen object with keys in sorted
 * order. Throws EdgeloopError (EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION / _CONFIG_INVALID): bad parameters are
 * bad config, never a runtime condition.
 */
export function resolveFeatureParams(input: Partial<FeatureParams> = {}): Readonly<FeatureParams> {
  for (const k of Object.keys(input)) {
    if (!(paramKeys as string[]).includes(k)) throw unknownOptionError(k, paramKeys, '');
  }
  const m: Record<string, unknown> = { ...defaultFeatureParams };
  // Untyped callers (JSON config, a bundle manifest) may pass explicit undefined: that means "default".
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) if (v !== undefined) m[k] = v;

  const fastRateHz = finiteNumber('fastRateHz', m.fastRateHz);
  if (fastRateHz <= 0) throw invalid(`fastRateHz must be > 0, got ${fastRateHz}`);
  const bands = finiteNumber('bands', m.bands);
  if (!Number.isInteger(bands) || bands < 1 || bands > 64)
    throw invalid(`bands must be an integer 1..64, got ${bands}`);
  const bandScale = oneOf('bandScale', m.bandScale, bandScales);
  const bandMinHz = finiteNumber('bandMinHz', m.bandMinHz);
  // Every fast channel has Nyquist >= fastRateHz / 2, so this keeps the log edges strictly increasing.
  if (bandMinHz <= 0 || bandMinHz >= fastRateHz / 2) {
    throw invalid(`bandMinHz must be > 0 and < fastRateHz / 2 (${fastRateHz / 2} Hz), got ${bandMinHz}`);
  }
  const bandValue = oneOf('bandValue', m.bandValue, bandValues);
  const magnitude = bool('magnitude', m.magnitude);
  const magnitudeBands = bool('magnitudeBands', m.magnitudeBands);
  const minCoverage = finiteNumber('minCoverage', m.minCoverage);
  if (minCoverage < 0 || minCoverage > 1)
    throw invalid(`minCoverage must be within 0..1, got ${minCoverage}`);

  // Keys in sorted order, so JSON.stringify of the object is already canonical.
  return Object.freeze({
    bandMinHz,
    bandScale,
    bandValue,
    bands,
    fastRateHz,
    magnitude,
    magnitudeBands,
    minCoverage,
  });
}

/** Canonical JSON of resolved params: keys sorted by code point, no whitespace, numbers as JSON.stringify writes them. */
export function canonicalParamsJson(params: Readonly<FeatureParams>): string {
  const keys = Object.keys(params).sort() as (keyof FeatureParams)[];
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(params[k])}`).join(',')}}`;
}

/** SHA-256 (lowercase hex) of the canonical JSON of the resolved params. */
export function featureParamsHash(params: Readonly<FeatureParams>): string {
  return createHash('sha256').update(canonicalParamsJson(params), 'utf8').digest('hex');
}
