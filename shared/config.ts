// Config helpers shared by every process (STYLE.md habit 8): flags, EDGELOOP_* environment variables and
// a JSON config file merge into one object, validated by the process's own zod schema, then frozen.
// A misspelled option is an error that names the closest known one.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EdgeloopError } from './errors.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The known name a misspelling most likely meant: the smallest edit distance within a small budget, ties
 * broken by the longer shared prefix; failing that, the name sharing the longest prefix when it covers at
 * least half of what was typed (--baudrate -> --baud, --mqtt-usr -> --mqtt-username).
 */
export function closest(name: string, known: readonly string[]): string | undefined {
  const n = name.toLowerCase();
  const budget = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  let bestP = -1;
  let byPrefix: string | undefined;
  let prefixLen = 0;
  for (const k of known) {
    const lk = k.toLowerCase();
    const d = editDistance(n, lk);
    const p = commonPrefix(n, lk);
    if (d < bestD || (d === bestD && p > bestP)) {
      best = k;
      bestD = d;
      bestP = p;
    }
    if (p > prefixLen) {
      byPrefix = k;
      prefixLen = p;
    }
  }
  if (bestD <= budget) return best;
  return prefixLen >= 3 && prefixLen * 2 >= n.length ? byPrefix : undefined;
}

export function unknownOptionError(name: string, known: readonly string[], prefix = '--'): EdgeloopError {
  const guess = closest(name, known);
  return new EdgeloopError(
    'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION',
    `unknown option ${prefix}${name}${guess === undefined ? '' : ` (did you mean ${prefix}${guess}?)`}`,
  );
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** util.parseArgs in strict mode, with errors that carry a stable code and a suggestion. */
export function parseCliArgs(
  argv: readonly string[],
  options: OptionSpec,
  allowPositionals = true,
): ParsedArgs {
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /Unknown option '--?([^']+)'/.exec(msg);
    if (m?.[1] !== undefined) throw unknownOptionError(m[1], Object.keys(options));
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', msg.replace(/\. To specify.*$/, ''));
  }
}

/**
 * Reads EDGELOOP_<NAME> variables for the given camelCase option names (windowMs -> EDGELOOP_WINDOW_MS).
 * An EDGELOOP_ variable that names no option is an error, so a typo never silently does nothing.
 */
/**
 * EDGELOOP_* variables that belong to another part of edgeloop (the launcher, the test runner, the
 * registry client). A gateway may export them for every command, so a process that has no option of that
 * name passes over them instead of refusing to start; a typo of an option is still an error.
 */
export const processWideVariables: readonly string[] = [
  'EDGELOOP_FROM_SOURCE',
  'EDGELOOP_TEST_CONCURRENCY',
  'EDGELOOP_REGISTRY_URL',
  'EDGELOOP_REGISTRY_TOKEN',
];

export function envOptions(
  env: Record<string, string | undefined>,
  names: readonly string[],
  ignore: readonly string[] = [],
): Record<string, string> {
  const byEnv = new Map(
    names.map((n) => [
      `EDGELOOP_${n
        .replace(/([A-Z])/g, '_$1')
        .replace(/-/g, '_')
        .toUpperCase()}`,
      n,
    ]),
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('EDGELOOP_') || v === undefined || ignore.includes(k)) continue;
    const name = byEnv.get(k);
    if (name === undefined && processWideVariables.includes(k)) continue;
    if (name === undefined) throw unknownOptionError(k, [...byEnv.keys()], '');
    out[name] = v;
  }
  return out;
}

/** Turns a zod-style issue path and message into one line that names the option. */
export function describeIssue(path: readonly PropertyKey[], message: string): string {
  return `${path.length > 0 ? path.map(String).join('.') : 'config'}: ${message}`;
}
