// The fleet-mode half of `edgeloop sim` (cli.ts hands over when --fleet is given): option parsing,
// per-device scenarios, the MQTT adapter, the progress line and the summary (docs/firmware-sim.md
// §Fleet mode).

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { trustedKeySet, type TrustedKey } from '../shared/bundle/signing.ts';
import { EdgeloopError, errorCatalogue, fail, ok, type ErrorCode, type Result } from '../shared/errors.ts';
import { getBundle } from './adapters/download.ts';
import { loadFleetModel, stageFleetBundle } from './adapters/fleet-bundle.ts';
import { connectFleetDevice, readFleetCredentials } from './adapters/mqtt.ts';
import { loadScenario } from './adapters/scenario-files.ts';
import { fleetDeviceIds, runFleet, type FleetSummary } from './fleet.ts';
import type { FleetModel } from './fleet-model.ts';
import { FleetModelCache } from './fleet-models.ts';
import { updateDefaults, type FleetUpdateConfig } from './fleet-updates.ts';
import type { Scenario } from './scenario.ts';

export const fleetOptionSpec = {
  fleet: { type: 'string' },
  mqtt: { type: 'string' },
  prefix: { type: 'string' },
  'scenario-map': { type: 'string' },
  'max-in-flight': { type: 'string' },
  replay: { type: 'string' },
  'mqtt-username-template': { type: 'string' },
  'mqtt-password': { type: 'string' },
  'mqtt-credentials': { type: 'string' },
  model: { type: 'string' },
  'trusted-key': { type: 'string' },
  'inject-failure-rate': { type: 'string' },
  'inject-failure-code': { type: 'string' },
  'inject-rollback-rate': { type: 'string' },
  'state-latency': { type: 'string' },
  'state-latency-jitter': { type: 'string' },
  silent: { type: 'string' },
  'max-downloads': { type: 'string' },
  'download-deadline': { type: 'string' },
} as const;

export const fleetHelp = `Fleet mode (publishes telemetry over MQTT instead of writing serial bytes):
  --fleet <n>             simulate n devices in this process, each publishing the telemetry and status an
                          agent with no model installed publishes (features, integrity flags, counters;
                          prediction null; not the agent's integrity-event, alert or raw topics), and
                          answering model commands on its retained model/state topic (below),
                          one MQTT connection per device (client id = device id, retained status, last will)
  --model <bundle>        bundle directory, .tar or .tar.gz: every device runs its ONNX model on each
                          window as an agent serving it does, and publishes prediction {label,
                          probabilities, latencyMs} and model {name, version}; one session for the process
                          (default: none, prediction null)
  --trusted-key <file>    pinned Ed25519 public key (PEM) the --model bundle must be signed by, as the
                          agent's --trusted-key; several files comma-separated (required with --model).
                          The bundle is verified, its I/O checked and its golden cases replayed first
  Model commands: every device subscribes to its model command topic and answers install and rollback
  commands as an agent does (deploySeq guard, download with retry, digest, signature against the
  --trusted-key keys, name/version, then STAGED, ACTIVATING, HEALTH_CHECK, COMMITTED), each state
  retained on its modelState topic; after COMMITTED its telemetry and status name the new model and its
  windows run the new bundle. Without --trusted-key every install fails its signature check.
  --inject-failure-rate <p>   share of installs (0..1) that end FAILED after VERIFYING, drawn per device
                          and deploySeq from --seed (default: 0)
  --inject-failure-code <c>   the code of an injected failure (default: EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH)
  --inject-rollback-rate <p>  share of installs (0..1) ROLLED_BACK after HEALTH_CHECK with
                          EDGELOOP_ERR_MODEL_HEALTH_ERRORS, as a failed health window (default: 0)
  --state-latency <ms>    time spent in each update state before the next (default: 0)
  --state-latency-jitter <j>  each state's time is latency x (1 +- j), 0..1, seeded (default: 0)
  --silent <ids>          devices that never answer model commands (not subscribed), ids or 1-based
                          indices, comma-separated (default: none)
  --max-downloads <n>     bundle downloads in flight across the fleet; others wait (default: 8)
  --download-deadline <s> how long one install retries an unreachable server (default: 1800)
  --mqtt <url>            broker, e.g. mqtt://127.0.0.1:1883 (required with --fleet)
  --prefix <p>            device id prefix; ids are <p>01, <p>02, ... (default: sim-)
  --scenario <name|file>  scenario for every device (default: steady)
  --scenario-map <map>    per-device scenarios, e.g. sim-03=stuck-accel,sim-07=calibration-drift
                          (a key may also be a 1-based index: 3=stuck-accel)
  --seed <n>              device i is seeded with deriveSeed(seed, "fleet", id); same seed = same payloads
                          (except tsMs), also the same runId, so a collector deduplicates a re-run
  --duration <s>          device time per device (default: the --scenario's durationS)
  --speed <x|max>         1 = real time (one window per device per second), 10 = ten times faster
  --replay <k>            compute only the first k windows of each device, then send them again in a ring
                          (new index, times, msgSeq, counters): about 50x cheaper, but scenario events
                          after the first k windows never happen and features repeat with period k
                          (default: 0, every window computed)
  --max-in-flight <n>     QoS 1 publishes awaiting PUBACK across the fleet, at most (default: 1000)
  --mqtt-username-template <t>  username per device, "{id}" replaced by the device id (default: none)
  --mqtt-password <pw>    password for every device (default: EDGELOOP_MQTT_PASSWORD, else none)
  --mqtt-credentials <f>  per-device passwords: <username>:<password> lines, or the collector's
                          --credentials-file JSON; the username is the device id unless
                          --mqtt-username-template is given (default: none)
  Capacity: computing a device costs about 6-8 ms of CPU per device-second (1 kHz board, decoding,
  windowing, integrity, 192 features), so one process keeps about 100 devices in real time; the summary
  says how far it fell behind. For more, use --replay or several processes (different --prefix).
  --model adds about 0.05-0.07 ms of CPU per device-window for the trained model (docs/firmware-sim.md §Capacity).
`;

