// `edgeloop decode` options, through the one config loader (STYLE.md habit 8): flag, EDGELOOP_* variable
// (EDGELOOP_DECODE_<OPTION> or EDGELOOP_<OPTION>), --config file key; one schema, frozen.

import { z } from 'zod';
import { boolOption, flagsToOptions, intOption, type ParsedArgs } from '../shared/config.ts';
import { loadConfig } from '../shared/platform/config.ts';

export const decodeDefaults = {
  /** Print the summary as JSON. */
  json: false,
  /** auto | binary | csv. */
  mode: 'auto' as 'auto' | 'binary' | 'csv',
  /** CSV column names, comma-separated ('' = none). */
  csvChannels: '',
  /** Window length for the integrity checks, ms. */
  windowMs: 1000,
  /** CSV captures have no arrival times: lines are spaced at this rate, Hz. */
  csvRateHz: 1000,
  /** Also print one line per window. */
  windows: false,
};

export type DecodeConfig = Readonly<typeof decodeDefaults>;

const schema = z
  .object({
    json: boolOption,
    mode: z.enum(['auto', 'binary', 'csv'], { error: 'expected auto, binary or csv' }),
    csvChannels: z.string(),
    windowMs: intOption(10, 600_000, 'ms'),
    csvRateHz: z.coerce
      .number({ error: 'expected a rate in Hz above 0' })
      .gt(0, 'expected a rate in Hz above 0')
      .max(1e6, 'expected a rate in Hz up to 1000000'),
    windows: boolOption,
  })
  .strict();

export function loadDecodeConfig(
  values: ParsedArgs['values'],
  env: Record<string, string | undefined>,
): DecodeConfig {
  const configFile = values.config;
  return loadConfig({
    command: 'decode',
    defaults: decodeDefaults,
    schema,
    flags: flagsToOptions(values),
    env,
    configFile: typeof configFile === 'string' ? configFile : undefined,
  });
}
