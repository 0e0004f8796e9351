// Issue #8 §2 "/healthz semantics" and "Broker link", through the whole agent (startAgent, the composition
// root) with an embedded aedes broker on port 0 and an in-memory serial stream:
//  - /healthz is 200 while serial and broker are up, and 503 naming `serial_disconnected` once the port has
//    been gone longer than healthSerialDownMaxMs (before the fix it stayed 200 "healthy");
//  - with nothing listening at the broker address, /healthz names `broker_unreachable` once past
//    healthBrokerDownMaxMs, and the log warns "cannot reach broker" after the first failed connect.

import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadAgentConfig, startAgent } from '../../agent/index.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { fail, ok } from '../../shared/errors.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { tempDir } from './agent-model-fixture.ts';
import { startAedes } from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

interface Health {
  readonly status: number;
  readonly body: { readonly status: string; readonly reasons: readonly { readonly reason: string }[] };
}

async function healthz(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as Health['body'] };
}

function keyFile(dir: string): string {
  const f = join(dir, 'release.pub');
  writeFileSync(f, generateSigningKeyPair().publicKeyPem);
  return f;
}

test('/healthz: 200 while serial and broker are up; 503 with serial_disconnected once the port is gone', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const dir = tempDir(t);
  const config = loadAgentConfig(
    {
      serial: '/dev/null-test',
      deviceId: 'health-serial',
      mqtt: broker.url,
      dataDir: join(dir, 'state'),
      trustedKeys: [keyFile(dir)],
      metricsPort: '0',
      drainTimeoutMs: '500',
      healthSerialDownMaxMs: '50',
    },
    {},
  );
  const serial = new PassThrough();
  let opens = 0;
  const log = new MemoryLogger();
  const agent = await startAgent(config, {
    log,
    // The board is there once, then unplugged for good.
    openPort: () =>
      Promise.resolve(opens++ === 0 ? ok(serial) : fail('EDGELOOP_ERR_SERIAL_OPEN', 'no such port')),
    serialBackoff: { baseMs: 20, capMs: 50, floorMs: 5 },
  });
  t.after(() => agent.close());
  const url = agent.metricsUrl;
  assert.ok(url !== null);
  await waitFor('healthy', async () => (await healthz(url)).status === 200);
  assert.deepEqual((await healthz(url)).body.reasons, []);
  assert.equal(log.find('broker link up', 'info').length, 1);

  serial.destroy();
  await waitFor('503 for the serial port', async () => (await healthz(url)).status === 503);
  const h = await healthz(url);
  assert.equal(h.body.status, 'unhealthy');
  assert.deepEqual(
    h.body.reasons.map((r) => r.reason),
    ['serial_disconnected'],
  );
});

test('/healthz: broker_unreachable past its limit; a wrong broker address warns after the first failure', async (t) => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  const dir = tempDir(t);
  const config = loadAgentConfig(
    {
      serial: '/dev/null-test',
      deviceId: 'health-broker',
      mqtt: `mqtt://127.0.0.1:${port}`,
      dataDir: join(dir, 'state'),
      trustedKeys: [keyFile(dir)],
      metricsPort: '0',
      drainTimeoutMs: '200',
      healthBrokerDownMaxMs: '50',
    },
    {},
  );
  const log = new MemoryLogger();
  const agent = await startAgent(config, {
    log,
    openPort: () => Promise.resolve(ok(new PassThrough())),
    mqttReconnectPeriodMs: 20,
  });
  t.after(() => agent.close());
  const url = agent.metricsUrl;
  assert.ok(url !== null);
  await waitFor('a warning about the broker', () => log.find('cannot reach broker', 'warn').length >= 1);
  const first = log.find('cannot reach broker', 'warn')[0];
  assert.equal(first?.fields.attempts, 1, 'after the first failed connect');
  assert.equal(first.fields.code, 'EDGELOOP_ERR_MQTT_CONNECT');
  await waitFor('503 for the broker', async () =>
    (await healthz(url)).body.reasons.some((r) => r.reason === 'broker_unreachable'),
  );
  assert.equal((await healthz(url)).status, 503);
  const link = agent.services?.link;
  assert.ok(link !== undefined);
  await waitFor('5 failed connects', () => link.stats().connectFailures >= 5);
  const warnings = log.find('cannot reach broker', 'warn').length;
  const failures = link.stats().connectFailures;
  // Failures 1, 2, 4, 8, ... warn: at most log2(failures) + 1 lines, never one per retry.
  assert.ok(warnings <= Math.floor(Math.log2(failures)) + 1, `${warnings} warnings for ${failures} failures`);
});
