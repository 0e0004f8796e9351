// Security options of the MQTT link (issue #4 §2 "Security"): server TLS with a private CA, mutual TLS, and
// username/password, each against a Mosquitto of our own with certificates made by openssl for the test.
// Wrong credentials or an unknown CA are EDGELOOP_ERR_MQTT_CONNECT events (the link keeps retrying), a
// missing TLS file is a config error before anything connects.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMqttLink, type MqttLinkEvent, type MqttLinkOptions } from '../../agent/adapters/mqtt.ts';
import { startMosquitto } from './agent-mqtt-fixture.ts';

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate with CN = device id (EC P-256). */
function makePki(dir: string, deviceId: string): void {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=edgeloop-test-ca',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${deviceId}`);
  ssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
  );
  // A second CA the broker does not trust, for the "unknown CA" case.
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'other.key',
    '-out',
    'other.crt',
    '-days',
    '2',
    '-subj',
    '/CN=other-ca',
  );
  // Mosquitto started as root drops to user "mosquitto" and must still read its key.
  for (const f of ['ca.crt', 'server.crt', 'server.key']) chmodSync(join(dir, f), 0o644);
}

/** Connects and reports the first outcome: connected, or the connectFailed code. */
async function firstOutcome(options: MqttLinkOptions): Promise<string> {
  const link = createMqttLink({ reconnectPeriodMs: 200, connectTimeoutMs: 3000, ...options });
  try {
    const outcome = new Promise<string>((resolve) => {
      link.onEvent((e: MqttLinkEvent) => {
        if (e.kind === 'connected') resolve('connected');
        if (e.kind === 'connectFailed') resolve(e.code);
      });
    });
    link.start();
    const r = await outcome;
    if (r === 'connected') {
      const p = await link.publish({
        topic: `edgeloop/v1/devices/${options.clientId}/telemetry`,
        payload: new Uint8Array([123, 125]),
        qos: 1,
        retain: false,
      });
      return p.ok ? 'published' : p.code;
    }
    return r;
  } finally {
    await link.close({ timeoutMs: 1000 });
  }
}

const skipWhy =
  !hasTool('mosquitto') || !hasTool('openssl') ? 'needs mosquitto and openssl on PATH' : undefined;

test(
  'mutual TLS: a client certificate signed by the broker CA connects and publishes; none or a foreign CA does not',
  { skip: skipWhy },
  async (t) => {
    const device = 'tls-dev';
    const broker = await startMosquitto({
      listener: (port, dir) => {
        makePki(dir, device);
        return [
          `listener ${port} 127.0.0.1`,
          `cafile ${dir}/ca.crt`,
          `certfile ${dir}/server.crt`,
          `keyfile ${dir}/server.key`,
          'require_certificate true',
          'use_identity_as_username true',
          'allow_anonymous false',
        ];
      },
    });
    t.after(() => broker.close());
    const dir = broker.dir as string;
    const url = `mqtts://127.0.0.1:${broker.port}`;
    assert.equal(
      await firstOutcome({
        url,
        clientId: device,
        tls: { caFile: `${dir}/ca.crt`, certFile: `${dir}/client.crt`, keyFile: `${dir}/client.key` },
      }),
      'published',
    );
    // No client certificate: the broker refuses the handshake.
    assert.equal(
      await firstOutcome({ url, clientId: device, tls: { caFile: `${dir}/ca.crt` } }),
      'EDGELOOP_ERR_MQTT_CONNECT',
    );
    // A broker certificate from a CA we do not trust: we refuse it.
    assert.equal(
      await firstOutcome({
        url,
        clientId: device,
        tls: { caFile: `${dir}/other.crt`, certFile: `${dir}/client.crt`, keyFile: `${dir}/client.key` },
      }),
      'EDGELOOP_ERR_MQTT_CONNECT',
    );
  },
);

test(
  'TLS with username/password: right credentials publish, wrong ones are refused',
  { skip: skipWhy },
  async (t) => {
    const broker = await startMosquitto({
      listener: (port, dir) => {
        makePki(dir, 'pw-dev');
        execFileSync('mosquitto_passwd', ['-b', '-c', `${dir}/passwd`, 'pw-dev', 's3cret'], {
          stdio: 'ignore',
        });
        chmodSync(`${dir}/passwd`, 0o644);
        return [
          `listener ${port} 127.0.0.1`,
          `cafile ${dir}/ca.crt`,
          `certfile ${dir}/server.crt`,
          `keyfile ${dir}/server.key`,
          `password_file ${dir}/passwd`,
          'allow_anonymous false',
        ];
      },
    });
    t.after(() => broker.close());
    const dir = broker.dir as string;
    const base = {
      url: `mqtts://127.0.0.1:${broker.port}`,
      clientId: 'pw-dev',
      tls: { caFile: `${dir}/ca.crt` },
    };
    assert.equal(await firstOutcome({ ...base, username: 'pw-dev', password: 's3cret' }), 'published');
    assert.equal(
      await firstOutcome({ ...base, username: 'pw-dev', password: 'wrong' }),
      'EDGELOOP_ERR_MQTT_CONNECT',
    );
    assert.equal(await firstOutcome(base), 'EDGELOOP_ERR_MQTT_CONNECT');
  },
);

test('a missing TLS file, or a certificate without its key, is a config error at construction', () => {
  assert.throws(
    () =>
      createMqttLink({ url: 'mqtts://127.0.0.1:1', clientId: 'd', tls: { caFile: '/nonexistent/ca.crt' } }),
    (e: Error & { code?: string }) => e.code === 'EDGELOOP_ERR_CONFIG_INVALID' && /ca\.crt/.test(e.message),
  );
  assert.throws(
    () => createMqttLink({ url: 'mqtts://127.0.0.1:1', clientId: 'd', tls: { certFile: '/x.crt' } }),
    (e: Error & { code?: string }) => e.code === 'EDGELOOP_ERR_CONFIG_INVALID',
  );
});

test('an unreachable broker is a connectFailed event with a growing, jittered delay, never a spin', async () => {
  const link = createMqttLink({
    url: 'mqtt://127.0.0.1:1',
    clientId: 'nobody',
    reconnectPeriodMs: 50,
    reconnectMaxMs: 400,
    random: () => 0.999,
  });
  const delays: number[] = [];
  const done = new Promise<void>((resolve) => {
    link.onEvent((e) => {
      if (e.kind === 'connectFailed') delays.push(e.retryInMs);
      if (delays.length >= 5) resolve();
    });
  });
  // The link's reconnect timer is unref'd (it must not keep an agent alive); keep this test alive instead.
  const keepAlive = setInterval(() => undefined, 1000);
  link.start();
  await done;
  clearInterval(keepAlive);
  await link.close();
  assert.deepEqual(delays, [50, 99, 199, 399, 399], 'doubling ceilings, capped; floor 50 ms');
  assert.equal(link.connected, false);
  const r = await link.publish({ topic: 't', payload: new Uint8Array(1), qos: 1, retain: false });
  assert.ok(!r.ok);
  assert.equal(r.code, 'EDGELOOP_ERR_MQTT_PUBLISH');
});
