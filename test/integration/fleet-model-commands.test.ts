// Fleet devices answer model commands as an agent does (docs/firmware-sim.md §Model commands), against the
// embedded aedes broker and a real HTTP server serving real signed bundles: 49 of 50 devices commit a new
// version through every state (retained, schema-valid, in order) and then report it in telemetry (predicted
// by the new bundle) and status; the silent device never answers; a replay is refused as a downgrade and
// fetches nothing; a rollback returns to the previous model; a bundle signed by an unpinned key fails and
// the old model keeps serving; an unreachable server is retried (reported) and the install commits once
// it is back; a command for the model already serving commits at once.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { getBundle } from '../../firmware-sim/adapters/download.ts';
import { connectFleetDevice } from '../../firmware-sim/adapters/mqtt.ts';
import { stageFleetBundle } from '../../firmware-sim/adapters/fleet-bundle.ts';
import { fleetDeviceIds, runFleet, type FleetSummary } from '../../firmware-sim/fleet.ts';
import { FleetModelCache } from '../../firmware-sim/fleet-models.ts';
import { updateDefaults } from '../../firmware-sim/fleet-updates.ts';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import { generateSigningKeyPair, trustedKeySet } from '../../shared/bundle/signing.ts';
import type { Result } from '../../shared/errors.ts';
import { fleetFilter } from '../../shared/mqtt/topics.ts';
import { waitFor } from '../helpers/wait.ts';
import { archiveOf, digestOf, makeModelBundle } from './agent-model-fixture.ts';
import { startAedes, type Broker } from './agent-mqtt-fixture.ts';
import { Observer, startBundleServer, TERMINAL, type BundleServer } from './fleet-model-commands-fixture.ts';

const N = 50;
const NAME = 'pump-condition';
const FULL = ['DOWNLOADING', 'VERIFYING', 'STAGED', 'ACTIVATING', 'HEALTH_CHECK', 'COMMITTED'];

