// Loading a command's options with errors that name the option the way the user gave it (issue 8): the
// shared loader names the config key ("durationS: expected ..."), which a user who typed `--duration -5`
// never wrote. When the bad value came from a flag the message names the flag and the value; from a
// variable, the variable; from the config file (or a default), the key, as before.

import type { z } from 'zod';
import { envName, flagsToOptions, type ParsedArgs } from '../shared/config.ts';
import { EdgeloopError, errorCatalogue } from '../shared/errors.ts';
import { loadConfig, type LoadConfigOptions } from '../shared/platform/config.ts';

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Where option `key` came from: `--flag value`, `EDGELOOP_X=value`, or undefined (file or default). */
export function optionSource(
  key: string,
  values: ParsedArgs['values'],
  rename: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
  command?: string,
): string | undefined {
  for (const [flag, v] of Object.entries(values)) {
    if (v === undefined || (rename[flag] ?? camel(flag)) !== key) continue;
    return typeof v === 'string' ? `--${flag} ${v}` : `--${flag}`;
  }
  const names = [
    ...(command === undefined ? [] : [`EDGELOOP_${envName(command)}_${envName(key)}`]),
    `EDGELOOP_${envName(key)}`,
  ];
  for (const n of names) if (env[n] !== undefined) return `${n}=${env[n] ?? ''}`;
  return undefined;
}

/** Rewrites a CONFIG_INVALID error's leading option key to where the value came from. */
export function nameOptionSource(err: unknown, source: (key: string) => string | undefined): unknown {
  if (!(err instanceof EdgeloopError) || err.code !== 'EDGELOOP_ERR_CONFIG_INVALID') return err;
  const hint = errorCatalogue.EDGELOOP_ERR_CONFIG_INVALID;
  const detail = err.message.endsWith(hint) ? err.message.slice(0, -hint.length).trimEnd() : err.message;
  const m = /^([A-Za-z][A-Za-z0-9]*): ([\s\S]*?)\.?$/.exec(detail);
  const where = m?.[1] === undefined ? undefined : source(m[1]);
  if (m === null || where === undefined) return err;
  return new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `${where}: ${m[2] ?? ''}`, { cause: err });
}

/**
 * loadConfig over parsed flags (flagsToOptions with `rename`), with errors naming the flag or variable.
 */
export function loadCommandConfig<D extends object, S extends z.ZodType, T = z.output<S>>(
  o: Omit<LoadConfigOptions<D, S, T>, 'flags'>,
  values: ParsedArgs['values'],
  rename: Readonly<Record<string, string>> = {},
): Readonly<T> {
  try {
    return loadConfig({ ...o, flags: flagsToOptions(values, rename) });
  } catch (err) {
    throw nameOptionSource(err, (key) => optionSource(key, values, rename, o.env ?? {}, o.command));
  }
}
