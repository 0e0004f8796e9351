// The fleet device's update state machine (firmware-sim/fleet-updates.ts) with real signed bundles and
// in-memory fakes for the download, the session loader and the report sink: a newer command replaces a
// waiting one (FAILED, superseded) and an older one is refused; a malformed or misaddressed command is
// answered FAILED; a download failure, a wrong name and a wrong digest fail with the agent's codes and
// leave the old model; closing mid-download reports FAILED (closed); injections are a function of the
// seed; the model cache loads one session per bundle and closes it when no device serves it.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { FleetModel } from '../../firmware-sim/fleet-model.ts';
import { FleetModelCache } from '../../firmware-sim/fleet-models.ts';
import {
  FleetUpdater,
  updateDefaults,
  type DownloadRequest,
  type FleetUpdateConfig,
  type ModelStateReport,
} from '../../firmware-sim/fleet-updates.ts';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import { decodeManifestBytes } from '../../shared/bundle/verify.ts';
import { generateSigningKeyPair, trustedKeySet } from '../../shared/bundle/signing.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { archiveOf, digestOf, makeModelBundle } from '../integration/agent-model-fixture.ts';

const key = generateSigningKeyPair();
const keys = trustedKeySet([key.publicKeyPem]);
const NAME = 'pump-condition';

/**
 * What the fake session loader hands out: the state machine only loads, swaps and closes sessions, so
 * inference throws (a test that reached it would fail). Real onnxruntime sessions answering model commands
 * are test/integration/fleet-model-commands.test.ts.
 */
function fakeSessionModel(digest: string, version: string, closed: string[]): FleetModel {
  return {
    model: { name: NAME, version },
    digest,
    pipeline: undefined as never,
    fits: () => ok(undefined),
    predict: () => Promise.reject(new Error('the update tests never run inference')),
    predictVector: () => Promise.reject(new Error('the update tests never run inference')),
    close: () => {
      closed.push(version);
      return Promise.resolve();
    },
  };
}

interface Harness {
  readonly updater: FleetUpdater;
  readonly reports: ModelStateReport[];
  readonly served: (string | null)[];
  readonly loads: string[];
  readonly closed: string[];
  readonly downloads: string[];
  /** Resolves the download in progress (when `hold` was set). */
  release(): void;
}

function harness(
  files: Record<string, Uint8Array>,
  o: { config?: Partial<FleetUpdateConfig>; hold?: boolean; initial?: FleetModel; closed?: string[] } = {},
): Harness {
  const reports: ModelStateReport[] = [];
  const served: (string | null)[] = [];
  const loads: string[] = [];
  const closed = o.closed ?? [];
  const downloads: string[] = [];
  let gate: (() => void) | undefined;
  const models = new FleetModelCache((contents) => {
    const m = decodeManifestBytes(contents.manifest);
    assert.ok(m.ok);
    const version = (m.value.value as { version: string }).version;
    loads.push(version);
    return Promise.resolve(ok(fakeSessionModel(m.value.digest, version, closed)));
  });
  if (o.initial !== undefined) models.adopt(o.initial);
  const download = async (r: DownloadRequest): Promise<Result<Uint8Array>> => {
    downloads.push(r.url);
    if (o.hold === true)
      await new Promise<void>((resolve) => {
        gate = resolve;
        r.signal.addEventListener('abort', () => {
          resolve();
        });
      });
    if (r.signal.aborted) return fail('EDGELOOP_ERR_MODEL_DOWNLOAD', 'download aborted');
    const body = files[r.url];
    return body === undefined ? fail('EDGELOOP_ERR_MODEL_DOWNLOAD', `GET ${r.url} answered 404`) : ok(body);
  };
  const config: FleetUpdateConfig = { ...updateDefaults, trustedKeys: keys, seed: 3, ...o.config };
  const updater = new FleetUpdater(
    {
      deviceId: 'dev-1',
      config,
      models,
      download,
      report: (r) => reports.push(r),
      serve: (m) => served.push(m === undefined ? null : m.model.version),
      sleep: () => Promise.resolve(),
    },
    o.initial,
  );
  return { updater, reports, served, loads, closed, downloads, release: () => gate?.() };
}

function command(
  action: 'install' | 'rollback',
  deploySeq: number,
  o: { version?: string; url?: string; digest?: string; deviceId?: string } = {},
): Uint8Array {
  const base = { v: 1, deviceId: o.deviceId ?? 'dev-1', runId: 1, msgSeq: deploySeq, tsMs: 1 };
  const body =
    action === 'install'
      ? {
          ...base,
          action,
          deploySeq,
          model: { name: NAME, version: o.version ?? '2.0.0' },
          url: o.url ?? 'http://registry/v2.tar',
          digest: o.digest ?? `sha256:${'0'.repeat(64)}`,
        }
      : { ...base, action, deploySeq, reason: 'test' };
  return new TextEncoder().encode(JSON.stringify(body));
}

let made: Promise<{ v2: SignedBundle; v3: SignedBundle }> | undefined;
const bundles = (): Promise<{ v2: SignedBundle; v3: SignedBundle }> =>
  (made ??= Promise.all([
    makeModelBundle(key, { name: NAME, version: '2.0.0', seed: 8 }),
    makeModelBundle(key, { name: NAME, version: '3.0.0', seed: 9 }),
  ]).then(([v2, v3]) => ({ v2, v3 })));

