// Issue #8 §2 "Broker link" and "A wrong broker address": what the log says about the broker link.
//  - a drop is logged once ("broker link down"), the return once ("broker link up") with the outage length
//    and the backlog waiting in the outbox; reconnects are counted for the shutdown summary;
//  - a broker address where nothing listens is a warning after the first failed connect, then only at
//    failures 2, 4, 8, ... (not every retry).
// Real link (MQTT.js) against the embedded aedes broker on port 0, and against a port nothing listens on.

import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { createMqttLink } from '../../agent/adapters/mqtt.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { watchLink, type LinkLog } from '../../agent/publish/link-log.ts';
import { startAedes, startAgentStack } from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

interface Line {
  readonly level: 'info' | 'warn';
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

function memoryLog(): LinkLog & { readonly lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    info: (message, fields = {}) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields = {}) => lines.push({ level: 'warn', message, fields }),
  };
}

/** A port that nothing listens on (bound, read back, closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

test('a broker outage is logged once when it starts and once when it ends, with outage and backlog', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() } });
  const agent = startAgentStack({ url: broker.url, deviceId: 'linklog-1', outbox, reconnectMaxMs: 200 });
  t.after(() => agent.close());
  const log = memoryLog();
  const watch = watchLink({ link: agent.link, url: broker.url, backlog: () => outbox.stats().depth, log });
  t.after(() => {
    watch.close();
  });
  await waitFor('connected', () => agent.link.connected);

  await broker.stop();
  await waitFor('the drop', () => !agent.link.connected);
  for (let i = 0; i < 5; i++) agent.pushWindow(i);
  // Several failed reconnects while the broker is away: none of them may add a line yet.
  await waitFor('3 failed reconnects', () => agent.link.stats().connectFailures >= 3);
  await broker.restart();
  await waitFor('the return', () => log.lines.filter((l) => l.message === 'broker link up').length >= 2);

  const lines = log.lines.map((l) => `${l.level} ${l.message}`);
  assert.deepEqual(lines, ['info broker link up', 'warn broker link down', 'info broker link up']);
  assert.equal(log.lines[0]?.fields.outageMs, undefined, 'the first connection is no outage');
  const up = log.lines[2]?.fields;
  assert.equal(up?.backlog, 5, 'the windows stored during the outage');
  assert.ok(typeof up.outageMs === 'number' && up.outageMs > 0);
  assert.ok(typeof log.lines[1]?.fields.reason === 'string');
  assert.equal(watch.stats().reconnects, 1);
  assert.equal(agent.publisher.stats().connections - 1, 1, 'the publisher counts the reconnect too');
});

test('a broker address where nothing listens warns at once, then with backoff (not every retry)', async (t) => {
  const url = `mqtt://127.0.0.1:${await deadPort()}`;
  const link = createMqttLink({ url, clientId: 'linklog-2', reconnectPeriodMs: 10, reconnectMaxMs: 20 });
  const log = memoryLog();
  const watch = watchLink({ link, url, backlog: () => 0, log });
  t.after(async () => {
    watch.close();
    await link.close({ timeoutMs: 100 });
  });
  link.start();
  await waitFor('the first warning', () => log.lines.length >= 1);
  assert.equal(link.stats().connectFailures, 1, 'warned after the first failed connect');
  const first = log.lines[0];
  assert.equal(first?.level, 'warn');
  assert.equal(first.message, 'cannot reach broker');
  assert.equal(first.fields.code, 'EDGELOOP_ERR_MQTT_CONNECT');
  assert.equal(first.fields.url, url);
  assert.match(String(first.fields.error), /ECONNREFUSED|connect/i);

  await waitFor('40 failed connects', () => link.stats().connectFailures >= 40, { timeoutMs: 30_000 });
  const attempts = log.lines.map((l) => l.fields.attempts);
  // Failures 1, 2, 4, 8, 16, 32 (and 64 if the link got that far before we looked).
  assert.deepEqual(attempts.slice(0, 6), [1, 2, 4, 8, 16, 32]);
  assert.ok(
    log.lines.length <= 7,
    `${log.lines.length} warnings for ${link.stats().connectFailures} failures`,
  );
});
