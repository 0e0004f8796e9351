// Rollout speed (issue #10 §4 "Benchmarks"): wall time to the whole fleet on the new model with 50
// simulated devices, bake times 0. The stack is what an operator runs: the collector in this process
// (embedded aedes broker, its registry serving the bundles, the rollout controller, the update requests,
// SQLite), and `edgeloop sim --fleet 50` as a child process whose devices download, verify (pinned key),
// stage and commit like agents, and publish telemetry of the model they serve (--replay, so the boards'
// cost stays out of the figure). Two rows:
//
// 1. From POST /api/v1/rollouts to the rollout `completed` (every device COMMITTED, every phase analysed,
//    production moved). Baseline, same run: a rollout to ONE device of a second simulator process running
//    a model of another name (so that it is not part of the fleet an update request rolls out to), the
//    fixed cost of a rollout (command, download, verify, one window of the new model, the alias move).
//    Runs alternate 1.0.0 → 2.0.0 → 1.0.0 …
// 2. From an update request to the fleet on the new model, through the request path: the collector's loop
//    (collector.loop.handle, what the monitor cycle calls) gets one device's qualifying drift observations
//    (drift.model_reference with cause calibration_drift, and the device's own drift.device_baseline, as
//    updateRequireDeviceChange wants); the request is raised, decides (fit of the device's recent windows
//    to the running version's reference and to every newer approved version's, collector/loop/fit.ts),
//    starts the rollout by itself (autoRollout; canary = the request's device, then 50 %, 100 % of the
//    model's fleet; rolloutCanaryBakeS = rolloutBakeS = 0), and the timer stops at the rollout `completed`.
//    Each run offers exactly one newer approved version: pushed, and approved by moving `staging` to it,
//    right before the run (not timed), with a reference profile built from the fleet's own recent windows
//    and shifted by kσ, k chosen so it fits the run's device better than the running version by more than
//    the fit margin. Baseline: row 1's median to the same fleet (what the request path adds to a rollout).
//
// Run: npm run bench -- rollout   (BENCH_DEVICES, BENCH_RUNS override 50 and 5)

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCollectorConfig, startCollector } from '../collector/index.ts';
import { defaultFeatureNames } from '../collector/drift/live/features.ts';
import { MIN_FIT_VALUES, deviceFit } from '../collector/loop/fit.ts';
import type { Observation } from '../collector/monitor/types.ts';
import type { WindowRecord } from '../collector/storage/types.ts';
import type { SignedBundle } from '../shared/bundle/build.ts';
import {
  buildReferenceProfile,
  parseReferenceProfile,
  type ReferenceProfile,
} from '../shared/bundle/reference.ts';
import { generateSigningKeyPair } from '../shared/bundle/signing.ts';
import { createLogger } from '../shared/platform/logger.ts';
import { archiveOf, makeModelBundle } from '../test/integration/agent-model-fixture.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { median, section, type Row } from './lib.ts';

