// docs/operations.md "Mosquitto with TLS, per-device credentials and an ACL" (issue 11 §3), taken
// literally: a private Mosquitto runs the doc's docs/deploy/mosquitto/edgeloop.conf and edgeloop.acl with
// only the paths and the port changed, a throwaway CA and server certificate made with openssl, and a
// password file made with mosquitto_passwd -b, as the doc says. Then, over mqtts:// with that CA: a device
// publishes its own topics and the collector's user receives them; it cannot write another device's
// topics (not even under that device's client id) nor any model command; model commands reach only their
// device; the ops user reads alerts and writes nothing; a wrong password, an unknown user and no user are
// refused; a plain connection to the TLS port fails. Last, the real collector runs with the command line
// and environment of docs/deploy/edgeloop-collector.service and docs/deploy/collector.example.json and
// stores what a device sends through this broker.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { ingestFilters } from '../../collector/main.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { buildTopic, topicKinds, topicSpecs, type TopicKind } from '../../shared/mqtt/topics.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { freePort } from './agent-mqtt-fixture.ts';
import { encodeTelemetry, telemetry } from './collector-fixture.ts';

const docPath = (p: string): string => fileURLToPath(new URL(`../../docs/${p}`, import.meta.url));
const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

const tools: readonly [string, readonly string[]][] = [
  ['mosquitto', ['-h']],
  ['mosquitto_passwd', ['-h']],
  ['openssl', ['version']],
];
const missingTools = tools.filter(([cmd, args]) => !haveCommand(cmd, args)).map(([cmd]) => cmd);
const haveTools = missingTools.length === 0;
const toolsPresent = (t: Parameters<typeof requireTool>[0]): boolean =>
  requireTool(
    t,
    haveTools,
    `the ${missingTools.join(' and ')} command${missingTools.length > 1 ? 's' : ''}`,
    'apt-get install mosquitto openssl',
  );

/** The users of the doc's ACL, and one password each (mosquitto_passwd -b). */
const PASSWORDS = {
  'edgeloop-collector': 'collector-secret-0123456789',
  'pump-07': 'pump-07-secret-0123456789',
  'pump-08': 'pump-08-secret-0123456789',
  ops: 'ops-secret-0123456789',
} as const;
type User = keyof typeof PASSWORDS;

interface Broker {
  readonly dir: string;
  readonly port: number;
  readonly ca: Buffer;
  readonly caFile: string;
  readonly process: ChildProcess;
  log(): string;
}

let broker: Broker | undefined;
const clients: MqttClient[] = [];

