// `edgeloop agent` configuration (agent/config.ts, agent/cli.ts): flags, EDGELOOP_* variables and the
// config file merge and are validated at start; every bad value exits 2 with its code and names the
// option. The deploy sample config and the systemd unit's command line must load with the real names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/main.ts';
import { agentConfigFromArgs } from '../../agent/cli.ts';
import { agentDefaults, loadAgentConfig } from '../../agent/config.ts';
import { underRegistry } from '../../agent/runtime/models.ts';
import { EdgeloopError } from '../../shared/errors.ts';

function cli(env: Record<string, string> = {}): {
  err: () => string;
  out: () => string;
  io: Parameters<typeof main>[1];
} {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { out: () => o, err: () => e, io: { stdout, stderr, env, signal: new AbortController().signal } };
}

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-agent-config-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const runtime = ['--serial', '/dev/null', '--mqtt', 'mqtt://127.0.0.1:1', '--device-id', 'pump-1'];

test('the CLI rejects bad agent config with exit code 2, the code and the option named', async (t) => {
  const dir = tmp(t);
  const keyFile = join(dir, 'k.pub');
  writeFileSync(keyFile, 'not a pem');
  const full = [...runtime, '--data-dir', join(dir, 'state'), '--trusted-key', keyFile];
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['--serial', '/dev/null', '--mqtt', 'mqtt://b:1883'],
      {},
      /deviceId: is required with --mqtt.*CONFIG_INVALID/,
    ],
    [[...runtime], {}, /dataDir: is required with --mqtt.*CONFIG_INVALID/],
    [[...runtime, '--data-dir', dir], {}, /trustedKeys: at least one pinned public key.*CONFIG_INVALID/],
    [[...full.slice(0, 3), 'http://b', ...full.slice(4)], {}, /mqtt: http:\/\/b must start with mqtt:\/\//],
    [[...full, '--mqtt-ca', 'ca.pem'], {}, /mqttCa: TLS files need an mqtts:\/\/ broker URL/],
    [[...full, '--mqtt-cert', 'c.pem'], {}, /mqttCert, mqttKey: mutual TLS needs both/],
    [[...full], { EDGELOOP_MQTT_PASSWORD: 'pw' }, /mqttPassword: needs --mqtt-username/],
    [[...full, '--metrics-port', '70000'], {}, /metricsPort: .*CONFIG_INVALID/],
    [[...full, '--max-outbox-bytes', 'lots'], {}, /maxOutboxBytes: .*CONFIG_INVALID/],
    [[...full, '--registry', 'ftp://r'], {}, /registry: ftp:\/\/r must start with http:/],
    [[...full.slice(0, 5), 'bad/id', ...full.slice(6)], {}, /deviceId: .*forbidden character/],
    [['--serial', '/dev/null', '--data-dir', dir], {}, /dataDir: only used with --mqtt/],
    [
      [...full, '--metrics-prot', '1'],
      {},
      /unknown option --metrics-prot \(did you mean --metrics-port\?\).*UNKNOWN_OPTION/,
    ],
    [[...full], { EDGELOOP_METRICS_PROT: '1' }, /did you mean EDGELOOP_METRICS_PORT\?.*UNKNOWN_OPTION/],
    // Valid options, but the pinned key file does not hold a key: refused at start, before anything runs.
    [[...full], {}, /EDGELOOP_ERR_KEY_INVALID/],
    [
      [...full.slice(0, -1), join(dir, 'missing.pub')],
      {},
      /trustedKeys: cannot read .*missing\.pub.*CONFIG_INVALID/,
    ],
  ];
  for (const [argv, env, want] of cases) {
    const c = cli(env);
    assert.equal(await main(['agent', ...argv], c.io), 2, `${argv.join(' ')}: ${c.err()}`);
    assert.match(c.err(), want, argv.join(' '));
    assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack trace');
  }
});

