// Issue #8 §1: a `sensor-faults` run (spikes on accel.x from 60 s, clipping on gyro.y from 180 s) through
// the real ingest pipeline and integrity checks into the window sink. Before the fix nothing was ever
// published on .../integrity or .../alerts; now every change of a channel's worst status is one integrity
// event (alternating per channel, each naming the window), and entering fail raises an alert.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runSim } from '../../firmware-sim/run.ts';
import { parseScenarioText } from '../../firmware-sim/scenario.ts';
import { IngestPipeline } from '../../agent/ingest/pipeline.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { AlertBuilder } from '../../agent/publish/alerts.ts';
import { IntegrityEvents } from '../../agent/publish/integrity-events.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { TelemetryBuilder } from '../../agent/publish/telemetry.ts';
import { WindowSink } from '../../agent/publish/window-sink.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import type { AlertPayload, IntegrityEventPayload, TelemetryPayload } from '../../shared/mqtt/schemas.ts';

test('sensor-faults: integrity events on each status change and an alert per failing channel', async (t) => {
  const text = readFileSync(
    new URL('../../firmware-sim/scenarios/sensor-faults.json', import.meta.url),
    'utf8',
  );
  const scenario = parseScenarioText(text, 'sensor-faults.json');
  assert.ok(scenario.ok, scenario.ok ? '' : scenario.message);

  const sequence = createMessageSequence(1);
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() }, maxOutboxBytes: 512 * 1024 * 1024 });
  const events = new IntegrityEvents({
    deviceId: 'sim-01',
    sequence,
    alerts: new AlertBuilder({ deviceId: 'sim-01', sequence }),
  });
  const sink = new WindowSink({
    outbox,
    telemetry: new TelemetryBuilder({ deviceId: 'sim-01', sequence }),
    integrity: events,
  });
  const counters = { framesDecoded: 0, framesInvalid: 0, samples: 0, gaps: 0, samplesMissing: 0, windows: 0 };
  let clockUs = 0;
  const pipeline = new IngestPipeline(
    { mode: 'binary', windowMs: 1000, nowUs: () => (clockUs += 100) },
    (w) => {
      const r = sink.push({ window: w, counters });
      assert.ok(r.ok, r.ok ? '' : r.message);
    },
    () => undefined,
  );
  await runSim({
    scenario: scenario.value,
    seed: 1,
    durationS: 240,
    speed: 'max',
    out: {
      kind: 'stream',
      target: '-',
      write: (bytes) => {
        pipeline.push(Buffer.from(bytes));
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    },
  });
  pipeline.flush();

  const integrity: IntegrityEventPayload[] = [];
  const alerts: AlertPayload[] = [];
  const telemetry: TelemetryPayload[] = [];
  for (const m of outbox.take({ maxMessages: 100_000 })) {
    const d = decodeMessage(m.topic, m.payload);
    assert.ok(d.ok, d.ok ? '' : d.message);
    if (d.value.kind === 'integrity') {
      assert.equal(m.class, 'integrity');
      integrity.push(d.value.payload);
    } else if (d.value.kind === 'alert') {
      assert.equal(m.class, 'alert');
      alerts.push(d.value.payload);
    } else if (d.value.kind === 'telemetry') telemetry.push(d.value.payload);
  }
  assert.ok(telemetry.length >= 200, `${telemetry.length} windows`);

  // The faults the telemetry flags show are what the events report.
  const failed = (ch: string, check: string): number =>
    telemetry.filter((t) =>
      t.integrity.flags.some((f) => f.channel === ch && f.check === check && f.status === 'fail'),
    ).length;
  assert.ok(failed('accel.x', 'spike') > 0, 'the scenario flags spikes on accel.x');
  assert.ok(failed('gyro.y', 'clipping') > 0, 'the scenario flags clipping on gyro.y');
  for (const [ch, check] of [
    ['accel.x', 'spike'],
    ['gyro.y', 'clipping'],
  ] as const) {
    const mine = integrity.filter((e) => e.channel === ch);
    const toFail = mine.find((e) => e.status === 'fail');
    assert.ok(toFail !== undefined, `${ch} has an event entering fail`);
    assert.equal(toFail.check, check);
    assert.ok(
      toFail.value !== undefined && toFail.threshold !== undefined,
      `${ch} event has value and threshold`,
    );
    assert.ok(toFail.reason.length > 0);
    assert.ok(
      alerts.some((a) => a.source === 'integrity' && a.channel === ch),
      `${ch} raised an alert`,
    );
  }
  // Per channel, events chain: each previousStatus is the status the last event set, starting at good, and
  // each event names a window whose telemetry shows that status for the channel.
  const byWindow = new Map(telemetry.map((t) => [t.window.index, t]));
  const last = new Map<string, string>();
  for (const e of integrity) {
    assert.equal(e.previousStatus, last.get(e.channel) ?? 'good', `${e.channel} at window ${e.windowIndex}`);
    assert.notEqual(e.status, e.previousStatus);
    last.set(e.channel, e.status);
    assert.equal(byWindow.get(e.windowIndex)?.integrity.channels[e.channel], e.status);
  }
  // A status change event per change, and no more: count the changes in the telemetry itself.
  let changes = 0;
  const seen = new Map<string, string>();
  for (const t of telemetry)
    for (const [ch, st] of Object.entries(t.integrity.channels)) {
      if (st !== (seen.get(ch) ?? 'good')) changes++;
      seen.set(ch, st);
    }
  assert.equal(integrity.length, changes);
  assert.ok(alerts.length <= integrity.length);
  t.diagnostic(`windows ${telemetry.length}, integrity events ${integrity.length}, alerts ${alerts.length}`);
});
