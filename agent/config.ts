// The agent's configuration: one defaults object, one zod schema, validated at start and frozen
// (STYLE.md habit 8). Sources, later wins: defaults < config file (--config, JSON) < EDGELOOP_* env < flags.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeIssue, envOptions, unknownOptionError } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';

export const agentDefaults = {
  /** Serial device path, e.g. /dev/ttyUSB0. Required. */
  serial: '',
  /** Line rate in baud. 921600 carries the full reference board (docs/serial-protocol.md §Bandwidth). */
  baud: 921_600,
  /** 'auto' detects binary frames or CSV lines from the first bytes. */
  mode: 'auto' as 'auto' | 'binary' | 'csv',
  /** CSV column names, comma-separated, e.g. "accel.x,accel.y,accel.z". Required for CSV input. */
  csvChannels: '',
  /** Device id used for CSV boards (binary boards name themselves in HELLO). */
  deviceId: '',
  /** Window length, ms. */
  windowMs: 1000,
  /** Window hop, ms; defaults to the window length (no overlap). */
  hopMs: 0,
  /** Print windows as JSON lines instead of text. */
  json: false,
  /** Stop after this many windows (0 = run until SIGINT/SIGTERM). */
  maxWindows: 0,
};

export type AgentConfig = Readonly<typeof agentDefaults>;

const schema = z
  .object({
    serial: z.string().min(1, 'is required: the serial device path, e.g. --serial /dev/ttyUSB0'),
    baud: z.coerce.number().int().min(300).max(16_000_000),
    mode: z.enum(['auto', 'binary', 'csv']),
    csvChannels: z.string(),
    deviceId: z.string().max(64),
    windowMs: z.coerce.number().int().min(10).max(600_000),
    hopMs: z.coerce.number().int().min(0).max(600_000),
    json: z.union([
      z.boolean(),
      z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
    ]),
    maxWindows: z.coerce.number().int().min(0),
  })
  .strict();

export const agentOptionNames = Object.keys(agentDefaults);

export function loadAgentConfig(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  configFile?: string,
): AgentConfig {
  let file: Record<string, unknown> = {};
  if (configFile !== undefined) {
    try {
      file = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `cannot read config file ${configFile}: ${(err as Error).message}`,
      );
    }
    for (const k of Object.keys(file))
      if (!agentOptionNames.includes(k)) throw unknownOptionError(k, agentOptionNames, '');
  }
  const merged = {
    ...agentDefaults,
    ...file,
    ...envOptions(env, agentOptionNames, ['EDGELOOP_FROM_SOURCE']),
    ...flags,
  };
  const r = schema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      issue === undefined ? 'invalid' : describeIssue(issue.path, issue.message),
    );
  }
  if (r.data.mode === 'csv' && r.data.csvChannels === '') {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      'csvChannels: CSV mode needs --csv-channels a,b,c',
    );
  }
  return Object.freeze({ ...r.data, hopMs: r.data.hopMs === 0 ? r.data.windowMs : r.data.hopMs });
}