test('a newer command replaces the waiting one (superseded); an older one is refused', async () => {
  const { v2, v3 } = await bundles();
  const files = { 'http://registry/v2.tar': archiveOf(v2), 'http://registry/v3.tar': archiveOf(v3) };
  const h = harness(files, { hold: true });
  const first = h.updater.handle(
    command('install', 10, {
      version: '2.0.0',
      url: 'http://registry/v2.tar',
      digest: digestOf(files['http://registry/v2.tar']),
    }),
  );
  const waiting = h.updater.handle(
    command('install', 11, {
      version: '3.0.0',
      url: 'http://registry/v3.tar',
      digest: digestOf(files['http://registry/v3.tar']),
    }),
  );
  const newer = h.updater.handle(
    command('install', 12, {
      version: '3.0.0',
      url: 'http://registry/v3.tar',
      digest: digestOf(files['http://registry/v3.tar']),
    }),
  );
  await waiting;
  const superseded = h.reports.find((r) => r.deploySeq === 11);
  assert.equal(superseded?.state, 'FAILED');
  assert.equal(superseded.code, 'EDGELOOP_ERR_MODEL_SUPERSEDED');
  await h.updater.handle(command('install', 11, { version: '3.0.0' }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_DOWNGRADE');
  h.release();
  await first;
  h.release();
  await newer;
  assert.deepEqual(
    h.reports.filter((r) => r.deploySeq === 12).map((r) => r.state),
    ['DOWNLOADING', 'VERIFYING', 'STAGED', 'ACTIVATING', 'HEALTH_CHECK', 'COMMITTED'],
  );
  assert.deepEqual(h.reports.at(-1)?.active, { name: NAME, version: '3.0.0' });
  assert.deepEqual(h.served, ['2.0.0', '3.0.0']);
  // v2 became the last known good model; nothing else was loaded.
  assert.deepEqual(h.loads, ['2.0.0', '3.0.0']);
  assert.deepEqual(h.closed, []);
  // Rollback to v2; v3 is no longer served by anyone, so its session closes.
  await h.updater.handle(command('rollback', 13));
  assert.equal(h.reports.at(-1)?.state, 'ROLLED_BACK');
  assert.deepEqual(h.reports.at(-1)?.active, { name: NAME, version: '2.0.0' });
  assert.deepEqual(h.closed, ['3.0.0']);
});

test('malformed, misaddressed and refused commands fail with the agent codes; the old model stays', async () => {
  const { v2 } = await bundles();
  const archive = archiveOf(v2);
  const h = harness({ 'http://registry/v2.tar': archive });
  await h.updater.handle(new TextEncoder().encode('{"v":1}'));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
  await h.updater.handle(command('install', 1, { deviceId: 'dev-2' }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH');
  await h.updater.handle(command('install', 2, { url: 'http://registry/missing.tar' }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_DOWNLOAD');
  assert.match(h.reports.at(-1)?.reason ?? '', /no model serving/);
  await h.updater.handle(command('install', 3, { digest: `sha256:${'1'.repeat(64)}` }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH');
  await h.updater.handle(command('install', 4, { version: '9.9.9', digest: digestOf(archive) }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_NAME_MISMATCH');
  await h.updater.handle(command('rollback', 5));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_NO_ROLLBACK_TARGET');
  assert.deepEqual(h.served, []);
  for (const r of h.reports) assert.equal(r.active, null);
  assert.deepEqual(h.updater.outcomes, { committed: 0, rolledBack: 0, failed: 6 });
});

test('closing during a download reports FAILED (closed) and later commands are refused', async () => {
  const { v2 } = await bundles();
  const archive = archiveOf(v2);
  const h = harness({ 'http://registry/v2.tar': archive }, { hold: true });
  const running = h.updater.handle(command('install', 1, { digest: digestOf(archive) }));
  await h.updater.close();
  await running;
  assert.deepEqual(
    h.reports.map((r) => [r.state, r.code]),
    [
      ['DOWNLOADING', null],
      ['FAILED', 'EDGELOOP_ERR_MODEL_CLOSED'],
    ],
  );
  await h.updater.handle(command('install', 2, { digest: digestOf(archive) }));
  assert.equal(h.reports.at(-1)?.code, 'EDGELOOP_ERR_MODEL_CLOSED');
  assert.deepEqual(h.served, []);
});

test('injected outcomes are a function of (seed, device, deploySeq)', async () => {
  const { v2 } = await bundles();
  const archive = archiveOf(v2);
  const outcomes = async (seed: number): Promise<string[]> => {
    const out: string[] = [];
    for (let deploySeq = 1; deploySeq <= 12; deploySeq++) {
      const h = harness(
        { 'http://registry/v2.tar': archive },
        { config: { seed, failureRate: 0.4, rollbackRate: 0.4, failureCode: 'EDGELOOP_ERR_ONNX_LOAD' } },
      );
      await h.updater.handle(command('install', deploySeq, { digest: digestOf(archive) }));
      const end = h.reports.at(-1);
      out.push(`${end?.state}:${end?.code}`);
      if (end?.state === 'ROLLED_BACK') assert.deepEqual(h.served, ['2.0.0', null]);
    }
    return out;
  };
  const a = await outcomes(1);
  assert.deepEqual(await outcomes(1), a);
  assert.ok(a.includes('FAILED:EDGELOOP_ERR_ONNX_LOAD'), a.join(' '));
  assert.ok(a.includes('ROLLED_BACK:EDGELOOP_ERR_MODEL_HEALTH_ERRORS'), a.join(' '));
  assert.ok(a.includes('COMMITTED:null'), a.join(' '));
  assert.notDeepEqual(await outcomes(2), a);
});
