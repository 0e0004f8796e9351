// A hand-written check of the telemetry payload, equal to schemas.ts telemetrySchema (zod) but several
// times faster: the collector checks one ~7.5 KB telemetry message per device-window, and zod's generic
// walk over the 192-feature record was the largest single cost of ingest (docs/benchmarks.md §MQTT decode).
//
// telemetrySchema stays the one source of truth: codec.ts runs this first and, whenever it says no, runs
// zod, whose verdict and error message stand. So this check may only ever accept what zod accepts, with
// an equal value; test/unit/mqtt-fast-telemetry.test.ts holds the two together on real and mutated
// payloads. Change telemetrySchema and this file together.
//
// What zod's parse does to a value, and what this file does the same way:
// - z.object strips unknown keys: an object with none is returned as is (the input came from JSON.parse
//   and is owned by no one), otherwise as a copy of the known keys. Optional keys that are absent stay
//   absent; present ones are kept (even when undefined, as zod keeps them).
// - z.record drops an own "__proto__" key without checking its value; such a record is copied without it.
// - z.number() refuses NaN and ±Infinity (JSON.parse turns 1e400 into Infinity); .int() means a safe
//   integer. Nothing else is transformed (no defaults, no coercion).

import { integrityCheckNames } from '../samples.ts';
import type { TelemetryPayload } from './schemas.ts';
import { validateDeviceId } from './topics.ts';

type Obj = Record<string, unknown>;

const U32_MAX = 0xffff_ffff;
const flagStatuses: ReadonlySet<unknown> = new Set(['good', 'suspect', 'fail']);
const checkNames: ReadonlySet<unknown> = new Set(integrityCheckNames);

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => Number.isFinite(x);
const isU32 = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= U32_MAX;
const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';
const isStatus = (x: unknown): boolean => flagStatuses.has(x);

/** Own keys of `o`, counted (for-in: JSON objects have no inherited enumerable keys). */
function keyCount(o: Obj): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/** `o` with only `keys` (those present), for an object that carried unknown keys. */
function pick(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
}

/**
 * A record whose every value passes `valueOk`, as zod returns it, or undefined. The "__proto__" key is
 * skipped unchecked, as zod skips it, and the record then copied without it.
 */
function record(r: unknown, valueOk: (x: unknown) => boolean): Obj | undefined {
  if (!isObj(r)) return undefined;
  let hasProto = false;
  for (const k in r) {
    if (k === '__proto__') hasProto = true;
    else if (!valueOk(r[k])) return undefined;
  }
  if (!hasProto) return r;
  const out: Obj = {};
  for (const k in r) if (k !== '__proto__') out[k] = r[k];
  return out;
}

const isNullableNum = (x: unknown): boolean => x === null || Number.isFinite(x);
const isProbability = (x: unknown): boolean => isNum(x) && x >= 0 && x <= 1;

const WINDOW_KEYS = ['index', 'startUs', 'endUs'] as const;
function window(w: unknown): Obj | undefined {
  if (!isObj(w) || !isCount(w.index) || !isNum(w.startUs) || !isNum(w.endUs)) return undefined;
  return keyCount(w) === 3 ? w : pick(w, WINDOW_KEYS);
}

const PREDICTION_KEYS = ['label', 'probabilities', 'latencyMs'] as const;
function prediction(p: unknown): Obj | null | undefined {
  if (p === null) return null;
  if (!isObj(p) || !isStr(p.label) || !isNum(p.latencyMs) || p.latencyMs < 0) return undefined;
  const probabilities = record(p.probabilities, isProbability);
  if (probabilities === undefined) return undefined;
  if (probabilities === p.probabilities && keyCount(p) === 3) return p;
  return { ...pick(p, PREDICTION_KEYS), probabilities };
}

const MODEL_KEYS = ['name', 'version'] as const;
function model(m: unknown): Obj | null | undefined {
  if (m === null) return null;
  if (!isObj(m)) return undefined;
  const { name, version } = m;
  if (!isStr(name) || name.length < 1 || name.length > 128) return undefined;
  if (!isStr(version) || version.length < 1 || version.length > 64) return undefined;
  return keyCount(m) === 2 ? m : pick(m, MODEL_KEYS);
}

