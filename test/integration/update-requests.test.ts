// Update requests against real parts (issue #10 §1): a real registry (openRegistry over SQLite and blobs)
// holding signed bundles whose reference.json differ, its ReferenceSource, a real SQLite telemetry store
// with the devices' windows written through writeBatch, the loop database as a SQLite file, the real
// rollout controller, and the HTTP routes through inject(). Retraining is the in-memory fake (the real
// service trains in a child process; its own tests cover it).

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ReferenceProfile } from '../../shared/bundle/reference.ts';
import { generateSigningKeyPair, type SigningKeyPair } from '../../shared/bundle/signing.ts';
import { ManualClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { createHttpApp, sendError } from '../../collector/adapters/http.ts';
import { updateRequestRoutes } from '../../collector/api/update-requests.ts';
import { registryReferences } from '../../collector/monitor/registry-references.ts';
import { openRegistry, type Registry } from '../../collector/registry/registry.ts';
import { createRolloutController } from '../../collector/rollout/controller.ts';
import type { RolloutController } from '../../collector/rollout/types.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import type { IncomingMessage, TelemetryStore } from '../../collector/storage/types.ts';
import { createUpdateRequests, type UpdateRequests } from '../../collector/updates/requests.ts';
import { signGoldenBundle, softmaxIo } from '../helpers/onnx-fixture.ts';
import { archiveOf, tinyOnnx } from './registry-fixture.ts';
import {
  FakeRetraining,
  FEATURES,
  MapHealth,
  driftObservation,
  profileAt,
} from '../unit/update-requests-fixture.ts';

const MODEL = 'pump';
const T0 = Date.UTC(2026, 0, 1);
const DEVICES = ['d1', 'd2', 'd3', 'd4'];

async function pushVersion(
  registry: Registry,
  key: SigningKeyPair,
  version: string,
  reference: ReferenceProfile,
): Promise<void> {
  const bundle = await signGoldenBundle(key, {
    name: MODEL,
    version,
    model: tinyOnnx(),
    goldenRows: [
      [0.1, 0.2, 0.3],
      [1, -1, 0.5],
    ],
    io: softmaxIo(3, 2),
    labels: ['normal', 'imbalance'],
    reference,
    pipeline: { id: 'edgeloop.features.v1', paramsHash: 'ab12cd34ef56ab12' },
  });
  const r = await registry.push(MODEL, archiveOf(bundle), 'ci');
  if (!r.ok) throw new Error(r.message);
}

/** Telemetry windows as the collector ingests them: accel.x.mean around `xMean`. */
function telemetry(deviceId: string, xMean: number, n: number, endMs: number): IncomingMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const features: Record<string, number> = {};
    FEATURES.forEach((f, k) => {
      features[f] = (k === 0 ? xMean : k === 2 ? 1 : 0) + 0.15 * Math.sin((i + 3) * 12.9898 + k * 78.233);
    });
    const tsMs = endMs - (n - i) * 1000;
    return {
      message: {
        kind: 'telemetry',
        deviceId,
        payload: {
          v: 1,
          deviceId,
          runId: 1,
          msgSeq: i + 1,
          tsMs,
          bootId: 1,
          window: { index: i, startUs: 0, endUs: 1 },
          featurePipeline: 'edgeloop.features.v1',
          features,
          prediction: null,
          model: { name: MODEL, version: '1.0.0' },
          integrity: { status: 'good', channels: {}, flags: [] },
          counters: {
            framesDecoded: 0,
            framesInvalid: 0,
            samples: 0,
            gaps: 0,
            samplesMissing: 0,
            windows: 0,
          },
        },
      },
      receivedMs: tsMs,
    } as unknown as IncomingMessage;
  });
}

interface Bench {
  readonly dir: string;
  readonly registry: Registry;
  readonly store: TelemetryStore;
  readonly clock: ManualClock;
  readonly retraining: FakeRetraining;
  readonly published: string[];
  open(autoRollout: boolean): { db: SqliteDatabase; requests: UpdateRequests; rollouts: RolloutController };
}

