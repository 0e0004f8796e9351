// Integrity events and edge alerts (issue #8 §1): one integrity event per change of a channel's worst
// status (good → suspect → fail and back), carrying the flag's check, reason, value, threshold and the
// window; an alert when a channel enters fail (held off per channel); both enqueued in the window's batch
// in their own outbox classes; each payload valid for its topic's schema.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import type { StoredMessage } from '../../agent/outbox/types.ts';
import { AlertBuilder, raiseAlert } from '../../agent/publish/alerts.ts';
import { IntegrityEvents } from '../../agent/publish/integrity-events.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { TelemetryBuilder } from '../../agent/publish/telemetry.ts';
import { WindowSink } from '../../agent/publish/window-sink.ts';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import type { FlagStatus, IntegrityFlag, Window } from '../../shared/samples.ts';

const counters = { framesDecoded: 0, framesInvalid: 0, samples: 0, gaps: 0, samplesMissing: 0, windows: 0 };

/** A window whose only content that matters here is its integrity summary for accel.x and temperature. */
function windowWith(index: number, accel: FlagStatus, flags: IntegrityFlag[] = []): Window {
  return {
    deviceId: 'board',
    bootId: 7,
    index,
    startUs: index * 1_000_000,
    endUs: (index + 1) * 1_000_000,
    channels: [],
    integrity: {
      status: accel,
      channels: { 'accel.x': accel, temperature: 'good' },
      flags,
    },
  };
}

const spike = (status: FlagStatus, value: number): IntegrityFlag => ({
  channel: 'accel.x',
  check: 'spike',
  status,
  reason: `${value} samples beyond 6 MAD`,
  value,
  threshold: status === 'fail' ? 5 : 2,
});

function setup(alertHoldoffWindows?: number): {
  sink: WindowSink;
  outbox: MemoryOutbox;
  events: IntegrityEvents;
  sent(): DecodedMessage[];
  classes(): string[];
} {
  const sequence = createMessageSequence(42);
  const outbox = new MemoryOutbox({ clock: { nowMs: () => 1_767_225_600_000 } });
  const alerts = new AlertBuilder({ deviceId: 'pump-07', sequence });
  const events = new IntegrityEvents({
    deviceId: 'pump-07',
    sequence,
    alerts,
    ...(alertHoldoffWindows === undefined ? {} : { alertHoldoffWindows }),
  });
  const sink = new WindowSink({
    outbox,
    telemetry: new TelemetryBuilder({ deviceId: 'pump-07', sequence }),
    integrity: events,
  });
  let taken: StoredMessage[] = [];
  const take = (): StoredMessage[] => {
    taken = [...taken, ...outbox.take({ maxMessages: 10_000 })];
    return taken;
  };
  return {
    sink,
    outbox,
    events,
    sent: () =>
      take()
        .filter((m) => !m.topic.endsWith('/telemetry'))
        .map((m) => {
          const d = decodeMessage(m.topic, m.payload);
          assert.ok(d.ok, d.ok ? '' : d.message);
          return d.value;
        }),
    classes: () => take().map((m) => m.class),
  };
}

