// The agent's configuration: one defaults object, one zod schema, validated at start and frozen
// (STYLE.md habit 8). Sources, later wins: defaults < config file (--config, JSON) < EDGELOOP_* env < flags.
//
// Naming: the config-file key is camelCase, the flag is its kebab-case (--mqtt-ca for mqttCa) and the
// variable is EDGELOOP_ + its SNAKE_CASE (EDGELOOP_MQTT_CA). One exception: the repeatable flag
// --trusted-key fills trustedKeys (EDGELOOP_TRUSTED_KEYS, a comma list).
//
// Two modes: without `mqtt` the agent only reads, checks and windows, and prints each window (a bench
// tool); with `mqtt` it is the full runtime of agent/main.ts, which then needs a device id, a data
// directory and at least one pinned key (docs/agent.md "Running the agent").

import { z } from 'zod';
import { boolOption, intOption, listOption } from '../shared/config.ts';
import { validateDeviceId } from '../shared/mqtt/topics.ts';
import { configInvalid, loadConfig } from '../shared/platform/config.ts';
import { logFormats, logLevels, type LogFormat, type LogLevel } from '../shared/platform/logger.ts';

export const agentDefaults = {
  /** Serial device path, e.g. /dev/ttyUSB0. Required. */
  serial: '',
  /** Line rate in baud. 921600 carries the full reference board (docs/serial-protocol.md §Bandwidth). */
  baud: 921_600,
  /** 'auto' detects binary frames or CSV lines from the first bytes. */
  mode: 'auto' as 'auto' | 'binary' | 'csv',
  /** CSV column names, comma-separated, e.g. "accel.x,accel.y,accel.z". Required for CSV input. */
  csvChannels: '',
  /** Device id: MQTT client id and topic level. Required with mqtt; binary boards also name themselves. */
  deviceId: '',
  /** Window length, ms. */
  windowMs: 1000,
  /** Window hop, ms; 0 = the window length (no overlap). */
  hopMs: 0,
  /** Print windows as JSON lines instead of text (print mode, without mqtt). */
  json: false,
  /** Stop after this many windows (0 = run until SIGINT/SIGTERM). */
  maxWindows: 0,
  /** Log lines on stderr: 'text' for a person, 'json' (one object per line) for a log shipper. */
  logFormat: 'text' as LogFormat,
  /** Least severe level logged: debug, info, warn or error. */
  logLevel: 'info' as LogLevel,

  /** Broker URL, mqtt://host:1883 or mqtts://host:8883. '' = print mode: no publishing, no models. */
  mqtt: '',
  /** Broker credentials ('' = none). Prefer EDGELOOP_MQTT_PASSWORD to the flag (visible in ps). */
  mqttUsername: '',
  mqttPassword: '',
  /** PEM file of the CA that signed the broker certificate ('' = system CAs). mqtts:// only. */
  mqttCa: '',
  /** PEM client certificate and key for mutual TLS (both or neither). mqtts:// only. */
  mqttCert: '',
  mqttKey: '',
  /** MQTT keepalive, s (MQTT-3.1.2-24). */
  mqttKeepaliveSec: 30,
  /** Largest reconnect delay, ms (jittered exponential backoff from 1 s). */
  mqttReconnectMaxMs: 30_000,
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  mqttProtocolVersion: 4 as 4 | 5,

  /** Registry base URL ('' = any). Install commands whose url is not under it are refused. */
  registry: '',
  /** Bearer token for registry reads ('' = none). */
  registryToken: '',
  /** Pinned Ed25519 public key files (PEM). A bundle signed by another key is refused. */
  trustedKeys: [] as readonly string[],
  /** State directory: <dataDir>/outbox.sqlite and the model store <dataDir>/models. */
  dataDir: '',

  /** Port of /metrics and /healthz (0 = a free port, printed at start). */
  metricsPort: 9464,
  /** Interface of /metrics and /healthz; 0.0.0.0 lets a remote Prometheus scrape. */
  metricsHost: '127.0.0.1',

  /** Outbox bound, payload + topic bytes. */
  maxOutboxBytes: 64 * 1024 * 1024,
  /** Outbox messages older than this are dropped, ms (default 7 days). */
  outboxMaxAgeMs: 7 * 24 * 3600_000,
  /** Backlog messages replayed per second after an outage (live data goes first). */
  replayRatePerSec: 500,
  /** Send raw samples of windows whose index is a multiple of N (0 = never, 1 = every window). */
  rawEveryNthWindow: 0,
  /** Publishes waiting for PUBACK, at most. */
  publishMaxInFlight: 64,
  /** How long shutdown waits for outstanding PUBACKs, ms. */
  drainTimeoutMs: 5000,
  /** Health window after a model swap: this many windows... */
  modelHealthWindows: 30,
  /** ...or this long, ms, whichever comes first. */
  modelHealthMaxMs: 120_000,

  /** /healthz is 503 once the serial port has been closed this long, ms (0 = never). */
  healthSerialDownMaxMs: 10_000,
  /** /healthz is 503 once no broker connection has existed this long, ms (0 = never). */
  healthBrokerDownMaxMs: 300_000,
  /** /healthz is 503 while the outbox holds more than this percentage of maxOutboxBytes (0 = never). */
  healthOutboxHighWaterPercent: 90,
  /** /healthz is 503 after this many consecutive windows whose inference failed (0 = never). */
  healthInferenceFailedWindows: 10,
};

export type AgentConfig = Readonly<typeof agentDefaults>;

