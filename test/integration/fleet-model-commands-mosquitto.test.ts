// `edgeloop sim --fleet` (the CLI, flags and all) answering model commands through the system Mosquitto
// on 127.0.0.1:1883, with unique device ids: injected failures and rollbacks land exactly on the devices
// the seed picks (FAILED with the stated code after VERIFYING; ROLLED_BACK after HEALTH_CHECK with the old
// model active again), the others commit and then run the new bundle on every computed window, the
// --silent device never answers, and the summary counts the outcomes.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { simCommand } from '../../firmware-sim/cli.ts';
import { fleetDeviceIds } from '../../firmware-sim/fleet.ts';
import type { SignedBundle } from '../../shared/bundle/build.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { deriveSeed, uniform } from '../../shared/random.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { archiveOf, digestOf, makeModelBundle } from './agent-model-fixture.ts';
import { systemMosquitto, type Broker } from './agent-mqtt-fixture.ts';
import { Observer, startBundleServer, TERMINAL, type BundleServer } from './fleet-model-commands-fixture.ts';

const N = 20;
const NAME = 'pump-condition';
const RATE = 0.3;
const DEPLOY = 100;

type Outcome = 'FAILED' | 'ROLLED_BACK' | 'COMMITTED';

/** What the seed decides for one device (fleet-updates.ts draws failure, then rollback, first). */
function expected(seed: number, id: string): Outcome {
  const u = uniform(deriveSeed(seed, 'fleet-update', id, DEPLOY));
  if (u() < RATE) return 'FAILED';
  return u() < RATE ? 'ROLLED_BACK' : 'COMMITTED';
}