type Values = Record<string, string | boolean | undefined>;

function optional<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, string>);
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function positiveInt(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `--${name} ${v}: expected an integer 1..${max}`);
  return n;
}

function fraction(name: string, v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `--${name} ${v}: expected a number 0..1`);
  return n;
}

function milliseconds(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86_400_000)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `--${name} ${v}: expected a number >= 0`);
  return n;
}

/** `--silent sim-03,7`: device ids or 1-based indices of this fleet. */
export function parseSilent(spec: string | undefined, ids: readonly string[]): Result<ReadonlySet<string>> {
  const out = new Set<string>();
  for (const part of (spec ?? '').split(',')) {
    const key = part.trim();
    if (key === '') continue;
    const id = /^\d+$/.test(key) ? ids[Number(key) - 1] : ids.find((d) => d === key);
    if (id === undefined)
      return fail('EDGELOOP_ERR_CONFIG_INVALID', `--silent: no device "${key}" in this fleet`);
    out.add(id);
  }
  return ok(out);
}

/** The update options of `edgeloop sim --fleet` from its flags (defaults: fleet-updates.ts updateDefaults). */
export function fleetUpdateConfig(
  values: Values,
  seed: number,
  trustedKeys: ReadonlyMap<string, TrustedKey>,
): Result<FleetUpdateConfig> {
  const code = str(values['inject-failure-code']) ?? updateDefaults.failureCode;
  if (!(code in errorCatalogue))
    return fail('EDGELOOP_ERR_CONFIG_INVALID', `--inject-failure-code ${code}: not a code of docs/errors.md`);
  return ok({
    ...updateDefaults,
    trustedKeys,
    seed,
    failureRate: fraction('inject-failure-rate', str(values['inject-failure-rate'])),
    failureCode: code as ErrorCode,
    rollbackRate: fraction('inject-rollback-rate', str(values['inject-rollback-rate'])),
    stateLatencyMs: milliseconds('state-latency', str(values['state-latency']), 0),
    stateLatencyJitter: fraction('state-latency-jitter', str(values['state-latency-jitter'])),
    downloadDeadlineMs:
      milliseconds(
        'download-deadline',
        str(values['download-deadline']),
        updateDefaults.downloadDeadlineMs / 1000,
      ) * 1000,
  });
}