function topic(kind: TopicKind, deviceId: string): string {
  const r = buildTopic(kind, deviceId);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

/** One setting's value in a mosquitto.conf (`name value`), or a failure naming it. */
function setting(conf: string, name: string): string {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(conf);
  assert.ok(m?.[1] !== undefined, `the doc's edgeloop.conf has no ${name} line`);
  return m[1];
}

/** A CA and a server certificate for 127.0.0.1 (EC P-256), where the config expects them. */
function makeCertificates(caFile: string, certFile: string, keyFile: string): void {
  const dir = dirname(certFile);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caKey = join(dir, 'ca.key');
  ssl('req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=edgeloop-test-ca');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', ...ec, '-keyout', keyFile, '-out', join(dir, 'server.csr'), '-subj', '/CN=127.0.0.1');
  ssl(
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '2',
    '-extfile',
    join(dir, 'server.ext'),
  );
}

/**
 * Writes the doc's files into a temp directory (paths and port substituted, nothing else) and starts
 * Mosquitto on a port that was free a moment ago; tries another port if it was taken meanwhile.
 */
async function startBroker(): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-mosq-acl-'));
  // Started as root, Mosquitto drops to user "mosquitto", which must still reach and read these files (the
  // doc makes them mosquitto's own, mode 0600; a test cannot chown).
  chmodSync(dir, 0o755);
  const docConf = readFileSync(docPath('deploy/mosquitto/edgeloop.conf'), 'utf8');
  assert.match(docConf, /^listener 8883$/m);
  const conf = docConf.replaceAll('/etc/mosquitto/', `${dir}/`);
  const [caFile, certFile, keyFile] = ['cafile', 'certfile', 'keyfile'].map((n) => setting(conf, n)) as [
    string,
    string,
    string,
  ];
  const passwordFile = setting(conf, 'password_file');
  const aclFile = setting(conf, 'acl_file');
  for (const f of [caFile, certFile, keyFile, passwordFile, aclFile])
    assert.ok(f.startsWith(`${dir}/`), `${f}: a path the test could not substitute`);
  mkdirSync(dirname(certFile), { recursive: true, mode: 0o755 });
  makeCertificates(caFile, certFile, keyFile);
  let first = true;
  for (const [user, password] of Object.entries(PASSWORDS)) {
    execFileSync('mosquitto_passwd', ['-b', ...(first ? ['-c'] : []), passwordFile, user, password], {
      stdio: 'ignore',
    });
    first = false;
  }
  copyFileSync(docPath('deploy/mosquitto/edgeloop.acl'), aclFile);
  for (const f of [caFile, certFile, keyFile, passwordFile, aclFile]) chmodSync(f, 0o644);

  const confFile = join(dir, 'mosquitto.conf');
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    writeFileSync(confFile, conf.replace(/^listener 8883$/m, `listener ${port}`));
    const child = spawn('mosquitto', ['-c', confFile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (d: Buffer): void => {
      // Startup lines are kept; later connection notices are read and dropped, so the pipes never fill.
      if (log.length < 64 * 1024) log += d.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const state: { exited: boolean } = { exited: false };
    child.once('exit', () => {
      state.exited = true;
    });
    try {
      await waitFor(
        () => `mosquitto to start on port ${port} (it printed: ${log})`,
        () => state.exited || / running$/m.test(log),
      );
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    if (!state.exited) {
      const ca = readFileSync(caFile);
      return { dir, port, ca, caFile, process: child, log: () => log };
    }
    if (!log.includes('Address already in use')) throw new Error(`mosquitto exited on start: ${log}`);
  }
  throw new Error('mosquitto: 5 free ports in a row were taken before it bound them');
}

async function stopBroker(b: Broker): Promise<void> {
  const child = b.process;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(b.dir, { recursive: true, force: true });
}

before(async () => {
  if (haveTools) broker = await startBroker();
});

after(async () => {
  for (const c of clients.splice(0)) c.end(true);
  if (broker !== undefined) await stopBroker(broker);
});

function tlsUrl(b: Broker): string {
  return `mqtts://127.0.0.1:${b.port}`;
}

type Outcome =
  | { readonly kind: 'connected' }
  /** CONNACK with a refusal: 4 bad user name or password, 5 not authorised (MQTT 3.1.1 §3.2.2.3). */
  | { readonly kind: 'refused'; readonly code: number; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string };

/** Connects once and reports how it went; never retries, never throws. */
function tryConnect(url: string, options: IClientOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options });
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      c.end(true);
      resolve(o);
    };
    c.once('connect', () => {
      finish({ kind: 'connected' });
    });
    c.once('error', (err: Error & { code?: unknown }) => {
      finish(
        typeof err.code === 'number'
          ? { kind: 'refused', code: err.code, message: err.message }
          : { kind: 'failed', message: err.message },
      );
    });
    c.once('close', () => {
      finish({ kind: 'failed', message: 'the connection closed before a CONNACK' });
    });
  });
}

/** A connected client of `user` over TLS with the test CA; closed after the file's tests. */
async function connectAs(b: Broker, user: User, options: IClientOptions = {}): Promise<MqttClient> {
  const c = connect(tlsUrl(b), {
    clientId: user,
    username: user,
    password: PASSWORDS[user],
    ca: b.ca,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    protocolVersion: 4,
    ...options,
  });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => {
      resolve();
    });
    c.once('error', reject);
    c.once('close', () => {
      reject(new Error(`${user}: the connection closed before a CONNACK`));
    });
  });
  return c;
}

/** What a client received, as `topic payload` lines. */
function inbox(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (t, payload) => {
    got.push(`${t} ${payload.toString()}`);
  });
  return got;
}

/** Subscribes at QoS 1 and returns the granted QoS of each filter. */
async function subscribe(c: MqttClient, filters: readonly string[]): Promise<number[]> {
  const granted = await c.subscribeAsync([...filters], { qos: 1 });
  return granted.map((g) => g.qos);
}

const deviceKinds = topicKinds.filter((k) => topicSpecs[k].from === 'device');