describe('sim --fleet CLI answers model commands with injected failures (Mosquitto 1883)', async () => {
  const broker: Broker | undefined = await systemMosquitto();
  let server: BundleServer;
  let obs: Observer;
  let dir: string;
  let v2: SignedBundle;
  let v2Archive: Uint8Array;
  const prefix = `fmc-${process.pid}-${Math.random().toString(16).slice(2, 8)}-`;
  const ids = fleetDeviceIds(N, prefix);
  const silent = ids[N - 1] as string;
  const answering = ids.slice(0, N - 1);
  // A seed under which all three outcomes occur among these ids, so every branch is checked.
  let seed = 1;
  while (new Set(answering.map((id) => expected(seed, id))).size < 3) seed++;
  const abort = new AbortController();
  let err = '';
  let run: Promise<number>;

  before(async () => {
    if (broker === undefined) return;
    server = await startBundleServer();
    dir = mkdtempSync(join(tmpdir(), 'fmc-mosq-'));
    const key = generateSigningKeyPair();
    const v1 = await makeModelBundle(key, { name: NAME, version: '1.0.0', seed: 7 });
    v2 = await makeModelBundle(key, { name: NAME, version: '2.0.0', seed: 8 });
    v2Archive = archiveOf(v2);
    server.set('/v2.tar', v2Archive);
    writeFileSync(join(dir, 'v1.tar'), archiveOf(v1));
    writeFileSync(join(dir, 'key.pub'), key.publicKeyPem);
    // Only these devices' topics: other tests share this broker.
    const topics = ids.flatMap((id) =>
      (['modelState', 'telemetry'] as const).map((k) => {
        const t = buildTopic(k, id);
        assert.ok(t.ok);
        return t.value;
      }),
    );
    obs = await Observer.start(broker.url, topics);
    const stderr = new PassThrough();
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    run = simCommand.run(
      [
        '--fleet',
        String(N),
        '--prefix',
        prefix,
        '--mqtt',
        broker.url,
        '--model',
        join(dir, 'v1.tar'),
        '--trusted-key',
        join(dir, 'key.pub'),
        '--seed',
        String(seed),
        '--inject-failure-rate',
        String(RATE),
        '--inject-rollback-rate',
        String(RATE),
        '--inject-failure-code',
        'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
        '--state-latency',
        '20',
        '--state-latency-jitter',
        '0.5',
        '--silent',
        String(N),
        '--max-downloads',
        '3',
        '--duration',
        '600',
        '--speed',
        '1',
      ],
      { stdout: new PassThrough(), stderr, env: {}, signal: abort.signal },
    );
    await waitFor(
      () => `every device connected (stderr: ${err})`,
      () => /^sim: device=/m.test(err),
      { timeoutMs: 30_000 },
    );
  });

  after(async () => {
    if (broker === undefined) return;
    abort.abort();
    await run;
    // Leave no retained messages of these one-off devices on the shared broker.
    for (const id of ids)
      for (const kind of ['modelState', 'status'] as const) {
        const t = buildTopic(kind, id);
        if (t.ok) await obs.client.publishAsync(t.value, '', { qos: 1, retain: true });
      }
    await obs.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each device ends as the seed decides; committed devices run v2; the silent one never answers', async (t) => {
    // Skipped only off CI: .ci/run starts Mosquitto, and a CI run without it fails here.
    if (
      !requireTool(
        t,
        broker !== undefined,
        'Mosquitto on 127.0.0.1:1883',
        'mosquitto -d -c /etc/mosquitto/mosquitto.conf',
      ) ||
      broker === undefined
    )
      return;
    for (const id of answering)
      await obs.install(id, {
        deploySeq: DEPLOY,
        name: NAME,
        version: '2.0.0',
        url: `${server.url}/v2.tar`,
        digest: digestOf(v2Archive),
      });
    await obs.install(silent, {
      deploySeq: DEPLOY,
      name: NAME,
      version: '2.0.0',
      url: `${server.url}/v2.tar`,
      digest: digestOf(v2Archive),
    });
    await waitFor(
      () =>
        `every answer (have ${answering.filter((id) => TERMINAL.has(obs.last(id, DEPLOY)?.state ?? '')).length})`,
      () => answering.every((id) => TERMINAL.has(obs.last(id, DEPLOY)?.state ?? '')),
      { timeoutMs: 60_000 },
    );
    const v1 = { name: NAME, version: '1.0.0' };
    const counts = { FAILED: 0, ROLLED_BACK: 0, COMMITTED: 0 };
    for (const id of answering) {
      const want = expected(seed, id);
      counts[want]++;
      const states = obs.states(id).filter((s) => s.deploySeq === DEPLOY);
      const end = states.at(-1);
      assert.equal(end?.state, want, `${id}: ${states.map((s) => s.state).join(' ')}`);
      if (want === 'FAILED') {
        assert.deepEqual(
          states.map((s) => s.state),
          ['DOWNLOADING', 'VERIFYING', 'FAILED'],
        );
        assert.equal(end.code, 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH');
        assert.match(end.reason, /injected/);
        assert.deepEqual(end.active, v1);
      } else if (want === 'ROLLED_BACK') {
        assert.deepEqual(
          states.map((s) => s.state),
          ['DOWNLOADING', 'VERIFYING', 'STAGED', 'ACTIVATING', 'HEALTH_CHECK', 'ROLLED_BACK'],
        );
        assert.equal(end.code, 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS');
        assert.deepEqual(end.active, v1);
      } else {
        assert.deepEqual(end.active, { name: NAME, version: '2.0.0' });
        assert.equal(end.code, null);
      }
    }
    t.diagnostic(`seed ${seed}: ${JSON.stringify(counts)}`);
    assert.ok(counts.FAILED > 0 && counts.ROLLED_BACK > 0 && counts.COMMITTED > 0);
    assert.deepEqual(obs.states(silent), []);

    // A committed device's computed windows are predicted by v2 (no replay: the board runs).
    const committed = answering.find((id) => expected(seed, id) === 'COMMITTED') as string;
    const seq = obs.last(committed, DEPLOY)?.msgSeq ?? 0;
    const tele = () =>
      obs.got.flatMap((g) =>
        g.message.kind === 'telemetry' && g.message.deviceId === committed && g.message.payload.msgSeq > seq
          ? [g.message.payload]
          : [],
      );
    await waitFor('v2 telemetry', () => tele().length >= 2, { timeoutMs: 20_000 });
    for (const p of tele()) {
      assert.deepEqual(p.model, { name: NAME, version: '2.0.0' });
      assert.ok(p.prediction !== null);
    }

    abort.abort();
    assert.equal(await run, 0, err);
    assert.match(
      err,
      new RegExp(
        `model commands: ${counts.COMMITTED} committed, ${counts.ROLLED_BACK} rolled back, ${counts.FAILED} failed`,
      ),
    );
  });
});