test('one integrity event per change of a channel status, with the flag and the window', () => {
  const s = setup();
  const statuses: [FlagStatus, IntegrityFlag[]][] = [
    ['good', []],
    ['suspect', [spike('suspect', 3)]],
    ['suspect', [spike('suspect', 4)]], // no change: no event
    ['fail', [spike('suspect', 2), spike('fail', 9)]],
    ['fail', [spike('fail', 8)]],
    ['suspect', [spike('suspect', 3)]],
    ['good', []],
    ['good', []],
  ];
  statuses.forEach(([st, flags], i) => {
    const r = s.sink.push({ window: windowWith(100 + i, st, flags), counters });
    assert.ok(r.ok);
  });
  const integrity = s.sent().filter((m) => m.kind === 'integrity');
  assert.deepEqual(
    integrity.map((m) => [m.payload.previousStatus, m.payload.status, m.payload.windowIndex]),
    [
      ['good', 'suspect', 101],
      ['suspect', 'fail', 103],
      ['fail', 'suspect', 105],
      ['suspect', 'good', 106],
    ],
  );
  const toFail = integrity[1]?.payload;
  assert.ok(toFail !== undefined);
  // The flag behind the new status, not the first flag of the channel.
  assert.deepEqual(
    {
      channel: toFail.channel,
      check: toFail.check,
      reason: toFail.reason,
      value: toFail.value,
      threshold: toFail.threshold,
      bootId: toFail.bootId,
      windowStartUs: toFail.windowStartUs,
      windowEndUs: toFail.windowEndUs,
    },
    {
      channel: 'accel.x',
      check: 'spike',
      reason: '9 samples beyond 6 MAD',
      value: 9,
      threshold: 5,
      bootId: 7,
      windowStartUs: 103_000_000,
      windowEndUs: 104_000_000,
    },
  );
  const recovered = integrity[3]?.payload;
  assert.equal(recovered?.check, 'spike', 'a recovery names the check that had flagged the channel');
  assert.equal(recovered.value, undefined);
  assert.match(recovered.reason, /^recovered/);
  assert.equal(s.events.stats().events, 4);
  // temperature stayed good throughout: no event for it.
  assert.ok(integrity.every((m) => m.payload.channel === 'accel.x'));
});

test('entering fail raises one alert (class alert), held off per channel; events are class integrity', () => {
  const s = setup(5);
  const seq: FlagStatus[] = ['fail', 'good', 'fail', 'good', 'good', 'good', 'good', 'fail'];
  seq.forEach((st, i) => {
    s.sink.push({ window: windowWith(i, st, st === 'good' ? [] : [spike(st, 9)]), counters });
  });
  const sent = s.sent();
  const alerts = sent.filter((m) => m.kind === 'alert');
  // Window 0 alerts; window 2 is within 5 windows of it (held off); window 7 is past the holdoff.
  assert.equal(alerts.length, 2);
  const a = alerts[0]?.payload;
  assert.ok(a !== undefined);
  assert.deepEqual(
    [a.severity, a.source, a.channel, a.value, a.threshold],
    ['warning', 'integrity', 'accel.x', 9, 5],
  );
  assert.equal(a.alertId, `${a.runId}-${a.msgSeq}`);
  assert.match(a.message, /accel\.x failed its spike check/);
  assert.equal(sent.filter((m) => m.kind === 'integrity').length, 5); // windows 0, 1, 2, 3 and 7 changed it
  const classes = new Set(s.classes());
  assert.deepEqual([...classes].sort(), ['alert', 'integrity', 'telemetry']);
});

test('msgSeq: events and alerts share the run sequence with telemetry, no holes', () => {
  const s = setup();
  s.sink.push({ window: windowWith(0, 'fail', [spike('fail', 9)]), counters });
  s.sink.push({ window: windowWith(1, 'good'), counters });
  const seqs = s.outbox
    .take({ maxMessages: 100 })
    .map((m) => {
      const d = decodeMessage(m.topic, m.payload);
      assert.ok(d.ok && d.value.kind !== 'raw');
      return d.value.payload.msgSeq;
    })
    .sort((x, y) => x - y);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
});

test('raiseAlert enqueues a model alert with its code and wakes the publisher', () => {
  const sequence = createMessageSequence(9);
  const outbox = new MemoryOutbox({ clock: { nowMs: () => 1000 } });
  let woken = 0;
  const r = raiseAlert(
    {
      builder: new AlertBuilder({ deviceId: 'pump-07', sequence }),
      outbox,
      notify: () => {
        woken++;
      },
    },
    {
      severity: 'warning',
      source: 'model',
      message: 'rolled back',
      code: 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS',
    },
  );
  assert.ok(r.ok);
  assert.equal(woken, 1);
  const [m] = outbox.take({ maxMessages: 10 });
  assert.equal(m?.class, 'alert');
  const d = decodeMessage(m.topic, m.payload);
  assert.ok(d.ok && d.value.kind === 'alert');
  assert.equal(d.value.payload.code, 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS');
});