test('a device publishes its own topics and its last will; the collector user receives them', async (t) => {
  if (!toolsPresent(t) || broker === undefined) return;
  const b = broker;
  const collector = await connectAs(b, 'edgeloop-collector', { clientId: 'view-own-topics' });
  const got = inbox(collector);
  // The collector's own subscriptions (collector/main.ts), every one granted.
  assert.deepEqual(
    await subscribe(collector, ingestFilters),
    ingestFilters.map(() => 1),
  );

  const device = await connectAs(b, 'pump-07');
  for (const kind of deviceKinds)
    await device.publishAsync(topic(kind, 'pump-07'), `own-${kind}`, { qos: 1 });
  const expected = deviceKinds.map((k) => `${topic(k, 'pump-07')} own-${k}`);
  await waitFor(
    () => `the collector user to receive ${expected.join(', ')} (has ${got.join(', ')})`,
    () => expected.every((e) => got.includes(e)),
  );

  // The agent's last will (docs/mqtt.md): its own status topic, retained, published by the broker when
  // the connection dies without a DISCONNECT.
  const willing = await connectAs(b, 'pump-07', {
    clientId: 'pump-07',
    will: { topic: topic('status', 'pump-07'), payload: Buffer.from('will-pump-07'), qos: 1, retain: true },
  });
  willing.stream.destroy();
  await waitFor(
    () => `the last will of pump-07 (has ${got.join(', ')})`,
    () => got.includes(`${topic('status', 'pump-07')} will-pump-07`),
  );
});

test('a device cannot write another device topics, under its own or that device client id, nor model commands', async (t) => {
  if (!toolsPresent(t) || broker === undefined) return;
  const b = broker;
  const collector = await connectAs(b, 'edgeloop-collector', { clientId: 'view-forbidden' });
  const got = inbox(collector);
  await subscribe(collector, [...ingestFilters, 'edgeloop/v1/devices/+/model/command']);

  const device = await connectAs(b, 'pump-07', { clientId: 'pump-07-forbidden' });
  // MQTT 3.1.1: Mosquitto acknowledges a refused QoS 1 publish and drops it.
  await device.publishAsync(topic('telemetry', 'pump-08'), 'forbidden-other-device', { qos: 1 });
  await device.publishAsync(topic('status', 'pump-08'), 'forbidden-other-status', { qos: 1 });
  await device.publishAsync(topic('modelCommand', 'pump-07'), 'forbidden-own-command', { qos: 1 });
  await device.publishAsync(topic('modelCommand', 'pump-08'), 'forbidden-other-command', { qos: 1 });
  await device.publishAsync(
    'edgeloop/v1/alerts/drift/pump-07/drift.model_reference/accel',
    'forbidden-alert',
    {
      qos: 1,
    },
  );
  // pump-07's credentials with pump-08's client id: the ACL is keyed on the user name, so still refused.
  const spoof = await connectAs(b, 'pump-07', { clientId: 'pump-08' });
  await spoof.publishAsync(topic('telemetry', 'pump-08'), 'forbidden-spoofed-client-id', { qos: 1 });

  // Each refused publish was routed (to nowhere) before its PUBACK; a marker sent after them on the
  // allowed topic reaches the collector's connection after anything they could have sent there.
  await device.publishAsync(topic('telemetry', 'pump-07'), 'marker-after-forbidden', { qos: 1 });
  await waitFor(
    () => `the marker (has ${got.join(', ')})`,
    () => got.includes(`${topic('telemetry', 'pump-07')} marker-after-forbidden`),
  );
  const leaked = got.filter((m) => m.includes('forbidden-'));
  assert.deepEqual(leaked, [], 'messages the ACL should have refused');
});

