// `edgeloop sim --fleet` against a broker that checks per-device passwords (--mqtt-credentials), and the
// last will of a simulated device (docs/firmware-sim.md §Fleet mode).

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import { connect } from 'mqtt';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { FleetDevice } from '../../firmware-sim/fleet-device.ts';
import { createFeaturePipeline } from '../../shared/features/pipeline.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import { fleetFilter } from '../../shared/mqtt/topics.ts';
import { waitFor } from '../helpers/wait.ts';

describe('sim --fleet credentials and last will (aedes)', () => {
  const passwords = new Map([
    ['auth-01', 'pw-one'],
    ['auth-02', 'pw-two'],
  ]);
  const logins: string[] = [];
  let broker: Aedes;
  let server: Server;
  let url: string;
  let dir: string;
  const sockets = new Set<Socket>();
  before(async () => {
    broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        const ok = username !== undefined && passwords.get(username) === password?.toString();
        if (ok) logins.push(`${client.id}/${username}`);
        done(null, ok);
      },
    });
    server = createServer((s) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      broker.handle(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    dir = mkdtempSync(join(tmpdir(), 'sim-fleet-auth-'));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) =>
      server.close(() => {
        r();
      }),
    );
    await new Promise<void>((r) => {
      broker.close(() => {
        r();
      });
    });
    rmSync(dir, { recursive: true, force: true });
  });

  function io(): { io: Parameters<typeof simCommand.run>[1]; text: () => string } {
    const err: Buffer[] = [];
    const stderr = new PassThrough();
    stderr.on('data', (b: Buffer) => err.push(b));
    return {
      io: { stdout: new PassThrough(), stderr, env: {}, signal: new AbortController().signal },
      text: () => Buffer.concat(err).toString(),
    };
  }

  it('logs each device in with its own password from --mqtt-credentials', async () => {
    const file = join(dir, 'creds.txt');
    writeFileSync(file, '# device passwords\nauth-01:pw-one\nauth-02:pw-two\n');
    const c = io();
    const argv = ['--fleet', '2', '--prefix', 'auth-', '--mqtt', url, '--speed', 'max', '--duration', '1'];
    assert.equal(await simCommand.run([...argv, '--mqtt-credentials', file], c.io), 0, c.text());
    assert.deepEqual(logins.sort(), ['auth-01/auth-01', 'auth-02/auth-02']);
    assert.match(c.text(), /2 devices, .* 0 errors/);

    // The collector's credentials file works as is.
    const json = join(dir, 'collector-creds.json');
    writeFileSync(json, JSON.stringify({ devices: Object.fromEntries(passwords), collector: {} }));
    const c2 = io();
    assert.equal(await simCommand.run([...argv, '--mqtt-credentials', json], c2.io), 0, c2.text());

    writeFileSync(file, 'auth-01:pw-one\nauth-02:wrong\n');
    const bad = io();
    assert.equal(await simCommand.run([...argv, '--mqtt-credentials', file], bad.io), 2);
    assert.match(bad.text(), /EDGELOOP_ERR_MQTT_CONNECT/);

    writeFileSync(file, 'auth-01:pw-one\n');
    const missing = io();
    assert.equal(await simCommand.run([...argv, '--mqtt-credentials', file], missing.io), 2);
    assert.match(missing.text(), /no password for auth-02/);
  });

  it('arms a retained last will that the broker publishes when the device vanishes', async () => {
    const sc = loadScenario('steady');
    assert.ok(sc.ok);
    const device = new FleetDevice({
      deviceId: 'auth-01',
      scenario: sc.value,
      seed: 1,
      runId: 42,
      pipeline: createFeaturePipeline(),
      nowMs: () => Date.now(),
    });
    const will = device.will();
    const got: string[] = [];
    const sub = connect(url, { clientId: 'will-watch', username: 'auth-02', password: 'pw-two' });
    sub.on('message', (topic, payload, packet) => {
      const r = decodeMessage(topic, payload);
      if (r.ok && r.value.kind === 'status')
        got.push(
          `${r.value.deviceId} ${r.value.payload.state} ${r.value.payload.reason} ${r.value.payload.msgSeq} ${packet.retain}`,
        );
    });
    await new Promise<void>((r) =>
      sub.once('connect', () => {
        r();
      }),
    );
    await sub.subscribeAsync(fleetFilter('status'), { qos: 1 });
    const dev = connect(url, {
      clientId: 'auth-01',
      username: 'auth-01',
      password: 'pw-one',
      reconnectPeriod: 0,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
    });
    await new Promise<void>((r) =>
      dev.once('connect', () => {
        r();
      }),
    );
    dev.stream.destroy(); // vanish without DISCONNECT
    await waitFor('the last will', () => got.some((g) => g.startsWith('auth-01 offline lwt 0')));
    await sub.endAsync();
    dev.end(true);
  });
});