const N = Number(process.env.BENCH_DEVICES ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const NAME = 'pump-condition';
// The baseline device's model: another name, so that it is not in the fleet of NAME that an update
// request's rollout covers (the plan takes every device running the request's model).
const SOLO = 'pump-condition-solo';
/** Windows of each fleet device before the request runs (a fit judges a feature from MIN_FIT_VALUES). */
const FIT_WINDOWS = 2 * MIN_FIT_VALUES;
/** The offset of the setup version's reference from the fleet's data, reference σ. */
const SETUP_K = 24;
const TOKEN = 'bench-rollout-token-0123456789';
const root = fileURLToPath(new URL('..', import.meta.url));
if (RUNS > N)
  throw new Error(`BENCH_RUNS ${String(RUNS)} > BENCH_DEVICES ${String(N)}: one device per request run`);

const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-rollout-'));
const fleetIds = Array.from(
  { length: N },
  (_, i) => `sim-${String(i + 1).padStart(Math.max(2, String(N).length), '0')}`,
);
const baselineDevice = 'solo-01';
const ids = [baselineDevice, ...fleetIds];
const credentials = {
  devices: Object.fromEntries(ids.map((id) => [id, `${id}-password-0123456789`])),
  collector: { username: 'collector', password: 'collector-secret-0123456789' },
};
const credentialsFile = join(dir, 'credentials.json');
writeFileSync(credentialsFile, JSON.stringify(credentials));
const key = generateSigningKeyPair();
const pub = join(dir, 'key.pub');
writeFileSync(pub, key.publicKeyPem);
const bundles: SignedBundle[] = [];
for (const name of [NAME, SOLO])
  for (const version of ['1.0.0', '2.0.0'])
    bundles.push(await makeModelBundle(key, { name, version, seed: 7 }));
const tarOf = (name: string): string => {
  const path = join(dir, `${name}-1.0.0.tar`);
  const b = bundles.find((x) => x.manifest.name === name && x.manifest.version === '1.0.0');
  if (b === undefined) throw new Error(`no bundle ${name}@1.0.0`);
  writeFileSync(path, archiveOf(b));
  return path;
};

const config = loadCollectorConfig(
  {
    dataDir: join(dir, 'data'),
    httpPort: 0,
    brokerPort: 0,
    brokerHost: '127.0.0.1',
    credentialsFile,
    trustedKeys: [pub],
    alertMqtt: false,
    retraining: false,
    // The update-request path (row 2): the request starts its rollout, canary and phases without bake.
    autoRollout: true,
    rolloutCanaryBakeS: 0,
    rolloutBakeS: 0,
  },
  {},
);
const logs: string[] = [];
const collector = await startCollector(config, {
  logger: createLogger({ stream: { write: (l: string) => logs.push(l) }, level: 'warn' }),
  trustedKeys: [key.publicKeyPem],
  registryTokens: [{ token: TOKEN, actor: 'bench' }],
});
const http = collector.httpUrl;
const api = async (
  path: string,
  body?: unknown,
  raw?: Uint8Array,
  method?: string,
): Promise<Record<string, unknown>> => {
  const res = await fetch(`${http}${path}`, {
    method: method ?? (body === undefined && raw === undefined ? 'GET' : 'POST'),
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': raw === undefined ? 'application/json' : 'application/x-tar',
    },
    ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${String(res.status)} ${JSON.stringify(json)}`);
  return json;
};
const push = (b: SignedBundle) => api(`/api/v1/models/${b.manifest.name}/versions`, undefined, archiveOf(b));
for (const b of bundles) await push(b);

const referenceOf = (b: SignedBundle): ReferenceProfile => {
  const bytes = b.contents.files.get(b.manifest.reference.path);
  const r = parseReferenceProfile(bytes);
  if (bytes === undefined || !r.ok)
    throw new Error(`no reference in ${b.manifest.name}@${b.manifest.version}`);
  return r.value;
};
const references = new Map<string, ReferenceProfile>(
  bundles.filter((b) => b.manifest.name === NAME).map((b) => [b.manifest.version, referenceOf(b)]),
);

const sim = (prefix: string, n: number, model: string): { child: ChildProcess; err: () => string } => {
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/edgeloop.js'),
      'sim',
      '--fleet',
      String(n),
      '--prefix',
      prefix,
      '--mqtt',
      collector.brokerUrl,
      '--mqtt-credentials',
      credentialsFile,
      '--model',
      model,
      '--trusted-key',
      pub,
      '--replay',
      '5',
      '--duration',
      '36000',
      '--speed',
      '1',
    ],
    { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  return { child, err: () => err };
};

const children: ChildProcess[] = [];
try {
  const fleet = sim('sim-', N, tarOf(NAME));
  const solo = sim('solo-', 1, tarOf(SOLO));
  children.push(fleet.child, solo.child);
  await waitFor(
    () => `${String(N + 1)} devices serving 1.0.0 (${fleet.err().slice(-300)} ${solo.err().slice(-300)})`,
    () => ids.every((id) => collector.store.device(id)?.model?.version === '1.0.0'),
    { timeoutMs: 180_000, intervalMs: 200 },
  );

  const untilCompleted = async (id: string): Promise<void> => {
    let state = '';
    await waitFor(
      () => `rollout ${id} completed (${state})`,
      async () => {
        const r = (await api(`/api/v1/rollouts/${id}`)) as { rollout: { state: string } };
        state = r.rollout.state;
        if (['paused', 'rolled_back', 'aborted'].includes(state))
          throw new Error(
            `rollout ${id} ${state}: ${JSON.stringify((r.rollout as { analyses?: unknown }).analyses).slice(0, 3000)}`,
          );
        return state === 'completed';
      },
      { timeoutMs: 120_000, intervalMs: 20 },
    );
  };

  // Row 1: direct rollouts.
  const current = new Map<string, string>([
    [SOLO, '1.0.0'],
    [NAME, '1.0.0'],
  ]);
  const rollout = async (
    model: string,
    devices: readonly string[],
    to = current.get(model) === '1.0.0' ? '2.0.0' : '1.0.0',
    analysis: Record<string, number> = {},
  ): Promise<number> => {
    const t0 = performance.now();
    const started = (await api('/api/v1/rollouts', {
      model,
      toVersion: to,
      fromVersion: current.get(model),
      devices,
      canary: devices.length === 1 ? { devices } : { percent: 10 },
      canaryBakeS: 0,
      phases: [
        { percent: 50, bakeS: 0 },
        { percent: 100, bakeS: 0 },
      ],
      analysis: { minWindows: 1, ...analysis },
    })) as { rollout: { id: string } };
    await untilCompleted(started.rollout.id);
    const ms = performance.now() - t0;
    current.set(model, to);
    return ms;
  };
  const single: number[] = [];
  const whole: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    single.push(await rollout(SOLO, [baselineDevice]));
    whole.push(await rollout(NAME, fleetIds));
  }

  // Row 2: update request → fleet on the new model.
  const loop = collector.loop;
  if (loop === undefined) throw new Error('the collector has no loop (registry and signing key needed)');
  const fitWindowMs = config.updateFitWindowS * 1000;
  const newest = (deviceId: string): number => {
    const w = collector.store.latestWindows().find((x) => x.deviceId === deviceId);
    if (w === undefined) throw new Error(`no window of ${deviceId}`);
    return w.tsMs;
  };
  // The same windows decide() reads: the last updateFitWindowS of device time before the newest window.
  const recent = (deviceId: string, endMs: number): WindowRecord[] =>
    collector.store.windows({ deviceId, fromMs: endMs - fitWindowMs, toMs: endMs + 1 });
  // A fit needs MIN_FIT_VALUES windows of a device; the reference wants a few more.
  await waitFor(
    () => `${String(FIT_WINDOWS)} windows of every fleet device`,
    () => fleetIds.every((id) => recent(id, newest(id)).length >= FIT_WINDOWS),
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  // The fleet's data: the drift monitor's features that the windows carry, every recent window pooled.
  const pooled = fleetIds.flatMap((id) => recent(id, newest(id)));
  const inData = new Set(pooled.flatMap((w) => w.featureNames));
  const columns = defaultFeatureNames()
    .filter((f) => inData.has(f))
    .map((name) => ({
      name,
      values: pooled.map((w) => {
        const j = w.featureNames.indexOf(name);
        return j < 0 ? Number.NaN : (w.values[j] ?? Number.NaN);
      }),
    }));
  const sd = (xs: readonly number[]): number => {
    const ok = xs.filter(Number.isFinite);
    const m = ok.reduce((a, b) => a + b, 0) / Math.max(1, ok.length);
    return Math.sqrt(ok.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, ok.length - 1));
  };
  const shifted = (k: number): ReferenceProfile => {
    const r = buildReferenceProfile(
      columns.map((c) => {
        const s = sd(c.values);
        return { name: c.name, values: c.values.map((v) => v + k * s) };
      }),
      // The fixture's own sample size: a default-size sample (1000 values a feature) makes these bundles
      // ~700 KB against the 24 KB of 1.0.0/2.0.0, and row 2 would time 50 bigger downloads, not the path.
      { sampleSize: 50 },
    );
    if (!r.ok) throw new Error(r.message);
    return r.value;
  };
  // Offsets (reference σ) a run falls back on, largest first, when its planned one does not fit its device
  // better than the running version by a clear margin (0.8 for the decision's 0.9).
  const OFFSETS = [16, 10, 7, 5, 3.5, 2.5, 1.75, 1.25, 0.9, 0.6, 0.4, 0.25, 0.1, 0];
  // The fixture's 1.0.0/2.0.0 reference (sine columns over accel.x.mean and accel.x.std) happens to fit
  // these devices about as well as the pooled fleet data does (each device replays 5 windows of its own,
  // so one device sits ~0.7-0.9σ from the pool): no data-built version fits better by the margin. So the
  // fleet first moves (directly, not timed) to 3.0.0, the fleet reference shifted far off, and the runs
  // step down from there.
  let lastK = SETUP_K;
  const setupProfile = shifted(SETUP_K);
  const setup = await makeModelBundle(key, {
    name: NAME,
    version: '3.0.0',
    seed: 7,
    reference: setupProfile,
  });
  await push(setup);
  references.set('3.0.0', setupProfile);
  // Its reference is far from the data on purpose: the input-drift check of this setup rollout is off.
  const setupMs = await rollout(NAME, fleetIds, '3.0.0', { maxDriftIncreaseSigma: 1e6 });
  const requestMs: number[] = [];
  const decisionMs: number[] = [];
  const chain: string[] = [];
  const chainBytes: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const device = fleetIds[r] as string;
    const running = current.get(NAME) as string;
    const runningRef = references.get(running);
    if (runningRef === undefined) throw new Error(`no reference known for ${running}`);
    const end = newest(device);
    const windows = recent(device, end);
    const dCur = deviceFit(device, windows, runningRef).distance;
    if (dCur === null)
      throw new Error(
        `${device}: no fit to ${NAME}@${running} (${String(windows.length)} windows, ${windows[0]?.featureNames.slice(0, 8).join(',') ?? '-'})`,
      );
    let picked: { k: number; profile: ReferenceProfile; d: number } | undefined;
    // Halving from SETUP_K, the last run on the fleet's data itself (k 0); else the largest offset that fits.
    const target = r === RUNS - 1 ? 0 : SETUP_K / 2 ** (r + 1);
    for (const k of [target, ...OFFSETS].filter((x, i, all) => x < lastK && all.indexOf(x) === i)) {
      const profile = shifted(k);
      const d = deviceFit(device, windows, profile).distance;
      if (d !== null && d <= 0.8 * dCur) {
        picked = { k, profile, d };
        break;
      }
    }
    if (picked === undefined)
      throw new Error(
        `run ${String(r + 1)}: no offset below ${String(lastK)}σ fits ${device} better than ${dCur}σ`,
      );
    lastK = picked.k;
    const version = `3.${String(r + 1)}.0`;
    const b = await makeModelBundle(key, { name: NAME, version, seed: 7, reference: picked.profile });
    await push(b);
    await api(
      `/api/v1/models/${NAME}/aliases/staging`,
      { version, reason: `bench: approve ${version} for update request run ${String(r + 1)}` },
      undefined,
      'PUT',
    );
    references.set(version, picked.profile);
    chainBytes.push(archiveOf(b).length);
    chain.push(
      `${version} (+${String(picked.k)}σ; ${device} ${picked.d.toFixed(2)}σ vs ${dCur.toFixed(2)}σ to ${running})`,
    );
    const model = { name: NAME, version: running };
    const window = { fromMs: end - 300_000, toMs: end };
    const evidence = [
      {
        method: 'wasserstein',
        statistic: 5,
        threshold: 0.5,
        thresholdOrigin: 'chunks',
        effectSigma: 5,
        detail: { feature: 'accel.x.mean', n: windows.length },
      },
    ];
    const observation = (basis: 'model_reference' | 'device_baseline', atMs: number): Observation => ({
      kind: 'drift',
      deviceId: device,
      subject: 'accel',
      check: `drift.${basis}`,
      active: true,
      severity: 'warning',
      atMs,
      sinceMs: end - 60_000,
      window,
      summary: `accel on ${device} moved away from the ${basis === 'model_reference' ? "model's reference profile" : "device's own baseline"}: accel.x.mean +5σ; suspected calibration drift`,
      evidence,
      reference: { basis, model: basis === 'model_reference' ? model : null },
      cause: 'calibration_drift',
      action: { kind: 'recalibrate_sensor', automatic: false },
    });
    const known = new Set(loop.updates.list({ model: NAME }).map((x) => x.id));
    const t0 = performance.now();
    const nowMs = Date.now();
    loop.handle([observation('model_reference', nowMs), observation('device_baseline', nowMs)], nowMs);
    const decided = performance.now();
    const request = loop.updates.list({ model: NAME }).find((x) => !known.has(x.id));
    if (request?.state !== 'rolling_out' || request.rolloutId === null)
      throw new Error(
        `run ${String(r + 1)}: the request did not start a rollout: ${JSON.stringify(request ?? null).slice(0, 3000)}`,
      );
    if (request.decision?.toVersion !== version)
      throw new Error(`run ${String(r + 1)}: decided ${String(request.decision?.toVersion)}, not ${version}`);
    await untilCompleted(request.rolloutId);
    const ms = performance.now() - t0;
    await waitFor(
      () => `update request ${request.id} resolved`,
      () => loop.updates.get(request.id)?.state === 'resolved',
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    if (!fleetIds.every((id) => collector.store.device(id)?.model?.version === version))
      throw new Error(`run ${String(r + 1)}: not every fleet device reports ${version}`);
    requestMs.push(ms);
    decisionMs.push(decided - t0);
    current.set(NAME, version);
  }

  const kb = (bytes: number): string => (bytes / 1024).toFixed(0);
  const secs = (xs: readonly number[]): string => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
  const rows: Row[] = [
    {
      metric: `rollout to ${String(N)} devices (canary 10 %, 50 %, 100 %; bake 0)`,
      median: median(whole) / 1000,
      baseline: median(single) / 1000,
      unit: 's',
    },
    {
      metric: `update request → ${String(N)} devices on the new model (decision, auto rollout: canary the request's device, 50 %, 100 %; bake 0)`,
      median: median(requestMs) / 1000,
      baseline: median(whole) / 1000,
      unit: 's',
    },
  ];
  process.stdout.write(
    section('Rollout to a simulated fleet', 'npm run bench -- rollout', rows, [
      `Row 1: wall time from POST /api/v1/rollouts to the rollout \`completed\` (every device COMMITTED, each phase analysed on at least one window of the new model, production moved by compare-and-set); median of ${String(RUNS)} runs alternating 1.0.0 ↔ 2.0.0. Baseline: a rollout to one device of a second simulator process running a model of another name, in the same run (the fixed cost of a rollout).`,
      `Row 2: wall time from the update request (the collector's loop handed one device's active \`drift.model_reference\` observation, cause calibration_drift, with its \`drift.device_baseline\` observation, as a monitor cycle would) to the request's rollout \`completed\`: the request is raised, decides (fit of the device's last ${String(config.updateFitWindowS)} s of windows to the running version's reference and to the newer approved one's, margin ${String(config.updateFitMargin * 100)} %), starts its rollout by itself (autoRollout; canary = the request's device, then 50 %, 100 % of the model's ${String(N)} devices; rolloutCanaryBakeS = rolloutBakeS = 0, so the analyses, without bake and with fewer than the default 20 windows, judge the device outcomes), and the rollout completes with production moved. Median of ${String(RUNS)} runs, one device each; decision (the handle() call: raise, fit, plan, rollout started) median ${median(decisionMs).toFixed(1)} ms, runs ${decisionMs.map((x) => x.toFixed(1)).join(', ')} ms. Baseline: row 1's median, the direct rollout to the same fleet in the same run. Not timed: training (none; each run's version is pushed and approved by moving \`staging\` right before the run) and the drift monitor's persistence before it emits the observation.`,
      `Each run's version has a reference profile built from the fleet's recent windows (the drift monitor's features), shifted by kσ so that it fits the run's device better than the running version by more than the margin. The fleet starts the runs on 3.0.0 (+${String(SETUP_K)}σ, moved there by a direct rollout before the runs, ${(setupMs / 1000).toFixed(2)} s, not in any row): the fixture's 1.0.0/2.0.0 reference fits these devices about as well as the pooled fleet data does, so no data-built version could have been shown to fit better. Versions: ${chain.join('; ')}. Their references keep 50 sample values a feature, as the fixture's own, so a device downloads ${kb(median(chainBytes))} KB against ${kb(archiveOf(bundles[0] as SignedBundle).length)} KB in row 1 (with the default 1000-value sample such a bundle measured ~700 KB).`,
      `The collector (embedded aedes, registry, rollout controller, update requests, SQLite) runs in the bench process; \`edgeloop sim --fleet ${String(N)} --model … --replay 5 --speed 1\` and \`edgeloop sim --fleet 1 --prefix solo-\` in child processes answer the commands (download over HTTP, digest, signature against the pinned key, golden replay, session swap). Row 1's phases wait for at least one telemetry window of the new model (up to 1 s at --speed 1) before their analysis; the controller moves on as soon as a device's answer settles a phase, not at its next 1 s tick.`,
      `Runs (s): fleet ${secs(whole)}; one device ${secs(single)}; update request ${secs(requestMs)}.`,
      `Goal (issue 10): under 10 s from update request to the whole fleet on the new model, excluding training and bake times: median ${(median(requestMs) / 1000).toFixed(2)} s, slowest ${(Math.max(...requestMs) / 1000).toFixed(2)} s.`,
    ]),
  );
} finally {
  for (const c of children) c.kill('SIGTERM');
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
}