test('model commands from the collector user reach only their device; ops reads alerts and writes nothing', async (t) => {
  if (!toolsPresent(t) || broker === undefined) return;
  const b = broker;
  const p7 = await connectAs(b, 'pump-07', { clientId: 'pump-07-commands' });
  const p8 = await connectAs(b, 'pump-08', { clientId: 'pump-08-commands' });
  const ops = await connectAs(b, 'ops', { clientId: 'ops-view' });
  const got7 = inbox(p7);
  const got8 = inbox(p8);
  const gotOps = inbox(ops);
  await subscribe(p7, [topic('modelCommand', 'pump-07')]);
  // pump-08 also asks for pump-07's commands and for every device topic: Mosquitto 2.0 grants such a
  // subscription and delivers nothing through it, which is what counts.
  await subscribe(p8, [
    topic('modelCommand', 'pump-08'),
    topic('modelCommand', 'pump-07'),
    'edgeloop/v1/devices/#',
  ]);
  await subscribe(ops, ['edgeloop/v1/alerts/#', 'edgeloop/v1/devices/#']);

  const collector = await connectAs(b, 'edgeloop-collector', { clientId: 'commands' });
  await collector.publishAsync(topic('modelCommand', 'pump-07'), 'command-for-pump-07', { qos: 1 });
  await collector.publishAsync(topic('modelCommand', 'pump-08'), 'command-for-pump-08', { qos: 1 });
  const alertTopic = 'edgeloop/v1/alerts/drift/pump-07/drift.model_reference/accel';
  await collector.publishAsync(alertTopic, 'alert-from-collector', { qos: 1 });
  await ops.publishAsync(topic('telemetry', 'ops'), 'forbidden-ops-telemetry', { qos: 1 });
  await ops.publishAsync(alertTopic, 'forbidden-ops-alert', { qos: 1 });
  await ops.publishAsync(topic('modelCommand', 'pump-08'), 'forbidden-ops-command', { qos: 1 });
  await collector.publishAsync(alertTopic, 'alert-marker', { qos: 1 });
  await collector.publishAsync(topic('modelCommand', 'pump-08'), 'marker-for-pump-08', { qos: 1 });

  await waitFor(
    () => `pump-07's command (has ${got7.join(', ')})`,
    () => got7.includes(`${topic('modelCommand', 'pump-07')} command-for-pump-07`),
  );
  await waitFor(
    () => `pump-08's command and marker (has ${got8.join(', ')})`,
    () =>
      got8.includes(`${topic('modelCommand', 'pump-08')} command-for-pump-08`) &&
      got8.includes(`${topic('modelCommand', 'pump-08')} marker-for-pump-08`),
  );
  await waitFor(
    () => `the alert and its marker at ops (has ${gotOps.join(', ')})`,
    () =>
      gotOps.includes(`${alertTopic} alert-from-collector`) && gotOps.includes(`${alertTopic} alert-marker`),
  );
  assert.deepEqual(got7, [`${topic('modelCommand', 'pump-07')} command-for-pump-07`]);
  assert.deepEqual(
    got8.filter((m) => !m.includes('for-pump-08')),
    [],
    'pump-08 received what is not its own',
  );
  assert.deepEqual(
    gotOps.filter((m) => !m.startsWith(`${alertTopic} alert-`)),
    [],
    'ops received a device topic or its own refused publishes',
  );
});

test('a wrong password, an unknown user and no credentials are refused at CONNECT', async (t) => {
  if (!toolsPresent(t) || broker === undefined) return;
  const b = broker;
  const url = tlsUrl(b);
  const cases: readonly [string, IClientOptions][] = [
    ['wrong password', { clientId: 'pump-07', username: 'pump-07', password: 'not-the-password' }],
    ['unknown user', { clientId: 'pump-99', username: 'pump-99', password: PASSWORDS['pump-07'] }],
    ['no credentials', { clientId: 'anonymous' }],
  ];
  for (const [what, options] of cases) {
    const o = await tryConnect(url, { ca: b.ca, ...options });
    // CONNACK 4 (bad user name or password) or 5 (not authorised): refused, not a transport failure.
    assert.ok(o.kind === 'refused' && [4, 5].includes(o.code), `${what}: ${JSON.stringify(o)}`);
  }
  // The right password connects, so the refusals above are about the credentials.
  assert.deepEqual(
    await tryConnect(url, {
      ca: b.ca,
      clientId: 'pump-07',
      username: 'pump-07',
      password: PASSWORDS['pump-07'],
    }),
    { kind: 'connected' },
  );
});

test('a plain connection to the TLS port fails, and so does TLS without the CA', async (t) => {
  if (!toolsPresent(t) || broker === undefined) return;
  const b = broker;
  const credentials = { clientId: 'pump-07', username: 'pump-07', password: PASSWORDS['pump-07'] };
  const plain = await tryConnect(`mqtt://127.0.0.1:${b.port}`, credentials);
  assert.notEqual(plain.kind, 'connected', 'plain MQTT on the TLS listener');
  // Without the CA the broker's certificate is not trusted (system CAs only).
  const untrusted = await tryConnect(tlsUrl(b), credentials);
  assert.equal(untrusted.kind, 'failed', JSON.stringify(untrusted));
});

