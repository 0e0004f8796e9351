// `edgeloop demo`'s run (docs/demo.md): the collector with its embedded broker, SQLite store and registry;
// the cached baseline model pushed and rolled out to every device (which makes it production); the
// maintenance log's labels; then the story plays (plan.ts) while the live view follows the collector's
// API, until the update request it raises has ended and the recalibrated device's drift alert resolved,
// or --duration runs out. Everything started here is stopped here, also on Ctrl-C.

import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCollectorConfig, startCollector, type Collector } from '../../collector/index.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/platform/logger.ts';
import { retrainWorkerPath } from '../collector.ts';
import type { CliIO } from '../commands.ts';
import { registryCommand } from '../registry.ts';
import {
  BASELINE_VERSION,
  demoBaseline,
  demoSigningKey,
  type Baseline,
  type SigningKey,
} from './baseline.ts';
import { startDevices, type RunningDevices } from './devices.ts';
import { DEMO_MODEL, demoDevices, demoTimeline, FLEET_PREFIX, type DemoDevice } from './plan.ts';
import { fleetDeviceIds } from '../../firmware-sim/index.ts';
import { Story } from './story.ts';
import { buildSummary, type DemoSummary } from './summary.ts';
import { createLiveView, type LiveView } from './view.ts';
import { collectorClient, readSnapshot, type CollectorClient, type Snapshot } from './watch.ts';
import { textSink } from '../text-sink.ts';

export interface DemoRunConfig {
  readonly devices: number;
  readonly fleet: number;
  /** Device time at most, s. */
  readonly durationS: number;
  readonly speed: number;
  readonly seed: number;
  readonly dataDir: string | undefined;
  readonly keepRunning: boolean;
}

const COLLECTOR_USER = 'collector';
/** After the loop ended, how long (wall) the demo waits for the recalibrated device's drift alert to resolve. */
const RESOLVE_GRACE_MS = 60_000;

const ended = new Set(['resolved', 'rollout_failed', 'candidate_refused', 'retraining_failed', 'dismissed']);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Polls until ok() holds; false when interrupted; throws DEMO_FAILED naming what after timeoutMs. */
async function until(
  what: string,
  ok: () => Promise<boolean> | boolean,
  timeoutMs: number,
  signal: AbortSignal,
  failure: { error?: EdgeloopError },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) return false;
    if (failure.error !== undefined) throw failure.error;
    if (await ok()) return true;
    if (Date.now() > deadline)
      throw new EdgeloopError(
        'EDGELOOP_ERR_DEMO_FAILED',
        `timed out after ${String(timeoutMs / 1000)} s: ${what}`,
      );
    await sleep(500, signal);
  }
}

async function pushBaseline(bundle: string, httpUrl: string, token: string, io: CliIO): Promise<void> {
  let text = '';
  const sink = textSink((s) => (text += s));
  const code = await registryCommand.run(['push', bundle, '--url', httpUrl, '--token', token], {
    ...io,
    stdout: sink,
    stderr: sink,
  });
  if (code !== 0)
    throw new EdgeloopError('EDGELOOP_ERR_DEMO_FAILED', `pushing the baseline model failed: ${text.trim()}`);
}

interface Started {
  readonly collector: Collector;
  readonly client: CollectorClient;
  readonly devices: readonly DemoDevice[];
  readonly running: RunningDevices;
}

/**
 * Runs the demo; the summary (also handed to report before --keep-running holds the collector up), or
 * undefined when interrupted.
 */