/** `dev-03=stuck-accel,5=steady` → scenario per device id; keys are ids or 1-based indices. */
export function parseScenarioMap(
  spec: string,
  ids: readonly string[],
  load: (nameOrPath: string) => Result<Scenario>,
): Result<Map<string, Scenario>> {
  const out = new Map<string, Scenario>();
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const name = part.slice(eq + 1).trim();
    if (eq < 1 || name === '')
      return fail('EDGELOOP_ERR_CONFIG_INVALID', `--scenario-map: "${part}" is not <device>=<scenario>`);
    const id = /^\d+$/.test(key) ? ids[Number(key) - 1] : ids.find((d) => d === key);
    if (id === undefined)
      return fail('EDGELOOP_ERR_CONFIG_INVALID', `--scenario-map: no device "${key}" in this fleet`);
    const sc = load(name);
    if (!sc.ok) return sc;
    out.set(id, sc.value);
  }
  return ok(out);
}

export interface FleetIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  signal: AbortSignal;
}

/** Runs fleet mode; the exit code (0 done, 1 publish errors, 2 bad options or no connection). */
export async function runFleetCommand(
  values: Values,
  common: { seed: number; durationS: number | undefined; speed: number | 'max' },
  io: FleetIo,
): Promise<number> {
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  const failed = (f: { code: string; message: string }): number => {
    log(`edgeloop sim: ${f.message} [${f.code}]`);
    return 2;
  };
  const n = positiveInt('fleet', str(values.fleet), 1, 100_000);
  const url = str(values.mqtt);
  if (url === undefined)
    return failed(
      fail('EDGELOOP_ERR_CONFIG_INVALID', '--fleet needs --mqtt <url> (the broker to publish to)'),
    );
  const prefix = str(values.prefix) ?? 'sim-';
  const maxInFlight = positiveInt('max-in-flight', str(values['max-in-flight']), 1000, 1_000_000);
  const replay =
    values.replay === undefined || values.replay === '0'
      ? 0
      : positiveInt('replay', str(values.replay), 0, 100_000);
  const base = loadScenario(str(values.scenario) ?? 'steady');
  if (!base.ok) return failed(base);
  const ids = fleetDeviceIds(n, prefix);
  const map = parseScenarioMap(str(values['scenario-map']) ?? '', ids, loadScenario);
  if (!map.ok) return failed(map);
  const durationS = common.durationS ?? base.value.durationS;
  const userTemplate = str(values['mqtt-username-template']);
  const password = str(values['mqtt-password']) ?? io.env.EDGELOOP_MQTT_PASSWORD;
  const credFile = str(values['mqtt-credentials']);
  const creds = credFile === undefined ? undefined : readFleetCredentials(credFile);
  if (creds !== undefined && !creds.ok) return failed(creds);
  const userOf = (id: string): string | undefined =>
    userTemplate !== undefined ? userTemplate.replaceAll('{id}', id) : creds === undefined ? undefined : id;
  const passwordOf = (id: string): string | undefined => {
    const user = userOf(id);
    return creds === undefined || user === undefined ? password : (creds.value.get(user) ?? password);
  };
  const noPassword = creds === undefined ? undefined : ids.find((id) => passwordOf(id) === undefined);
  if (noPassword !== undefined)
    return failed(fail('EDGELOOP_ERR_CONFIG_INVALID', `--mqtt-credentials: no password for ${noPassword}`));
  const pems = readTrustedKeys(str(values['trusted-key']));
  if (!pems.ok) return failed(pems);
  let keys: ReadonlyMap<string, TrustedKey>;
  try {
    keys = trustedKeySet(pems.value);
  } catch (err) {
    if (err instanceof EdgeloopError) return failed(err);
    throw err;
  }
  const silent = parseSilent(str(values.silent), ids);
  if (!silent.ok) return failed(silent);
  const updateConfig = fleetUpdateConfig(values, common.seed, keys);
  if (!updateConfig.ok) return failed(updateConfig);
  const maxDownloads = positiveInt('max-downloads', str(values['max-downloads']), 8, 10_000);
  const model = await loadModel(str(values.model), pems.value);
  if (!model.ok) return failed(model);
  const models = new FleetModelCache((contents) => stageFleetBundle(contents, keys));
  const mapped = [...map.value].map(([id, s]) => `${id}=${s.name}`).join(', ');
  log(
    `sim: fleet of ${n} (${ids[0]}..${ids[n - 1]}), scenario ${base.value.name}${mapped === '' ? '' : `; ${mapped}`}, ` +
      `seed ${common.seed}, ${durationS} s at speed ${common.speed}${replay > 0 ? `, replaying ${replay} windows` : ''}` +
      `${model.value === undefined ? '' : `, model ${model.value.model.name}@${model.value.model.version}`} -> ${url}`,
  );
  try {
    const r = await runFleet({
      devices: n,
      prefix,
      scenarioOf: (id) => map.value.get(id) ?? base.value,
      seed: common.seed,
      speed: common.speed,
      durationS,
      maxInFlight,
      replayWindows: replay,
      ...(model.value === undefined ? {} : { model: model.value }),
      updates: {
        config: updateConfig.value,
        models,
        get: getBundle,
        silent: silent.value,
        maxDownloads,
      },
      connect: (deviceId, will) =>
        connectFleetDevice({
          url,
          clientId: deviceId,
          will,
          ...optional('username', userOf(deviceId)),
          ...optional('password', passwordOf(deviceId)),
        }),
      nowMs: () => Date.now(),
      sleep: (ms) => sleep(ms).then(() => undefined),
      signal: io.signal,
      onProgress: (p) => {
        log(
          `sim: device=${p.deviceTimeS.toFixed(0)} s wall=${p.wallS.toFixed(1)} s windows=${p.windows} ` +
            `messages=${p.messages} acked=${p.acked} in-flight=${p.inFlight} errors=${p.errors}` +
            (p.behindS > 1 ? ` (behind real time x${common.speed} by ${p.behindS.toFixed(1)} s)` : ''),
        );
      },
    });
    if (!r.ok) return failed(r);
    log(summaryLine(r.value));
    return r.value.errors > 0 ? 1 : 0;
  } finally {
    // The sessions devices shared (the --model one and every installed bundle); released once the fleet is
    // done (or failed to connect).
    await models.close();
    await model.value?.close();
  }
}

