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
import { sleep, startAgentStack, startMosquitto, Subscriber, waitFor } from './agent-mqtt-fixture.ts';

const OUTAGE_MS = 30_000;
const WINDOW_INTERVAL_MS = 25;

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
    await waitFor(() => agent.publisher.stats().connected, 5000, 'the agent to connect');

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

    await sleep(2000);
    await broker.stop();
    downFromSeq = agent.sequence.last + 1;
    await sleep(OUTAGE_MS);
    const backlogAtRestart = outbox.stats().depth;
    await broker.restart();
    await waitFor(() => liveFromSeq !== Infinity, 15_000, 'the agent to reconnect');
    await sleep(3000);
    control.stop = true;
    await producer;
    const total = i;

    await waitFor(() => sub.of('telemetry').length >= total, 30_000, `${total} windows at the subscriber`);
    await waitFor(() => outbox.stats().depth === 0, 10_000, 'the outbox to drain');

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

    // Hundreds of windows were stored during the outage, and the outbox counted no drop.
    assert.ok(backlogAtRestart >= (OUTAGE_MS / WINDOW_INTERVAL_MS) * 0.5, `backlog ${backlogAtRestart}`);
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