test('precedence flag > EDGELOOP_* > config file > default; trusted keys repeat or comma-separate', (t) => {
  const dir = tmp(t);
  const file = join(dir, 'agent.json');
  writeFileSync(
    file,
    JSON.stringify({
      serial: '/dev/ttyUSB0',
      mqtt: 'mqtts://b:8883',
      deviceId: 'a',
      baud: 115200,
      windowMs: 500,
    }),
  );
  const c = agentConfigFromArgs(
    [
      '--config',
      file,
      '--device-id',
      'pump-7',
      '--data-dir',
      dir,
      '--trusted-key',
      'a.pub,b.pub',
      '--trusted-key',
      'c.pub',
    ],
    { EDGELOOP_BAUD: '9600', EDGELOOP_MQTT_USERNAME: 'pump-7', EDGELOOP_MQTT_PASSWORD: 'secret' },
  );
  assert.equal(c.deviceId, 'pump-7');
  assert.equal(c.baud, 9600);
  assert.equal(c.windowMs, 500);
  assert.equal(c.hopMs, 500);
  assert.equal(c.mqttPassword, 'secret');
  assert.deepEqual(c.trustedKeys, ['a.pub', 'b.pub', 'c.pub']);
  assert.equal(c.metricsPort, 9464);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.trustedKeys));
  const env = loadAgentConfig(
    { serial: '/dev/x' },
    {
      EDGELOOP_MQTT: 'mqtt://b',
      EDGELOOP_DEVICE_ID: 'd',
      EDGELOOP_DATA_DIR: dir,
      EDGELOOP_TRUSTED_KEYS: 'x.pub, y.pub',
    },
  );
  assert.deepEqual(env.trustedKeys, ['x.pub', 'y.pub']);
  // A misspelled config-file key names the right one.
  writeFileSync(file, JSON.stringify({ serial: '/dev/x', trustedKey: 'k.pub' }));
  assert.throws(
    () => loadAgentConfig({}, {}, file),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /did you mean trustedKeys\?/.test(e.message),
  );
  // Print mode stays as before: no MQTT, no state directory needed.
  const print = loadAgentConfig({ serial: '/dev/x', json: true, maxWindows: '3' }, {});
  assert.equal(print.mqtt, '');
  assert.equal(print.maxWindows, 3);
});

test('--help names every option with its default', async () => {
  const c = cli();
  assert.equal(await main(['agent', '--help'], c.io), 0);
  const help = c.out();
  for (const key of Object.keys(agentDefaults)) {
    const flag = key === 'trustedKeys' ? 'trusted-key' : key.replace(/([A-Z])/g, '-$1').toLowerCase();
    const line = help.split('\n').find((l) => l.trimStart().startsWith(`--${flag} `));
    assert.ok(line !== undefined, `--${flag} is in --help`);
    if (key !== 'serial') assert.match(line, /default|required/, `--${flag} states its default`);
  }
});

test('docs/deploy: the sample config and the unit command line load with the real option names', (t) => {
  const dir = tmp(t);
  const sample = new URL('../../docs/deploy/agent.example.json', import.meta.url).pathname;
  const c = loadAgentConfig({ dataDir: dir }, {}, sample);
  assert.ok(c.mqtt.startsWith('mqtts://'));
  assert.ok(c.trustedKeys.length > 0);
  const unit = readFileSync(new URL('../../docs/deploy/edgeloop-agent.service', import.meta.url), 'utf8');
  const exec = /^ExecStart=\S+ agent (.*)$/m.exec(unit)?.[1];
  assert.ok(exec !== undefined);
  const argv = exec
    .replace('${STATE_DIRECTORY}', dir)
    .replace('/etc/edgeloop/agent.json', sample)
    .split(/\s+/);
  assert.equal(agentConfigFromArgs(argv, {}).dataDir, dir);
});

test('--registry: only bundle URLs under the registry base are accepted', () => {
  assert.ok(underRegistry('https://reg:8080/api/v1/models/p/1.0.0/bundle', 'https://reg:8080/api/v1'));
  assert.ok(underRegistry('https://reg:8080/x', 'https://reg:8080'));
  assert.ok(!underRegistry('https://reg:8080/api/v10/x', 'https://reg:8080/api/v1'));
  assert.ok(!underRegistry('https://evil:8080/api/v1/x', 'https://reg:8080/api/v1'));
  assert.ok(!underRegistry('http://reg:8080/api/v1/x', 'https://reg:8080/api/v1'));
});