/** The --trusted-key files (comma-separated), read. */
function readTrustedKeys(keyFiles: string | undefined): Result<string[]> {
  const files = (keyFiles ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const pems: string[] = [];
  for (const f of files) {
    try {
      pems.push(readFileSync(f, 'utf8'));
    } catch (err) {
      return fail(
        'EDGELOOP_ERR_INPUT_READ',
        `--trusted-key ${f}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return ok(pems);
}

/** The --model bundle, verified against the --trusted-key keys and loaded once; undefined without --model. */
async function loadModel(
  path: string | undefined,
  pems: readonly string[],
): Promise<Result<FleetModel | undefined>> {
  if (path === undefined) return ok(undefined);
  if (pems.length === 0)
    return fail(
      'EDGELOOP_ERR_CONFIG_INVALID',
      '--model needs --trusted-key <pub.pem> (the key the bundle is signed by, e.g. <out>.signing.pub of edgeloop train)',
    );
  return loadFleetModel({ path, trustedKeys: pems });
}

export function summaryLine(s: FleetSummary): string {
  return (
    `sim: fleet done${s.aborted ? ' (interrupted)' : ''}: ${s.devices} devices, ${s.deviceTimeS.toFixed(0)} s of device time ` +
    `in ${(s.wallMs / 1000).toFixed(1)} s, ${s.windows} windows, ${s.messages} messages, ${s.acked} acked, ` +
    `${s.errors} errors${s.inferenceFailures > 0 ? `, ${s.inferenceFailures} windows without prediction` : ''}; ` +
    (s.updates === undefined || s.updates.committed + s.updates.rolledBack + s.updates.failed === 0
      ? ''
      : `model commands: ${s.updates.committed} committed, ${s.updates.rolledBack} rolled back, ${s.updates.failed} failed; `) +
    `max behind pace ${s.maxBehindS.toFixed(1)} s`
  );
}
