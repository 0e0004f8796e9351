// Config helpers shared by every process (STYLE.md habit 8): flags, EDGELOOP_* environment variables and
// a JSON config file merge into one object, validated by the process's own zod schema, then frozen.
// A misspelled option is an error that names the closest known one.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
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
  // util.parseArgs reads `--duration -5` as a flag after a valueless option ("ambiguous"); a negative
  // number after a string option is its value, so the option's own check can say what it expects.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      /^-(\d|\.\d|Infinity$)/.test(next)
    ) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    const r = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /Unknown option '--?([^']+)'/.exec(msg);
    if (m?.[1] !== undefined) throw unknownOptionError(m[1], Object.keys(options));
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', msg.replace(/\. To specify.*$/, ''));
  }
}

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

/** windowMs -> WINDOW_MS; registry-serve -> REGISTRY_SERVE. */
export function envName(name: string): string {
  return name
    .replace(/([A-Z])/g, '_$1')
    .replace(/[- ]/g, '_')
    .toUpperCase();
}

/**
 * Reads EDGELOOP_* variables for the given camelCase option names: EDGELOOP_<OPTION> (windowMs ->
 * EDGELOOP_WINDOW_MS) and, when `command` is given, EDGELOOP_<COMMAND>_<OPTION> (EDGELOOP_TRAIN_OUT), which
 * wins over the plain one. The scoped form lets one environment serve every command on a host even where
 * two commands have an option of the same name (`--out` of train, keygen and features).
 *
 * A gateway often exports one command's variables for every process (EDGELOOP_MQTT for the agent), and
 * `edgeloop train` or `keygen` must still start there. So an EDGELOOP_ variable that names no option of
 * this command is an error only when it looks like a misspelling of one (EDGELOOP_METRICS_PROT, with the
 * right name suggested); a variable far from every option of this command is passed over as another
 * command's.
 */
export function envOptions(
  env: Record<string, string | undefined>,
  names: readonly string[],
  ignore: readonly string[] = [],
  command?: string,
): Record<string, string> {
  const plain = new Map(names.map((n) => [`EDGELOOP_${envName(n)}`, n]));
  const scopePrefix = command === undefined ? undefined : `EDGELOOP_${envName(command)}_`;
  const scoped = new Map(
    scopePrefix === undefined ? [] : names.map((n) => [`${scopePrefix}${envName(n)}`, n]),
  );
  const out: Record<string, string> = {};
  const fromScope = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('EDGELOOP_') || v === undefined || ignore.includes(k)) continue;
    const own = scoped.get(k);
    if (own !== undefined) {
      out[own] = v;
      fromScope.add(own);
      continue;
    }
    const name = plain.get(k);
    if (name !== undefined) {
      if (!fromScope.has(name)) out[name] = v;
      continue;
    }
    if (processWideVariables.includes(k)) continue;
    // Compared without the common prefixes, which would make every variable look close.
    const bare =
      scopePrefix !== undefined && k.startsWith(scopePrefix)
        ? k.slice(scopePrefix.length)
        : k.slice('EDGELOOP_'.length);
    const guess = closest(
      bare,
      names.map((n) => envName(n)),
    );
    if (guess !== undefined)
      throw unknownOptionError(
        k,
        [...plain.keys(), ...scoped.keys()].filter((e) => e.endsWith(`_${guess}`)),
        '',
      );
  }
  return out;
}

/** Turns a zod-style issue path and message into one line that names the option. */
export function describeIssue(path: readonly PropertyKey[], message: string): string {
  return `${path.length > 0 ? path.map(String).join('.') : 'config'}: ${message}`;
}

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * parseCliArgs values → option names for loadConfig (shared/platform/config.ts): --window-ms → windowMs.
 * Unset flags and the names in `skip` (e.g. 'config', 'help') are left out; `rename` maps a flag whose
 * option has another name (--trusted-key → trustedKeys).
 */
export function flagsToOptions(
  values: ParsedArgs['values'],
  rename: Readonly<Record<string, string>> = {},
  skip: readonly string[] = ['config', 'help'],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || skip.includes(k)) continue;
    out[rename[k] ?? camel(k)] = v;
  }
  return out;
}

// Field schemas for options that arrive as strings from flags and variables and as JSON from the file.

/**
 * An integer option in [min, max]; "500" and 500 both parse. `unit` (e.g. 'seconds', 'ms') goes into the
 * message, which says what is expected rather than zod's "Too small: expected number to be >=0".
 */
export const intOption = (min: number, max: number, unit?: string) => {
  const expected = `expected an integer ${min}..${max}${unit === undefined ? '' : ` (${unit})`}`;
  return z.coerce.number({ error: expected }).int(expected).min(min, expected).max(max, expected);
};
/** A boolean option: true/false from the file or a flag, "true"/"false"/"1"/"0" from a variable. */
export const boolOption = z.union(
  [z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')],
  { error: 'expected true or false (or 1 or 0)' },
);
/** A list option: a JSON array, a repeated flag, or a comma list ("a.pub, b.pub"). */
export const listOption = z.union([z.string(), z.array(z.string())]).transform((v) =>
  (typeof v === 'string' ? [v] : v)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);