/** Options that mean something only with mqtt (print mode refuses them rather than ignore them). */
const runtimeOnly = [
  'mqttUsername',
  'mqttPassword',
  'mqttCa',
  'mqttCert',
  'mqttKey',
  'registry',
  'registryToken',
  'trustedKeys',
  'dataDir',
] as const;

const day = 24 * 3600_000;

const schema = z
  .object({
    serial: z.string().min(1, 'is required: the serial device path, e.g. --serial /dev/ttyUSB0'),
    baud: intOption(300, 16_000_000),
    mode: z.enum(['auto', 'binary', 'csv']),
    csvChannels: z.string(),
    deviceId: z.string().max(64),
    windowMs: intOption(10, 600_000),
    hopMs: intOption(0, 600_000),
    json: boolOption,
    maxWindows: intOption(0, Number.MAX_SAFE_INTEGER),
    logFormat: z.enum(logFormats),
    logLevel: z.enum(logLevels),
    mqtt: z.string(),
    mqttUsername: z.string(),
    mqttPassword: z.string(),
    mqttCa: z.string(),
    mqttCert: z.string(),
    mqttKey: z.string(),
    mqttKeepaliveSec: intOption(1, 65_535),
    mqttReconnectMaxMs: intOption(100, day),
    mqttProtocolVersion: z.union([z.literal(4), z.literal(5), z.enum(['4', '5']).transform(Number)]),
    registry: z.string(),
    registryToken: z.string(),
    trustedKeys: listOption,
    dataDir: z.string(),
    metricsPort: intOption(0, 65_535),
    metricsHost: z.string().min(1),
    maxOutboxBytes: intOption(64 * 1024, Number.MAX_SAFE_INTEGER),
    outboxMaxAgeMs: intOption(1000, 365 * day),
    replayRatePerSec: intOption(1, 1_000_000),
    rawEveryNthWindow: intOption(0, 1_000_000),
    publishMaxInFlight: intOption(1, 65_535),
    drainTimeoutMs: intOption(0, 600_000),
    modelHealthWindows: intOption(1, 100_000),
    modelHealthMaxMs: intOption(1000, 7 * day),
    healthSerialDownMaxMs: intOption(0, 7 * day),
    healthBrokerDownMaxMs: intOption(0, 365 * day),
    healthOutboxHighWaterPercent: intOption(0, 100),
    healthInferenceFailedWindows: intOption(0, 1_000_000),
  })
  .strict();

export const agentOptionNames = Object.keys(agentDefaults);

const invalid = configInvalid;

function url(key: string, value: string, protocols: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(`${key}: ${JSON.stringify(value)} is not a URL`);
  }
  if (!protocols.includes(u.protocol))
    throw invalid(`${key}: ${value} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return u;
}

/** The checks one field's schema cannot make: combinations, and what the runtime mode needs. */
function crossCheck(c: z.infer<typeof schema>): void {
  if (c.mode === 'csv' && c.csvChannels === '')
    throw invalid('csvChannels: CSV mode needs --csv-channels a,b,c');
  if (c.deviceId !== '') {
    const v = validateDeviceId(c.deviceId);
    if (!v.ok) throw invalid(`deviceId: ${v.message}`);
  }
  if (c.mqtt === '') {
    const given = runtimeOnly.filter((k) => (k === 'trustedKeys' ? c.trustedKeys.length > 0 : c[k] !== ''));
    if (given.length > 0)
      throw invalid(
        `${given.join(', ')}: only used with --mqtt <url> (the full runtime); set mqtt or drop them`,
      );
    return;
  }
  const broker = url('mqtt', c.mqtt, ['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ws:', 'wss:']);
  const tls = ['mqtts:', 'tls:', 'wss:'].includes(broker.protocol);
  if (c.deviceId === '')
    throw invalid(
      'deviceId: is required with --mqtt (client id and topics exist before the board says HELLO), e.g. --device-id pump-07',
    );
  if (c.dataDir === '')
    throw invalid(
      'dataDir: is required with --mqtt (outbox and model store), e.g. --data-dir /var/lib/edgeloop-agent',
    );
  if (c.trustedKeys.length === 0)
    throw invalid(
      'trustedKeys: at least one pinned public key is required with --mqtt, e.g. --trusted-key release.pub',
    );
  if ((c.mqttCert === '') !== (c.mqttKey === ''))
    throw invalid('mqttCert, mqttKey: mutual TLS needs both --mqtt-cert and --mqtt-key');
  for (const k of ['mqttCa', 'mqttCert', 'mqttKey'] as const)
    if (c[k] !== '' && !tls) throw invalid(`${k}: TLS files need an mqtts:// broker URL (got ${c.mqtt})`);
  // MQTT-3.1.2-22 (3.1.1): a password without a user name is a protocol error.
  if (c.mqttPassword !== '' && c.mqttUsername === '')
    throw invalid('mqttPassword: needs --mqtt-username too (MQTT 3.1.1 forbids a password alone)');
  if (c.registry !== '') url('registry', c.registry, ['http:', 'https:']);
}

/**
 * Merges flags, EDGELOOP_* variables and the JSON config file over the defaults, validates and freezes.
 * Throws EdgeloopError (EDGELOOP_ERR_CONFIG_INVALID / _UNKNOWN_OPTION) naming the option at fault.
 */
export function loadAgentConfig(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  configFile?: string,
): AgentConfig {
  return loadConfig({
    command: 'agent',
    defaults: agentDefaults,
    schema,
    flags,
    env,
    configFile,
    crossCheck,
    finish: (c): AgentConfig => ({
      ...c,
      mqttProtocolVersion: c.mqttProtocolVersion as 4 | 5,
      hopMs: c.hopMs === 0 ? c.windowMs : c.hopMs,
    }),
  });
}
