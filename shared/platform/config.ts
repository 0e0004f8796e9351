// The one config loader every edgeloop process uses (STYLE.md habit 8): a defaults object with units in the
// names, one strict zod schema, EDGELOOP_* variables, a JSON config file and flags; later wins; validated;
// frozen. It lives in the platform layer because it reads the config file; the pure pieces (variable
// names, "did you mean", flag parsing, issue wording) are in shared/config.ts.

import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { describeIssue, envOptions, unknownOptionError } from '../config.ts';
import { EdgeloopError } from '../errors.ts';

export interface LoadConfigOptions<D extends object, S extends z.ZodType, T> {
  /** Every option with its default. Its keys are the option names (camelCase, units in the name). */
  readonly defaults: D;
  /** One schema for the merged object; make it `.strict()` (unknown keys are refused before it runs). */
  readonly schema: S;
  /** Options from the command line, already camelCase (see flagsToOptions in shared/config.ts). */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** The process environment; EDGELOOP_<SNAKE_CASE> variables are read for each option. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The command's name ('train', 'registry-serve'): EDGELOOP_<COMMAND>_<OPTION> variables are read too and
   * win over EDGELOOP_<OPTION>, so two commands with an option of the same name can share one environment.
   */
  readonly command?: string;
  /** EDGELOOP_* variables this process passes over although it has no option of that name. */
  readonly envIgnore?: readonly string[];
  /** Path of a JSON file holding one object of options (camelCase keys). */
  readonly configFile?: string | undefined;
  /** The checks one field cannot make (combinations, mode requirements). Throw configInvalid(...). */
  readonly crossCheck?: (config: z.output<S>) => void;
  /** Derived values after validation (e.g. hopMs 0 → windowMs). The result is frozen, deeply. */
  readonly finish?: (config: z.output<S>) => T;
}

/** The error for a bad value: `detail` starts with the option name ("baud: expected ..."). */
export const configInvalid = (detail: string): EdgeloopError =>
  new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', detail);

function deepFreeze<V>(v: V): V {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Reads a JSON config file that must hold one object. Throws CONFIG_INVALID naming the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw configInvalid(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw configInvalid(`config file ${path}: must hold one JSON object of options`);
  return parsed as Record<string, unknown>;
}

/**
 * Merges defaults < config file < EDGELOOP_* variables < flags, validates with `schema`, runs `crossCheck`,
 * applies `finish` and returns the result deeply frozen. Throws EdgeloopError:
 * EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION for a key no option has (in the file, a variable or a flag), naming
 * the closest one; EDGELOOP_ERR_CONFIG_INVALID for a bad value, naming the option.
 *
 * @example
 *   const serveDefaults = { port: 8080, dataDir: '', maxBodyBytes: 256 * 1024 * 1024 };
 *   const serveSchema = z.object({ port: intOption(0, 65_535), dataDir: z.string().min(1, 'is required'),
 *     maxBodyBytes: intOption(1, 2 ** 40) }).strict();
 *   const args = parseCliArgs(argv, { port: { type: 'string' }, 'data-dir': { type: 'string' },
 *     'max-body-bytes': { type: 'string' }, config: { type: 'string' } });
 *   const config = loadConfig({ defaults: serveDefaults, schema: serveSchema,
 *     flags: flagsToOptions(args.values), env: process.env, configFile: args.values.config as string });
 *   // EDGELOOP_PORT=9000 or { "port": 9000 } in the file or --port 9000; config.port is a number, frozen.
 */
export function loadConfig<D extends object, S extends z.ZodType, T = z.output<S>>(
  o: LoadConfigOptions<D, S, T>,
): Readonly<T> {
  const names = Object.keys(o.defaults);
  const file = o.configFile === undefined ? {} : readConfigFile(o.configFile);
  for (const k of Object.keys(file)) if (!names.includes(k)) throw unknownOptionError(k, names, '');
  const flags = o.flags ?? {};
  for (const k of Object.keys(flags)) if (!names.includes(k)) throw unknownOptionError(k, names, '');
  const merged = {
    ...o.defaults,
    ...file,
    ...envOptions(o.env ?? {}, names, o.envIgnore, o.command),
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
  };
  const r = o.schema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw configInvalid(issue === undefined ? 'invalid' : describeIssue(issue.path, issue.message));
  }
  o.crossCheck?.(r.data);
  const out = o.finish === undefined ? (r.data as unknown as T) : o.finish(r.data);
  return deepFreeze(out);
}
