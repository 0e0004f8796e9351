// `edgeloop sim` options through the one config loader (STYLE.md habit 8): flag, EDGELOOP_* variable
// (EDGELOOP_SIM_<OPTION> wins over EDGELOOP_<OPTION>), --config file key; one schema, frozen. Values stay
// strings here and are checked by the command with messages that name the flag ("--duration -5: expected
// seconds > 0"), whatever source they came from; the schema's job is the set of names and their types.

import { z } from 'zod';
import { flagsToOptions, type ParsedArgs } from '../shared/config.ts';
import { loadConfig } from '../shared/platform/config.ts';

/** Every sim option; '' = not given (the command applies its documented default). */
export const simDefaults = {
  scenario: '',
  seed: '',
  duration: '',
  speed: '',
  out: '',
  groundTruth: '',
  deviceId: '',
  baud: '',
  ptyDir: '',
  fleet: '',
  mqtt: '',
  prefix: '',
  scenarioMap: '',
  maxInFlight: '',
  replay: '',
  mqttUsernameTemplate: '',
  mqttPassword: '',
  mqttCredentials: '',
  model: '',
  trustedKey: '',
  injectFailureRate: '',
  injectFailureCode: '',
  injectRollbackRate: '',
  stateLatency: '',
  stateLatencyJitter: '',
  silent: '',
  maxDownloads: '',
  downloadDeadline: '',
};

// A config file may hold numbers (seed: 7); flags and variables are strings. All end up as strings.
const value = z
  .union([z.string(), z.number()], { error: 'expected a string or a number' })
  .transform((v) => String(v));

const schema = z.object(Object.fromEntries(Object.keys(simDefaults).map((k) => [k, value]))).strict();

const kebab = (k: string): string => k.replace(/([A-Z])/g, '-$1').toLowerCase();

/**
 * Merges flags, variables and the --config file; returns parseArgs-shaped values (kebab-case flag names,
 * strings, unset options absent), which the sim and fleet commands already validate.
 */
export function loadSimValues(
  values: ParsedArgs['values'],
  env: Record<string, string | undefined>,
): Record<string, string> {
  const configFile = values.config;
  const merged: Readonly<Record<string, string>> = loadConfig({
    command: 'sim',
    defaults: simDefaults,
    schema,
    flags: flagsToOptions(values, {}, ['config', 'help', 'list']),
    env,
    configFile: typeof configFile === 'string' ? configFile : undefined,
  });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== '') out[kebab(k)] = v;
  return out;
}
