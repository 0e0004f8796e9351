// Broker outage (issue #4 §6): windows stream into the SQLite outbox at a fast rate while the broker is
// stopped for 30 s in the middle of the stream and restarted on the same port. Every window must arrive
// exactly once by msgSeq (duplicates dropped by SequenceTracker, as a collector does), with zero loss, and
// the backlog must be replayed after live data (docs/outbox.md §Order after an outage).
//
// The broker is a Mosquitto of our own (stop/restart), with persistence so the test subscriber's
// persistent session and the messages queued for it survive the restart: any loss seen here is the agent's.
// This is the one long test (30 s outage, as the issue asks); every other test keeps its outages short.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteOutbox } from '../../agent/outbox/sqlite-outbox.ts';
import { sleep, startAgentStack, startMosquitto, Subscriber } from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

const OUTAGE_MS = 30_000;
const WINDOW_INTERVAL_MS = 25;
// Windows the outbox must hold before the broker comes back: half of what 30 s produces at full rate, so a
// loaded machine whose timers run late still gets there (the test waits for it, it does not assume it).
const BACKLOG = (OUTAGE_MS / WINDOW_INTERVAL_MS) * 0.5;

test(
  'a 30 s broker outage mid-stream loses nothing; backlog is replayed after live data',
  { timeout: 120_000 },
  async (t) => {
    const broker = await startMosquitto();
    t.after(() => broker.close());
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-outage-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const deviceId = 'outage-dev';
    const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/telemetry`, {
      clientId: 'outage-sub',
      persistent: true,
    });
    t.after(() => sub.close());
    const outbox = openSqliteOutbox(join(dir, 'outbox.db'), {
      clock: { nowMs: () => Date.now() },
      replayRatePerSec: 400,
    });
    t.after(() => {
      outbox.close();
    });
    const agent = startAgentStack({ url: broker.url, deviceId, outbox, reconnectMaxMs: 1000 });
    t.after(() => agent.close());
    await waitFor('the agent to connect', () => agent.publisher.stats().connected);

    let i = 0;
    const control = { stop: false };
    let liveFromSeq = Infinity;
    let downFromSeq = Infinity;
    const producer = (async () => {
      while (!control.stop) {
        agent.pushWindow(i++);
        if (
          liveFromSeq === Infinity &&
          downFromSeq !== Infinity &&
          agent.publisher.stats().connections >= 2
        ) {
          // First window enqueued after the link came back: this and later ones are live.
          liveFromSeq = agent.sequence.last;
        }
        await sleep(WINDOW_INTERVAL_MS);
      }
    })();

    await waitFor('80 windows at the subscriber before the outage', () => sub.of('telemetry').length >= 80);
    await broker.stop();
    downFromSeq = agent.sequence.last + 1;
    await sleep(OUTAGE_MS);
    await waitFor(`a backlog of ${BACKLOG} windows`, () => outbox.stats().depth >= BACKLOG, {
      timeoutMs: OUTAGE_MS,
    });
    const backlogAtRestart = outbox.stats().depth;
    await broker.restart();
    await waitFor('the agent to reconnect', () => liveFromSeq !== Infinity, { timeoutMs: 15_000 });
    // Keep streaming live windows while the backlog replays, so the order check below has both.
    await waitFor('40 live windows at the subscriber', () => {
      return sub.of('telemetry').filter((m) => m.payload.msgSeq >= liveFromSeq).length >= 40;
    });
    control.stop = true;
    await producer;
    const total = i;

    await waitFor(`${total} windows at the subscriber`, () => sub.of('telemetry').length >= total, {
      timeoutMs: 30_000,
    });
    await waitFor('the outbox to drain', () => outbox.stats().depth === 0);

    assert.deepEqual(sub.invalid, []);
    const telemetry = sub.of('telemetry');
    assert.equal(telemetry.length, total, 'each window exactly once after dedup');
    assert.deepEqual(
      telemetry.map((m) => m.payload.window.index).sort((a, b) => a - b),
      Array.from({ length: total }, (_, k) => k),
    );
    const tracker = [...sub.trackers.values()][0];
    assert.equal(sub.trackers.size, 1);
    // Status messages share the msgSeq space but are not subscribed here: count only telemetry holes.
    const seqs = new Set(telemetry.map((m) => m.payload.msgSeq));
    assert.equal(seqs.size, total);
    assert.ok((tracker?.received ?? 0) === total);

    // Hundreds of windows were stored during the outage (waited for above), and the outbox counted no drop.
    assert.equal(outbox.stats().droppedTotal, 0);

    // Live first: some window enqueued after the reconnect arrived before the last backlog window did.
    const arrival = telemetry.map((m) => m.payload.msgSeq);
    const lastBacklogAt = arrival.findLastIndex((s) => s >= downFromSeq && s < liveFromSeq);
    const firstLiveAt = arrival.findIndex((s) => s >= liveFromSeq);
    assert.ok(lastBacklogAt >= 0 && firstLiveAt >= 0);
    assert.ok(
      firstLiveAt < lastBacklogAt,
      `live at ${firstLiveAt} before the end of the backlog at ${lastBacklogAt}`,
    );
    t.diagnostic(
      `windows ${total}, backlog at restart ${backlogAtRestart}, duplicates dropped ${sub.duplicates}, ` +
        `reconnects ${agent.publisher.stats().connections - 1}`,
    );
  },
);