async function bench(
  t: TestContext,
  versions: { version: string; xMean: number; alias?: 'staging' | 'canary' | 'production' }[],
): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-update-requests-'));
  const key = generateSigningKeyPair();
  const registry = openRegistry({
    dataDir: join(dir, 'registry'),
    trustedKeys: [key.publicKeyPem],
    loadModel: (bytes) => loadOnnxSession(bytes),
  });
  const store = openSqliteTelemetryStore(join(dir, 'telemetry.sqlite'));
  t.after(() => {
    store.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const v of versions) {
    await pushVersion(registry, key, v.version, profileAt(v.xMean));
    if (v.alias !== undefined) {
      const m = registry.moveAlias({
        model: MODEL,
        alias: v.alias,
        version: v.version,
        reason: 'test',
        actor: 'ci',
      });
      if (!m.ok) throw new Error(m.message);
    }
  }
  // d1 and d2 drifted (accel.x.mean at 0.5); d3 and d4 did not.
  for (const d of DEVICES) store.writeBatch(telemetry(d, d === 'd1' || d === 'd2' ? 0.5 : 0, 300, T0));
  const clock = new ManualClock(T0);
  const retraining = new FakeRetraining();
  const published: string[] = [];
  return {
    dir,
    registry,
    store,
    clock,
    retraining,
    published,
    open(autoRollout) {
      const db = openSqliteDatabase(join(dir, 'loop.sqlite'));
      const logger = new MemoryLogger();
      const references = registryReferences(registry, { nowMs: () => clock.nowMs() });
      const rollouts = createRolloutController({
        db,
        registry,
        store,
        publish(topic) {
          published.push(topic);
          return Promise.resolve();
        },
        bundleUrl: (m, v) => `http://127.0.0.1:1/api/v1/models/${m}/versions/${v}/bundle`,
        reference: (m) => references.reference(m),
        clock,
        logger,
      });
      const requests = createUpdateRequests({
        db,
        store,
        registry,
        references,
        channelHealth: new MapHealth(),
        rollouts,
        retraining,
        clock,
        logger,
        policy: { autoRollout, cooldownS: 1800, fitWindowS: 600, fitMargin: 0.2, captureS: 3600 },
      });
      t.after(() => {
        requests.close();
        rollouts.close();
        db.close();
      });
      return { db, requests, rollouts };
    },
  };
}

const drift = (deviceId: string) =>
  driftObservation({ deviceId, model: { name: MODEL, version: '1.0.0' }, windowToMs: T0 });