const FLAG_KEYS = ['channel', 'check', 'status', 'reason', 'value', 'threshold'] as const;
function flag(f: unknown): Obj | undefined {
  if (!isObj(f)) return undefined;
  if (!isStr(f.channel) || f.channel.length < 1 || !checkNames.has(f.check)) return undefined;
  if (!isStatus(f.status) || !isStr(f.reason)) return undefined;
  // .optional(): absent or undefined passes; zod tests presence with `in`.
  let known = 4;
  if ('value' in f) {
    if (f.value !== undefined && !isNum(f.value)) return undefined;
    known++;
  }
  if ('threshold' in f) {
    if (f.threshold !== undefined && !isNum(f.threshold)) return undefined;
    known++;
  }
  return keyCount(f) === known ? f : pick(f, FLAG_KEYS);
}

const INTEGRITY_KEYS = ['status', 'channels', 'flags'] as const;
function integrity(g: unknown): Obj | undefined {
  if (!isObj(g) || !isStatus(g.status) || !Array.isArray(g.flags)) return undefined;
  const channels = record(g.channels, isStatus);
  if (channels === undefined) return undefined;
  const inFlags: readonly unknown[] = g.flags;
  let flags: unknown[] = g.flags;
  for (let i = 0; i < inFlags.length; i++) {
    const f = flag(inFlags[i]);
    if (f === undefined) return undefined;
    if (f !== inFlags[i]) {
      if (flags === inFlags) flags = inFlags.slice();
      flags[i] = f;
    }
  }
  if (channels === g.channels && flags === inFlags && keyCount(g) === 3) return g;
  return { ...pick(g, INTEGRITY_KEYS), channels, flags };
}

const COUNTER_KEYS = [
  'framesDecoded',
  'framesInvalid',
  'samples',
  'gaps',
  'samplesMissing',
  'windows',
] as const;
function counters(c: unknown): Obj | undefined {
  if (!isObj(c)) return undefined;
  for (const k of COUNTER_KEYS) if (!isCount(c[k])) return undefined;
  return keyCount(c) === COUNTER_KEYS.length ? c : pick(c, COUNTER_KEYS);
}

const TOP_KEYS = [
  'v',
  'deviceId',
  'runId',
  'msgSeq',
  'tsMs',
  'bootId',
  'window',
  'featurePipeline',
  'features',
  'prediction',
  'model',
  'integrity',
  'counters',
] as const;

/**
 * The telemetry payload parsed from `json` (a JSON.parse result) exactly as telemetrySchema.parse would
 * return it, or undefined when telemetrySchema might refuse it: the caller then asks zod, for the verdict
 * and the message.
 */
export function fastParseTelemetry(json: unknown): TelemetryPayload | undefined {
  if (!isObj(json)) return undefined;
  const j = json;
  if (j.v !== 1 || !isU32(j.runId) || !isCount(j.msgSeq) || !isCount(j.tsMs) || !isU32(j.bootId)) {
    return undefined;
  }
  if (!isStr(j.deviceId) || !validateDeviceId(j.deviceId).ok) return undefined;
  if (j.featurePipeline !== null && !isStr(j.featurePipeline)) return undefined;
  const w = window(j.window);
  const features = record(j.features, isNullableNum);
  const p = prediction(j.prediction);
  const m = model(j.model);
  const g = integrity(j.integrity);
  const c = counters(j.counters);
  if (w === undefined || features === undefined || p === undefined || m === undefined) return undefined;
  if (g === undefined || c === undefined) return undefined;
  const same =
    w === j.window &&
    features === j.features &&
    p === j.prediction &&
    m === j.model &&
    g === j.integrity &&
    c === j.counters &&
    keyCount(j) === TOP_KEYS.length;
  const out = same
    ? j
    : { ...pick(j, TOP_KEYS), window: w, features, prediction: p, model: m, integrity: g, counters: c };
  return out as unknown as TelemetryPayload;
}
