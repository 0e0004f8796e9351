// The dashboard's change feed (collector/dashboard/feed.ts) on a manual clock: what a page receives and
// when. A new row and a changed row are sent, an unchanged one is not; fleet rows go as one batch; last-seen
// times and heartbeats keep their own cadence; a gone client is dropped, and with no client left the feed
// stops polling its sources.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventStream } from '../../collector/adapters/http.ts';
import { createChangeFeed, type FeedChannel } from '../../collector/dashboard/feed.ts';
import { ManualClock } from '../../shared/platform/clock.ts';

interface Row {
  readonly id: string;
  readonly state: string;
}

function fakeStream(): EventStream & {
  events: { event: string; data: unknown }[];
  beats: number;
  gone(): void;
} {
  let closed = false;
  const s = {
    events: [] as { event: string; data: unknown }[],
    beats: 0,
    send(event: string, data: unknown) {
      if (closed) return false;
      s.events.push({ event, data });
      return true;
    },
    heartbeat() {
      s.beats += 1;
    },
    end() {
      closed = true;
    },
    gone() {
      closed = true;
    },
    get closed() {
      return closed;
    },
  };
  return s;
}

test('changed and new rows are sent once, batched where asked; unchanged ones are not', () => {
  const clock = new ManualClock();
  let alerts: Row[] = [{ id: '1', state: 'open' }];
  let devices: Row[] = [
    { id: 'a', state: 'online' },
    { id: 'b', state: 'online' },
  ];
  let reads = 0;
  const channels: FeedChannel[] = [
    {
      event: 'alert',
      rows: () => {
        reads += 1;
        return alerts;
      },
      key: (r) => (r as Row).id,
      fingerprint: (r) => (r as Row).state,
    },
    {
      event: 'devices',
      batched: true,
      rows: () => devices,
      key: (r) => (r as Row).id,
      fingerprint: (r) => (r as Row).state,
    },
  ];
  const feed = createChangeFeed({
    channels,
    clock,
    lastSeen: () => ({ a: 1, b: 2 }),
    intervalMs: 1000,
    lastSeenEveryMs: 10_000,
    heartbeatMs: 15_000,
  });
  const page = fakeStream();
  feed.add(page);
  assert.deepEqual(
    page.events.map((e) => e.event),
    ['hello'],
    'the state at connect time is the API read, not a replay',
  );

  alerts = [
    { id: '1', state: 'acknowledged' },
    { id: '2', state: 'open' },
  ];
  devices = [
    { id: 'a', state: 'offline' },
    { id: 'b', state: 'online' },
  ];
  clock.advance(1000);
  const sent = page.events.slice(1);
  assert.deepEqual(
    sent.filter((e) => e.event === 'alert').map((e) => (e.data as Row).id),
    ['1', '2'],
  );
  const batches = sent.filter((e) => e.event === 'devices');
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]?.data, [{ id: 'a', state: 'offline' }]);
  assert.equal(sent.filter((e) => e.event === 'lastSeen').length, 1);

  const before = page.events.length;
  clock.advance(5000);
  assert.equal(page.events.length, before, 'nothing changed, nothing sent (last-seen waits 10 s)');
  clock.advance(5000);
  assert.deepEqual(
    page.events.slice(before).map((e) => e.event),
    ['lastSeen'],
  );
  clock.advance(6000);
  assert.ok(page.beats >= 1, 'a heartbeat within 15 s');

  page.gone();
  clock.advance(1000);
  assert.equal(feed.listeners, 0);
  const r = reads;
  clock.advance(10_000);
  assert.equal(reads, r, 'no client: the sources are not read');
  assert.equal(clock.pending, 0, 'no timer left');
});

test('close() ends every stream and stops the timer; a source that throws does not stop the others', () => {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  let n = 0;
  const feed = createChangeFeed({
    channels: [
      {
        event: 'bad',
        rows: () => {
          throw new Error('store closed');
        },
        key: () => 'x',
        fingerprint: () => 'x',
      },
      {
        event: 'good',
        rows: () => [{ id: String(++n) }],
        key: (r) => (r as { id: string }).id,
        fingerprint: () => 'same',
      },
    ],
    clock,
    onError: (e) => errors.push(e),
  });
  const page = fakeStream();
  feed.add(page);
  clock.advance(1000);
  assert.ok(page.events.some((e) => e.event === 'good'));
  assert.ok(errors.length >= 1);
  feed.close();
  assert.equal(page.closed, true);
  assert.equal(clock.pending, 0);
});
