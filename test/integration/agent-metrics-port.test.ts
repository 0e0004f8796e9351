// Issue #8 §2 "Metrics port taken": the whole agent (startAgent) with its metrics port already in use must
// start, log the listen error with its codes, publish its telemetry as usual, and bind the metrics
// listener once the port is freed. Real components: the composition root, an embedded aedes broker on
// port 0, the SQLite outbox; the serial port is an in-memory stream carrying real wire frames.

import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadAgentConfig, startAgent } from '../../agent/index.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { ok } from '../../shared/errors.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { tempDir } from './agent-model-fixture.ts';
import { startAedes, Subscriber } from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

const DEVICE = 'port-taken';
const accel = referenceSensors[0];
if (accel === undefined) throw new Error('no reference accelerometer');

/** HELLO, then `seconds` of the accelerometer at 1 kHz. */
function board(seconds: number): Buffer {
  const frames: Frame[] = [
    {
      type: 'hello',
      seq: 0,
      device: {
        deviceId: DEVICE,
        firmwareVersion: '1.0.0',
        protocolVersion: 1,
        bootId: 1,
        sensors: [accel!],
      },
    },
  ];
  for (let i = 0, seq = 1; i < seconds * 1000; i += 50, seq++) {
    const values = Array.from({ length: 150 }, (_, k) => Math.sin((i + k) / 7) * 0.5);
    frames.push({
      type: 'samples',
      seq,
      sensorId: 0,
      timestampUs: i * 1000,
      firstIndex: i,
      count: 50,
      data: encodeSampleValues(values, accel!),
    });
  }
  return Buffer.concat(frames.map(encodeWireFrame));
}

test('the agent runs and publishes with its metrics port taken, and binds the port once it is free', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  t.after(() => {
    blocker.close();
  });
  const broker = await startAedes();
  t.after(() => broker.close());
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${DEVICE}/#`);
  t.after(() => sub.close());
  const dir = tempDir(t);
  const keyFile = join(dir, 'release.pub');
  writeFileSync(keyFile, generateSigningKeyPair().publicKeyPem);
  const config = loadAgentConfig(
    {
      serial: '/dev/null-test',
      deviceId: DEVICE,
      mqtt: broker.url,
      dataDir: join(dir, 'state'),
      trustedKeys: [keyFile],
      metricsPort: String(port),
      drainTimeoutMs: '1000',
    },
    {},
  );
  const serial = new PassThrough();
  const log = new MemoryLogger();
  const agent = await startAgent(config, {
    log,
    openPort: () => Promise.resolve(ok(serial)),
    mqttReconnectPeriodMs: 100,
  });
  t.after(() => agent.close());
  const services = agent.services;
  assert.ok(services !== null);
  assert.equal(services.http.listening, false);

  const failed = log.find(/metrics listener failed/, 'warn');
  const first = failed[0];
  assert.ok(failed.length === 1 && first !== undefined, log.text());
  assert.equal(first.fields.code, 'EDGELOOP_ERR_HTTP_LISTEN');
  assert.equal(first.fields.errno, 'EADDRINUSE');

  // The data path does not care: windows become telemetry.
  serial.write(board(4));
  await waitFor('telemetry with the metrics port taken', () => sub.of('telemetry').length >= 2, {
    timeoutMs: 15_000,
  });

  await new Promise<void>((resolve) => {
    blocker.close(() => {
      resolve();
    });
  });
  // The first retries come after 0.5-1 s (jittered backoff).
  await waitFor('metrics listener bound', () => services.http.listening, { timeoutMs: 15_000 });
  assert.equal(services.http.port, port);
  assert.equal(log.find('metrics listener bound', 'info').length, 1);
  const res = await fetch(`${services.http.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /edgeloop_agent_windows_total [1-9]/);
});