test('a newer approved version whose reference fits the drifted devices is proposed, approved and rolled out by the controller', async (t) => {
  const b = await bench(t, [
    { version: '1.0.0', xMean: 0, alias: 'production' },
    { version: '1.1.0', xMean: 0.5, alias: 'staging' },
    { version: '1.2.0', xMean: 0.5 }, // fits too, never approved
  ]);
  const { requests, rollouts } = b.open(false);
  const out = requests.handle([drift('d1'), drift('d2')], T0);
  const r = requests.get('ur-1');
  assert.ok(r);
  assert.equal(r.state, 'rollout_proposed');
  assert.equal(r.decision?.toVersion, '1.1.0');
  assert.deepEqual(
    r.decision.candidates.map((c) => c.version),
    ['1.1.0'],
  );
  const cur = r.decision.current;
  assert.deepEqual(
    cur.devices.map((d) => [d.deviceId, d.windows]),
    [
      ['d1', 300],
      ['d2', 300],
    ],
  );
  assert.ok(cur.distance !== null && (r.decision.candidates[0]?.distance ?? Infinity) < cur.distance * 0.8);
  assert.equal(out[0]?.kind, 'model_update');
  assert.equal(rollouts.list().length, 0);

  // HTTP: list, get, approve through the authorize hook.
  const app = createHttpApp();
  await app.register(updateRequestRoutes, {
    requests,
    authorize: (req, reply) => {
      if (req.headers.authorization === 'Bearer ok') return 'operator';
      void sendError(reply, 401, 'EDGELOOP_ERR_REGISTRY_UNAUTHORIZED', 'no token');
      return undefined;
    },
  });
  t.after(() => app.close());
  const list = await app.inject({
    method: 'GET',
    url: '/api/v1/update-requests?state=rollout_proposed&model=pump',
  });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(
    list.json<{ updateRequests: { id: string }[] }>().updateRequests.map((x) => x.id),
    ['ur-1'],
  );
  const bad = await app.inject({ method: 'GET', url: '/api/v1/update-requests?status=open' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  const badState = await app.inject({ method: 'GET', url: '/api/v1/update-requests?state=opne' });
  assert.equal(badState.statusCode, 400);
  const missing = await app.inject({ method: 'GET', url: '/api/v1/update-requests/ur-9' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  const refused = await app.inject({ method: 'POST', url: '/api/v1/update-requests/ur-1/approve' });
  assert.equal(refused.statusCode, 401);
  assert.equal(requests.get('ur-1')?.state, 'rollout_proposed');
  const approved = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-1/approve',
    headers: { authorization: 'Bearer ok' },
  });
  assert.equal(approved.statusCode, 200, approved.body);
  const view = approved.json<{ updateRequest: { state: string; rolloutId: string } }>().updateRequest;
  assert.equal(view.state, 'rolling_out');

  // The real controller: canary = the request's devices, then the rest of the model's fleet; canary alias moved.
  const ro = rollouts.get(view.rolloutId);
  assert.ok(ro);
  assert.equal(ro.toVersion, '1.1.0');
  assert.equal(ro.plan.updateRequestId, 'ur-1');
  assert.deepEqual(ro.phases[0]?.devices, ['d1', 'd2']);
  assert.deepEqual([...ro.plan.devices].sort(), DEVICES);
  const canary = b.registry.listAliases(MODEL);
  assert.ok(canary.ok);
  assert.equal(canary.value.find((a) => a.alias === 'canary')?.version, '1.1.0');
  const again = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-1/approve',
    headers: { authorization: 'Bearer ok' },
  });
  assert.equal(again.statusCode, 409);
  assert.equal(again.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_UPDATE_STATE');

  // The operator aborts the rollout: the request says so once the controller reports the end.
  const aborted = rollouts.abort(view.rolloutId, 'operator', 'wrong version');
  assert.ok(aborted.ok, aborted.ok ? '' : aborted.message);
  for (let i = 0; i < 20 && requests.get('ur-1')?.state === 'rolling_out'; i++) {
    b.clock.advance(60_000);
    rollouts.tick(b.clock.nowMs());
    requests.handle([], b.clock.nowMs());
  }
  const ended = requests.get('ur-1');
  assert.equal(ended?.state, 'rollout_failed', JSON.stringify(rollouts.get(view.rolloutId)?.state));
  assert.match(ended.outcome ?? '', /aborted|rolled back/);
  const prod = b.registry.listAliases(MODEL);
  assert.ok(prod.ok);
  assert.equal(prod.value.find((a) => a.alias === 'production')?.version, '1.0.0');
});

test('no approved version fits better: retraining over the drifted devices; dismissed over HTTP; a restart keeps it all', async (t) => {
  const b = await bench(t, [
    { version: '1.0.0', xMean: 0, alias: 'production' },
    { version: '1.1.0', xMean: -0.5, alias: 'canary' }, // approved, fits worse
  ]);
  const first = b.open(true);
  first.requests.handle([drift('d1')], T0);
  const r = first.requests.get('ur-1');
  assert.equal(r?.state, 'retraining');
  assert.deepEqual(
    r.decision?.candidates.map((c) => c.version),
    ['1.1.0'],
  );
  assert.equal(b.retraining.opened[0]?.input.devices.join(), 'd1');
  first.requests.handle([drift('d2')], T0 + 10_000);
  assert.deepEqual(
    first.requests.get('ur-1')?.devices.map((d) => d.deviceId),
    ['d1', 'd2'],
  );
  first.requests.close();
  first.rollouts.close();
  first.db.close();

  // A restart: the request is read back; the job refused meanwhile.
  b.retraining.end(
    'tj-1',
    { state: 'refused', reasons: ['candidate macro-F1 0.62 < production 0.80'] },
    true,
  );
  const second = b.open(true);
  assert.equal(second.requests.get('ur-1')?.state, 'retraining');
  const out = second.requests.handle([], T0 + 20_000);
  assert.equal(second.requests.get('ur-1')?.state, 'candidate_refused');
  assert.match(second.requests.get('ur-1')?.outcome ?? '', /macro-F1 0\.62/);
  assert.equal(out[0]?.active, false);

  second.requests.handle([drift('d3')], T0 + 30_000);
  const app = createHttpApp();
  await app.register(updateRequestRoutes, { requests: second.requests, authorize: () => 'operator' });
  t.after(() => app.close());
  const noReason = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-2/dismiss',
    payload: {},
  });
  assert.equal(noReason.statusCode, 400);
  const dismissed = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-2/dismiss',
    payload: { reason: 'recalibrated d3 on site' },
  });
  assert.equal(dismissed.statusCode, 200, dismissed.body);
  const got = await app.inject({ method: 'GET', url: '/api/v1/update-requests/ur-2' });
  const v = got.json<{ updateRequest: { state: string; history: { actor: string; note: string }[] } }>()
    .updateRequest;
  assert.equal(v.state, 'dismissed');
  assert.deepEqual(v.history.at(-1), {
    ...v.history.at(-1),
    actor: 'operator',
    note: 'recalibrated d3 on site',
  });
  const ended = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-1/dismiss',
    payload: { reason: 'x' },
  });
  assert.equal(ended.statusCode, 409);
  const unknown = await app.inject({
    method: 'POST',
    url: '/api/v1/update-requests/ur-7/dismiss',
    payload: { reason: 'x' },
  });
  assert.equal(unknown.statusCode, 404);
});