export async function runDemo(
  cfg: DemoRunConfig,
  io: CliIO,
  report: (s: DemoSummary) => void,
): Promise<DemoSummary | undefined> {
  const startedMs = Date.now();
  const out = (s: string): void => {
    io.stdout.write(`${s}\n`);
  };
  const temp = cfg.dataDir === undefined;
  const dataDir = cfg.dataDir ?? mkdtempSync(join(tmpdir(), 'edgeloop-demo-'));
  const failure: { error?: EdgeloopError } = {};
  let collector: Collector | undefined;
  let running: RunningDevices | undefined;
  let played = false;
  const view = createLiveView({ out: io.stdout, devices: [], startedMs });
  try {
    mkdirSync(dataDir, { recursive: true });
    out(
      `edgeloop demo: ${String(cfg.devices)} devices${cfg.fleet > 0 ? ` + ${String(cfg.fleet)} fleet devices` : ''}, seed ${String(cfg.seed)}, device time up to ${String(cfg.durationS)} s at ${String(cfg.speed)}x real time (faster than real time, so the story fits in a few minutes)`,
    );
    out(`data directory ${dataDir}${temp ? ' (temporary, removed at the end)' : ''}`);
    const signing = await demoSigningKey(io);
    let training = false;
    const baseline = async (): Promise<Baseline | undefined> => {
      const b = await demoBaseline(io, signing, (l) => {
        if (!training)
          view.line('training the baseline model (first run only, about 25 s here; cached for later runs)');
        training = true;
        view.note(`  ${l.slice(0, 110)}`);
      });
      if (b !== undefined)
        view.line(
          `baseline model ${DEMO_MODEL}@${BASELINE_VERSION}: ${b.trained ? 'trained' : 'from the cache'} (${b.bundle})`,
        );
      return b;
    };
    const started = await start(cfg, io, dataDir, signing, baseline, view, failure);
    if (started === undefined) return undefined;
    ({ collector, running } = started);
    const summary = await play(cfg, io, started, view, failure, startedMs);
    if (summary !== undefined) report(summary);
    played = summary !== undefined;
    return summary;
  } finally {
    view.end();
    await running?.stop();
    if (collector !== undefined) {
      if (cfg.keepRunning && played && !io.signal.aborted) {
        out(`\nkeeping the dashboard up at ${collector.httpUrl}/ (Ctrl-C to stop)`);
        await sleep(2 ** 31 - 1, io.signal);
      }
      await collector.close();
    }
    if (temp) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function start(
  cfg: DemoRunConfig,
  io: CliIO,
  dataDir: string,
  signing: SigningKey,
  baseline: () => Promise<Baseline | undefined>,
  view: LiveView,
  failure: { error?: EdgeloopError },
): Promise<Started | undefined> {
  const devices = demoDevices(cfg.devices, cfg.seed, cfg.durationS);
  const secret = (): string => randomBytes(16).toString('hex');
  const passwords: Record<string, string> = Object.fromEntries(devices.map((d) => [d.deviceId, secret()]));
  const fleetIds = fleetDeviceIds(cfg.fleet, FLEET_PREFIX);
  for (const id of fleetIds) passwords[id] = secret();
  const credentialsFile = join(dataDir, 'credentials.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({ devices: passwords, collector: { username: COLLECTOR_USER, password: secret() } }),
    {
      mode: 0o600,
    },
  );
  const token = secret();
  const logFile = join(dataDir, 'collector.log');
  const log = createLogger({
    stream: {
      write: (l: string) => {
        appendFileSync(logFile, l);
      },
    },
    level: 'info',
  });
  // The monitors' clock runs in wall time: at --speed x, an evaluation every 2.5/x s keeps the drift
  // persistence (6 evaluations) at 15 s of device time whatever the speed.
  const collector = await startCollector(
    loadCollectorConfig(
      {
        dataDir: join(dataDir, 'collector'),
        httpPort: 0,
        brokerPort: 0,
        brokerHost: '127.0.0.1',
        credentialsFile,
        trustedKeys: [signing.publicKeyPath],
        evaluateIntervalMs: Math.max(100, Math.round(2500 / cfg.speed)),
        driftWindow: 60,
        driftPersistence: 6,
        commissioningS: demoTimeline.commissioningS,
        autoRollout: true,
        updateFitWindowS: 30,
        updateCaptureS: 1800,
        rolloutCanaryBakeS: 5,
        rolloutBakeS: 10,
      },
      {},
    ),
    {
      logger: log,
      trustedKeys: [readFileSync(signing.publicKeyPath, 'utf8')],
      registryTokens: [{ token, actor: 'demo' }],
      retrainWorkerPath: retrainWorkerPath(),
    },
  );
  let running: RunningDevices | undefined;
  try {
    view.line(
      `dashboard ${collector.httpUrl}/  (open it in a browser; API ${collector.httpUrl}/api/v1, metrics ${collector.httpUrl}/metrics; log ${logFile})`,
    );
    view.line(`broker    ${collector.brokerUrl}  (embedded; per-device credentials in ${credentialsFile})`);
    // Trained (first run) or read from the cache once the dashboard is up, so the URL comes first.
    const model = await baseline();
    if (model === undefined) {
      await collector.close();
      return undefined;
    }
    await pushBaseline(model.bundle, collector.httpUrl, token, io);
    const collectorKey = collector.signingKey;
    if (collectorKey === undefined)
      throw new EdgeloopError('EDGELOOP_ERR_INTERNAL', 'the collector has no signing key');
    const collectorPub = join(dataDir, 'collector-signing.pub');
    writeFileSync(collectorPub, collectorKey.publicKeyPem);
    view.line('the story, in device time:');
    for (const d of devices) view.line(`  ${d.deviceId} ${d.role}: ${d.expect}`);
    running = await startDevices(
      devices,
      cfg.fleet,
      cfg.seed,
      {
        mqttUrl: `mqtt://127.0.0.1:${String(collector.brokerPort)}`,
        registryUrl: `${collector.httpUrl}/api/v1`,
        passwords,
        credentialsFile,
        trustedKeys: [signing.publicKeyPath, collectorPub],
        dataDir,
        speed: cfg.speed,
        durationS: cfg.durationS,
        env: io.env,
      },
      (name, code, logPath) => {
        failure.error ??= new EdgeloopError(
          'EDGELOOP_ERR_DEMO_FAILED',
          `${name} stopped (exit ${String(code)}); its log: ${logPath}`,
        );
      },
    );
    view.line(
      `${String(devices.length)} boards on virtual serial ports, each read by an edgeloop agent process (logs in ${dataDir})`,
    );
    return { collector, client: collectorClient(collector.httpUrl, token), devices, running };
  } catch (err) {
    await running?.stop();
    await collector.close();
    throw err;
  }
}

async function play(
  cfg: DemoRunConfig,
  io: CliIO,
  s: Started,
  bootView: LiveView,
  failure: { error?: EdgeloopError },
  startedMs: number,
): Promise<DemoSummary | undefined> {
  const { client, devices, collector, running } = s;
  const ids = devices.map((d) => d.deviceId);
  const windows = (id: string): number =>
    collector.store.windows({ deviceId: id, fromMs: 0, toMs: Date.now() + 3_600_000, limit: 1_000_000 })
      .length;
  bootView.note('  waiting for telemetry from every device');
  if (
    !(await until(
      'telemetry from every device',
      () => ids.every((id) => windows(id) >= 3),
      90_000,
      io.signal,
      failure,
    ))
  )
    return undefined;

  // The first install is a rollout too: the baseline to every device, canary first; completing it makes
  // it production.
  const first = (await client.post('/api/v1/rollouts', {
    model: DEMO_MODEL,
    toVersion: BASELINE_VERSION,
    devices: ids,
    canary: { devices: [ids[0]] },
    canaryBakeS: 0,
    phases: [{ percent: 100, bakeS: 0 }],
    reason: 'demo: install the baseline',
  })) as { rollout: { id: string } };
  bootView.line(
    `ROLLOUT  ${first.rollout.id}: the baseline ${BASELINE_VERSION} to every device, canary first`,
  );
  let firstState = '';
  if (
    !(await until(
      'the baseline rollout',
      async () => {
        const r = (await client.get(`/api/v1/rollouts/${first.rollout.id}`)).rollout as { state: string };
        firstState = r.state;
        return r.state !== 'running';
      },
      180_000,
      io.signal,
      failure,
    ))
  )
    return undefined;
  if (firstState !== 'completed')
    throw new EdgeloopError('EDGELOOP_ERR_DEMO_FAILED', `the baseline rollout ended ${firstState}`);
  bootView.line(`ROLLOUT  ${first.rollout.id} completed; production is ${BASELINE_VERSION}`);
  // Installing the model restarted every device baseline: it must be learned before the story starts.
  const installedS = running.deviceTimeS();
  const storyAtS = Math.min(demoTimeline.environmentAtS, demoTimeline.stuckAtS, demoTimeline.biasAtS);
  if (installedS + demoTimeline.commissioningS + 10 > storyAtS)
    bootView.line(
      `WARNING  the baseline was installed at ${String(Math.round(installedS))} s of device time: the device baselines may still be learning when the story starts at ${String(storyAtS)} s (a lower --speed avoids this)`,
    );
  // The maintenance log: every pump ran normally all along (the operator labels the captured data).
  const fromMs = Date.now() - 3_600_000;
  for (const id of ids)
    await client.post('/api/v1/labels', {
      deviceId: id,
      state: 'normal',
      fromMs,
      toMs: fromMs + 24 * 3_600_000,
      note: 'demo maintenance log: running normally',
    });
  bootView.line('LABELS   maintenance log: every pump ran normally (operator labels for retraining)');

  const view = createLiveView({ out: io.stdout, devices, startedMs });
  const story = new Story(new Set(ids));
  const recalibrated = devices.find((d) => d.role === 'recalibrated')?.deviceId;
  let last: Snapshot | undefined;
  let loopEndedMs: number | undefined;
  while (!io.signal.aborted) {
    if (failure.error !== undefined) throw failure.error;
    last = await readSnapshot(client, DEMO_MODEL);
    for (const line of story.next(last)) view.line(line);
    const deviceTimeS = running.deviceTimeS();
    view.status(last, deviceTimeS);
    const request = last.requests.at(-1);
    if (request !== undefined && ended.has(request.state)) loopEndedMs ??= Date.now();
    const driftLive = last.alerts.some(
      (a) => a.deviceId === recalibrated && a.kind === 'drift' && a.state !== 'resolved',
    );
    if (
      loopEndedMs !== undefined &&
      (!driftLive || request?.state !== 'resolved' || Date.now() - loopEndedMs > RESOLVE_GRACE_MS)
    )
      break;
    if (deviceTimeS >= cfg.durationS - 1) {
      view.line(`--duration ${String(cfg.durationS)} s of device time reached`);
      break;
    }
    await sleep(1000, io.signal);
  }
  view.end();
  if (io.signal.aborted || last === undefined) return undefined;
  // The story's end, read before the devices stop (their shutdown is not part of it).
  const deviceTimeS = running.deviceTimeS();
  const final = await readSnapshot(client, DEMO_MODEL);
  const latest = new Map(collector.store.latestWindows().map((w) => [w.deviceId, w]));
  const stored = Object.fromEntries(ids.map((id) => [id, windows(id)]));
  await running.stop();
  return buildSummary({
    seed: cfg.seed,
    speed: cfg.speed,
    deviceTimeS,
    wallS: (Date.now() - startedMs) / 1000,
    devices,
    fleet: cfg.fleet,
    modelBefore: BASELINE_VERSION,
    last: final,
    samplesLost: Object.fromEntries(ids.map((id) => [id, latest.get(id)?.counters.samplesMissing ?? 0])),
    windows: stored,
  });
}
