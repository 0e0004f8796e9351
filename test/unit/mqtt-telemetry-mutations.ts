// Seeded random mutations of a JSON payload for the differential test of shared/mqtt/fast-telemetry.ts:
// wrong types, missing and extra keys (including __proto__), NaN/Infinity/null, huge and negative numbers,
// bad strings, reshaped objects and arrays, and half of them sent through JSON text as on the wire.

type Json = unknown;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const weird: readonly Json[] = [
  null,
  undefined,
  Number.NaN,
  Infinity,
  -Infinity,
  1e308,
  -1e308,
  -1,
  -0,
  0,
  0.5,
  1,
  2,
  1.5,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e-300,
  '',
  'x',
  '1',
  'good',
  'suspect',
  'fail',
  'bad',
  'range',
  'nan',
  'dev-1',
  'sim-01',
  'a/b',
  'a+b',
  'a#',
  ' ',
  'é',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(300),
  true,
  false,
  [],
  [1],
  [null],
  {},
  { a: 1 },
  { value: 1 },
  { __proto__: null, x: 1 },
];
const extraKeys = [
  'extra',
  '__proto__',
  'constructor',
  'toString',
  'value',
  'threshold',
  'v',
  'hasOwnProperty',
  '0',
];

type Path = (string | number)[];

/** For messages: some mutated values (a null-prototype object) have no toString. */
const show = (v: Json): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** Every node's path; features are sampled separately so the 192 of them do not swamp the rest. */
function paths(root: Json): { other: Path[]; features: Path[] } {
  const other: Path[] = [];
  const features: Path[] = [];
  const walk = (x: Json, p: Path): void => {
    (p[0] === 'features' && p.length > 1 ? features : other).push(p);
    if (Array.isArray(x)) {
      x.forEach((v, i) => {
        walk(v, [...p, i]);
      });
    } else if (typeof x === 'object' && x !== null)
      for (const k of Object.keys(x)) walk((x as Record<string, Json>)[k], [...p, k]);
  };
  walk(root, []);
  return { other, features };
}

export function mutate(root: Json, rnd: () => number): { value: Json; what: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let value: Json = structuredClone(root);
  const steps: string[] = [];
  const n = 1 + Math.floor(rnd() * 3);
  for (let s = 0; s < n; s++) {
    const { other, features } = paths(value);
    const p = rnd() < 0.25 && features.length > 0 ? pick(features) : pick(other);
    const parentPath = p.slice(0, -1);
    const key = p[p.length - 1];
    let parent: Json = value;
    for (const k of parentPath) parent = (parent as Record<string | number, Json>)[k];
    const node = p.length === 0 ? value : (parent as Record<string | number, Json>)[key as string];
    const set = (v: Json): void => {
      if (p.length === 0) value = v;
      else (parent as Record<string | number, Json>)[key as string] = v;
    };
    const op = Math.floor(rnd() * 6);
    if (op === 0 && p.length > 0 && !Array.isArray(parent)) {
      Reflect.deleteProperty(parent as object, key as string);
      steps.push(`delete ${p.join('.')}`);
    } else if (op === 1 && typeof node === 'object' && node !== null && !Array.isArray(node)) {
      const k = pick(extraKeys);
      const v = pick(weird);
      Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
      steps.push(`add ${[...p, k].join('.')} = ${show(v)}`);
    } else if (op === 2 && typeof node === 'object' && node !== null) {
      const v = Array.isArray(node)
        ? Object.fromEntries(node.map((x, i) => [String(i), x]))
        : Object.values(node);
      set(v);
      steps.push(`reshape ${p.join('.')}`);
    } else if (op === 3 && typeof node === 'number') {
      const v = pick([node + 0.5, -node, node * 2 ** 40, node - 1, Number.NaN, Infinity, String(node), null]);
      set(v);
      steps.push(`number ${p.join('.')} = ${show(v)}`);
    } else {
      const v = structuredClone(pick(weird));
      set(v);
      steps.push(`set ${p.join('.')} = ${show(v)}`);
    }
  }
  // Half the cases go through JSON text, as on the wire (NaN becomes null, undefined keys vanish).
  if (rnd() < 0.5) {
    const text = JSON.stringify(value) as string | undefined; // undefined for an undefined root
    if (text !== undefined) {
      // and sometimes a number too big for a double, which JSON.parse turns into Infinity
      const t2 = rnd() < 0.2 ? text.replace(/:(\d+)([,}])/, ':1e400$2') : text;
      value = JSON.parse(t2) as Json;
      steps.push('via JSON');
    }
  }
  return { value, what: steps.join('; ') };
}