/** The unit's `Environment=` lines as a map. */
function unitEnvironment(unit: string): Record<string, string> {
  return Object.fromEntries(
    [...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
}

test(
  'the collector runs with its unit command line and sample config and stores what a device sends',
  { timeout: 120_000 },
  async (t) => {
    if (!toolsPresent(t) || broker === undefined) return;
    const b = broker;
    const work = mkdtempSync(join(tmpdir(), 'edgeloop-collector-unit-'));
    t.after(() => {
      rmSync(work, { recursive: true, force: true });
    });
    const dataDir = join(work, 'state');
    const sample = docPath('deploy/collector.example.json');
    const unit = readFileSync(docPath('deploy/edgeloop-collector.service'), 'utf8');
    const exec = /^ExecStart=\S+ collector (.*)$/m.exec(unit)?.[1];
    assert.ok(exec !== undefined, 'the unit has an ExecStart running `edgeloop collector`');
    const argv = exec
      .replace('${STATE_DIRECTORY}', dataDir)
      .replace('/etc/edgeloop/collector.json', sample)
      .split(/\s+/);
    // The sample names hosts of a plant: here the broker's port, a free HTTP port, a key of our own, and no
    // Alertmanager. Flags beat the config file, so the sample itself is read as it is.
    const key = join(work, 'release.pub');
    writeFileSync(key, generateSigningKeyPair().publicKeyPem);
    argv.push(
      '--mqtt',
      tlsUrl(b),
      '--http-host',
      '127.0.0.1',
      '--http-port',
      '0',
      '--trusted-key',
      key,
      '--alertmanager-url',
      '',
    );
    const unitEnv = unitEnvironment(unit);
    assert.equal(unitEnv.NODE_EXTRA_CA_CERTS, '/etc/edgeloop/ca.crt');
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('EDGELOOP_')),
    );
    Object.assign(env, unitEnv, {
      NODE_EXTRA_CA_CERTS: b.caFile,
      // The drop-in's secrets (docs/operations.md).
      EDGELOOP_COLLECTOR_MQTT_PASSWORD: PASSWORDS['edgeloop-collector'],
      EDGELOOP_REGISTRY_TOKEN: 'unit-test-write-token-0123456789',
      EDGELOOP_FROM_SOURCE: '1',
    });
    const child = spawn(process.execPath, [bin, 'collector', ...argv], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        resolve(code);
      });
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const failedEarly = (): boolean => {
      if (child.exitCode !== null) throw new Error(`the collector exited ${child.exitCode}: ${err}`);
      return false;
    };

    await waitFor(
      () => `the collector's first line (stdout: ${out}; stderr: ${err})`,
      () => failedEarly() || /collector listening on http:\/\/\S+/.test(out),
      { timeoutMs: 60_000 },
    );
    const httpUrl = /collector listening on (http:\/\/\S+) /.exec(out)?.[1] as string;
    assert.match(out, new RegExp(`broker mqtts://127\\.0\\.0\\.1:${b.port}, external; data ${dataDir}`));
    await waitFor(
      () => `/readyz with the broker connected over TLS (stderr: ${err})`,
      async () => {
        failedEarly();
        const r = await fetch(`${httpUrl}/readyz`);
        return r.status === 200;
      },
      { timeoutMs: 30_000 },
    );

    const device = await connectAs(b, 'pump-07', { clientId: 'pump-07-collector' });
    await device.publishAsync(topic('telemetry', 'pump-07'), encodeTelemetry(telemetry('pump-07', 7, 1)), {
      qos: 1,
    });
    await waitFor(
      () => `pump-07 in GET /api/v1/devices (stderr: ${err})`,
      async () => {
        const r = await fetch(`${httpUrl}/api/v1/devices`);
        const body = (await r.json()) as { devices: { deviceId: string }[] };
        return body.devices.some((d) => d.deviceId === 'pump-07');
      },
    );

    child.kill('SIGTERM');
    assert.equal(await exited, 0, `the collector's drain on SIGTERM (stderr: ${err})`);
    assert.match(err, /INFO {2}stopped/);
  },
);