describe('sim --fleet answers model commands (aedes, 50 devices)', () => {
  let broker: Broker;
  let server: BundleServer;
  let obs: Observer;
  let bundles: Record<'v1' | 'v2' | 'rogue', SignedBundle>;
  let archives: Record<'v1' | 'v2' | 'rogue', Uint8Array>;
  let models: FleetModelCache;
  const abort = new AbortController();
  let run: Promise<Result<FleetSummary>>;
  const ids = fleetDeviceIds(N, 'fmc-');
  const silent = ids[N - 1] as string;
  const answering = ids.slice(0, N - 1);

  const url = (v: 'v1' | 'v2' | 'rogue'): string => `${server.url}/${v}.tar`;
  const cmd = (v: 'v1' | 'v2' | 'rogue', deploySeq: number, digest?: string) => ({
    deploySeq,
    name: NAME,
    version: bundles[v].manifest.version,
    url: url(v),
    digest: digest ?? digestOf(archives[v]),
  });
  const telemetryOf = (id: string) =>
    obs.got.flatMap((g) =>
      g.message.kind === 'telemetry' && g.message.deviceId === id ? [g.message.payload] : [],
    );

  before(async () => {
    broker = await startAedes();
    server = await startBundleServer();
    const key = generateSigningKeyPair();
    const rogueKey = generateSigningKeyPair();
    bundles = {
      v1: await makeModelBundle(key, { name: NAME, version: '1.0.0', seed: 7 }),
      v2: await makeModelBundle(key, { name: NAME, version: '2.0.0', seed: 8 }),
      rogue: await makeModelBundle(rogueKey, { name: NAME, version: '3.0.0', seed: 9 }),
    };
    archives = { v1: archiveOf(bundles.v1), v2: archiveOf(bundles.v2), rogue: archiveOf(bundles.rogue) };
    for (const v of ['v1', 'v2', 'rogue'] as const) server.set(`/${v}.tar`, archives[v]);
    const keys = trustedKeySet([key.publicKeyPem]);
    const initial = await stageFleetBundle(bundles.v1.contents, keys);
    assert.ok(initial.ok, initial.ok ? '' : initial.message);
    models = new FleetModelCache((c) => stageFleetBundle(c, keys));
    obs = await Observer.start(broker.url, [
      fleetFilter('modelState'),
      fleetFilter('telemetry'),
      fleetFilter('status'),
    ]);
    const scenario = loadScenario('steady');
    assert.ok(scenario.ok);
    run = runFleet({
      devices: N,
      prefix: 'fmc-',
      scenarioOf: () => scenario.value,
      seed: 5,
      speed: 1,
      durationS: 600,
      replayWindows: 2, // cheap windows: this test is about commands, not the board
      model: initial.value,
      updates: {
        config: { ...updateDefaults, trustedKeys: keys, seed: 5, retryBaseMs: 50, retryCapMs: 200 },
        models,
        get: getBundle,
        silent: new Set([silent]),
        maxDownloads: 4,
      },
      connect: (deviceId, will) => connectFleetDevice({ url: broker.url, clientId: deviceId, will }),
      nowMs: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      signal: abort.signal,
    });
    // Connected and subscribed once every device's online status arrived.
    await waitFor(
      () => `${N} online statuses`,
      () =>
        new Set(obs.got.flatMap((g) => (g.message.kind === 'status' ? [g.message.deviceId] : []))).size === N,
      { timeoutMs: 30_000 },
    );
  });

  after(async () => {
    abort.abort();
    const r = await run;
    assert.ok(r.ok);
    await obs.close();
    await models.close();
    await server.close();
    await broker.close();
  });

  it('49 devices commit v2 through every state, retained; telemetry and status then name v2', async () => {
    for (const id of answering) await obs.install(id, cmd('v2', 10));
    await waitFor(
      () => `49 COMMITTED (have ${answering.filter((id) => obs.last(id, 10)?.state === 'COMMITTED').length})`,
      () => answering.every((id) => TERMINAL.has(obs.last(id, 10)?.state ?? '')),
      { timeoutMs: 60_000 },
    );
    const v2 = { name: NAME, version: '2.0.0' };
    const v1 = { name: NAME, version: '1.0.0' };
    for (const id of answering) {
      const states = obs.states(id).filter((s) => s.deploySeq === 10);
      assert.deepEqual(
        states.map((s) => s.state),
        FULL,
        `${id}: ${states.map((s) => `${s.state} ${s.reason}`).join(' | ')}`,
      );
      assert.deepEqual(states.at(-1)?.active, v2);
      assert.deepEqual(states[0]?.active, v1, 'v1 serves while downloading');
      for (const s of states) assert.deepEqual(s.target, v2);
      // msgSeq grows through the transitions (one stream with the telemetry).
      for (let i = 1; i < states.length; i++)
        assert.ok((states[i]?.msgSeq ?? 0) > (states[i - 1]?.msgSeq ?? 0));
    }
    // Every device downloaded the bundle itself (bounded, but not shared).
    assert.equal(server.requests.filter((p) => p === '/v2.tar').length, answering.length);
    // After COMMITTED: the status says v2 (reason update) and later telemetry is predicted by v2.
    const probe = answering[0] as string;
    const committedSeq = obs.last(probe, 10)?.msgSeq ?? 0;
    await waitFor(
      'v2 telemetry from the probe device',
      () => telemetryOf(probe).some((p) => p.msgSeq > committedSeq && p.model?.version === '2.0.0'),
      { timeoutMs: 15_000 },
    );
    const after = telemetryOf(probe).filter((p) => p.msgSeq > committedSeq);
    for (const p of after) {
      assert.deepEqual(p.model, v2);
      assert.ok(p.prediction !== null);
    }
    // The status goes out on the device's ordered command stream, after COMMITTED is acknowledged, while
    // telemetry has its own stream: it may arrive after the first v2 telemetry, so wait for it.
    const updates = () =>
      obs.got.flatMap((g) =>
        g.message.kind === 'status' && g.message.deviceId === probe && g.message.payload.reason === 'update'
          ? [g.message.payload]
          : [],
      );
    await waitFor('status update from the probe device', () => updates().length > 0, { timeoutMs: 15_000 });
    assert.deepEqual(updates().at(-1)?.model, v2);
    // The retained modelState of a device is its last transition.
    const late = await Observer.start(broker.url, [fleetFilter('modelState')]);
    try {
      await waitFor('retained modelState', () => late.got.some((g) => g.message.deviceId === probe));
      const retained = late.got.find((g) => g.message.deviceId === probe);
      assert.ok(retained?.retained === true && retained.message.kind === 'modelState');
      assert.equal(retained.message.payload.state, 'COMMITTED');
    } finally {
      await late.close();
    }
  });

  it('the silent device never answers and keeps v1', async () => {
    await obs.install(silent, cmd('v2', 10));
    // By the time 49 others answered a later command, the silent one would have too.
    const probe = answering[10] as string;
    await obs.install(probe, cmd('v2', 20)); // already serving: commits at once
    await waitFor('probe answered', () => obs.last(probe, 20)?.state === 'COMMITTED');
    assert.deepEqual(obs.states(silent), []);
    await waitFor('telemetry from the silent device', () => telemetryOf(silent).length > 0, {
      timeoutMs: 15_000,
    });
    assert.ok(telemetryOf(silent).every((p) => p.model?.version === '1.0.0'));
  });

  it('a command for the model already serving commits at once, without a download', async () => {
    const id = answering[11] as string;
    const before = server.requests.length;
    await obs.install(id, cmd('v2', 21));
    await waitFor('answer', () => obs.last(id, 21) !== undefined);
    assert.deepEqual(
      obs
        .states(id)
        .filter((s) => s.deploySeq === 21)
        .map((s) => s.state),
      ['COMMITTED'],
    );
    assert.match(obs.last(id, 21)?.reason ?? '', /already serving/);
    // Also when the command names the manifest digest rather than the archive's.
    const id2 = answering[12] as string;
    await obs.install(id2, cmd('v2', 21, `sha256:${bundles.v2.signature.digest}`));
    await waitFor('answer', () => obs.last(id2, 21) !== undefined);
    assert.equal(obs.last(id2, 21)?.state, 'COMMITTED');
    assert.equal(server.requests.length, before);
  });

  it('a replayed deploySeq is refused as a downgrade and fetches nothing', async () => {
    const id = answering[1] as string;
    const before = server.requests.length;
    await obs.install(id, cmd('v1', 10));
    await waitFor('answer', () => obs.states(id).filter((s) => s.deploySeq === 10).length > FULL.length);
    const s = obs.last(id, 10);
    assert.equal(s?.state, 'FAILED');
    assert.equal(s.code, 'EDGELOOP_ERR_MODEL_DOWNGRADE');
    assert.deepEqual(s.active, { name: NAME, version: '2.0.0' });
    assert.equal(server.requests.length, before);
  });

  it('a rollback command returns to the previous model', async () => {
    const id = answering[2] as string;
    await obs.rollback(id, 30, 'canary regression (test)');
    await waitFor('rolled back', () => TERMINAL.has(obs.last(id, 30)?.state ?? ''));
    const states = obs.states(id).filter((s) => s.deploySeq === 30);
    assert.deepEqual(
      states.map((s) => s.state),
      ['ACTIVATING', 'ROLLED_BACK'],
    );
    assert.deepEqual(states.at(-1)?.active, { name: NAME, version: '1.0.0' });
    const seq = states.at(-1)?.msgSeq ?? 0;
    await waitFor('v1 telemetry after the rollback', () => telemetryOf(id).some((p) => p.msgSeq > seq), {
      timeoutMs: 15_000,
    });
    assert.ok(
      telemetryOf(id)
        .filter((p) => p.msgSeq > seq)
        .every((p) => p.model?.version === '1.0.0'),
    );
    // No second rollback: the last known good model was used.
    await obs.rollback(id, 31, 'again');
    await waitFor('answer', () => obs.last(id, 31) !== undefined);
    assert.equal(obs.last(id, 31)?.code, 'EDGELOOP_ERR_MODEL_NO_ROLLBACK_TARGET');
  });

  it('a bundle signed by an unpinned key fails; the old model keeps serving', async () => {
    const id = answering[3] as string;
    await obs.install(id, cmd('rogue', 40));
    await waitFor('answer', () => TERMINAL.has(obs.last(id, 40)?.state ?? ''));
    const states = obs.states(id).filter((s) => s.deploySeq === 40);
    assert.deepEqual(
      states.map((s) => s.state),
      ['DOWNLOADING', 'VERIFYING', 'FAILED'],
    );
    const end = states.at(-1);
    assert.equal(end?.code, 'EDGELOOP_ERR_BUNDLE_UNTRUSTED_KEY');
    assert.deepEqual(end.active, { name: NAME, version: '2.0.0' });
    assert.match(end.reason, /2\.0\.0 keeps serving/);
    const seq = end.msgSeq;
    await waitFor('telemetry after the refusal', () => telemetryOf(id).some((p) => p.msgSeq > seq), {
      timeoutMs: 15_000,
    });
    assert.ok(
      telemetryOf(id)
        .filter((p) => p.msgSeq > seq)
        .every((p) => p.model?.version === '2.0.0'),
    );
    // A digest that names neither the archive nor the manifest is refused too.
    await obs.install(id, cmd('v1', 41, `sha256:${'0'.repeat(64)}`));
    await waitFor('answer', () => TERMINAL.has(obs.last(id, 41)?.state ?? ''));
    assert.equal(obs.last(id, 41)?.code, 'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH');
  });

  it('an unreachable server is retried and reported; the install commits once it is back', async () => {
    const id = answering[4] as string;
    server.down = true;
    await obs.install(id, cmd('v1', 50));
    await waitFor(
      'two reported retries',
      () =>
        obs.states(id).filter((s) => s.deploySeq === 50 && s.code === 'EDGELOOP_ERR_REGISTRY_UNREACHABLE')
          .length >= 2,
    );
    server.down = false;
    await waitFor('answer', () => TERMINAL.has(obs.last(id, 50)?.state ?? ''), { timeoutMs: 15_000 });
    const states = obs.states(id).filter((s) => s.deploySeq === 50);
    assert.equal(states.at(-1)?.state, 'COMMITTED');
    assert.deepEqual(states.at(-1)?.active, { name: NAME, version: '1.0.0' });
    const retries = states.filter((s) => s.code === 'EDGELOOP_ERR_REGISTRY_UNREACHABLE');
    for (const r of retries) {
      assert.equal(r.state, 'DOWNLOADING');
      assert.match(r.reason, /retry \d+ in \d+ ms; pump-condition@2\.0\.0 keeps serving/);
    }
  });
});
