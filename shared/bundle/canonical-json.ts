// Canonical JSON, after RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code
// units, no whitespace, numbers in ECMAScript Number-to-String form (what JSON.stringify prints, which is
// JCS's rule too), strings escaped as JSON.stringify escapes them. One value has exactly one encoding,
// so its SHA-256 is a stable identity for signing and for dataset digests.
//
// Deviations from RFC 8785, all stricter or JavaScript-shaped:
// - NaN, ±Infinity, BigInt, functions, symbols, undefined array items, class instances (Date, Map,
//   typed arrays...) and cycles throw a TypeError instead of being coerced the way JSON.stringify would.
// - Object properties whose value is `undefined` are omitted, as JSON.stringify does (an absent optional
//   field and an undefined one are the same document).
// - Lone UTF-16 surrogates throw (RFC 8785 section 3.2.2.2 also forbids them).
// - -0 prints as 0, as in JCS.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEPTH = 256;

function where(path: readonly (string | number)[]): string {
  return path.length === 0
    ? '(root)'
    : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

function encodeString(s: string, path: readonly (string | number)[]): string {
  if (LONE_SURROGATE.test(s))
    throw new TypeError(`canonicalJson: lone UTF-16 surrogate in string at ${where(path)}`);
  return JSON.stringify(s);
}

function encode(value: unknown, path: (string | number)[], stack: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(
          `canonicalJson: ${String(value)} at ${where(path)} has no JSON form; use a finite number or null`,
        );
      }
      return JSON.stringify(value);
    case 'string':
      return encodeString(value, path);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} at ${where(path)} has no JSON form`);
  }
  if (path.length > MAX_DEPTH)
    throw new TypeError(`canonicalJson: nesting deeper than ${MAX_DEPTH} at ${where(path)}`);
  if (stack.has(value)) throw new TypeError(`canonicalJson: cycle at ${where(path)}`);
  stack.add(value);
  try {
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item === undefined)
          throw new TypeError(`canonicalJson: undefined array item at ${where([...path, i])}`);
        parts.push(encode(item, [...path, i], stack));
      }
      return `[${parts.join(',')}]`;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `canonicalJson: only plain objects and arrays are JSON; found a class instance at ${where(path)}`,
      );
    }
    const rec = value as Record<string, unknown>;
    // Default string order compares UTF-16 code units, which is exactly JCS's key order.
    const keys = Object.keys(rec).sort();
    const parts: string[] = [];
    for (const k of keys) {
      const v = rec[k];
      if (v === undefined) continue;
      parts.push(`${encodeString(k, path)}:${encode(v, [...path, k], stack)}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(value);
  }
}

/** The canonical JSON text of a JSON-shaped value. Throws TypeError for values with no JSON form. */
export function canonicalJson(value: unknown): string {
  return encode(value, [], new Set());
}

/** Canonical JSON as UTF-8 bytes: what is hashed, signed and written as manifest.json. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}
