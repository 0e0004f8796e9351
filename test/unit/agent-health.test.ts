// /healthz semantics (issue #8 §2): each documented reason makes the agent unhealthy once its limit is
// passed, and is named in the verdict; recovering clears it; a limit of 0 turns its check off.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { HealthMonitor } from '../../agent/health.ts';

const limits = {
  serialDownMaxMs: 10_000,
  brokerDownMaxMs: 60_000,
  outboxHighWaterPercent: 90,
  inferenceFailedWindows: 3,
};

function clock(): { readonly now: { nowMs(): number }; advance(ms: number): void } {
  let t = 1_000_000;
  return {
    now: { nowMs: () => t },
    advance: (ms) => {
      t += ms;
    },
  };
}

const roomy = { bytes: 10, maxBytes: 1000 };

test('healthy while serial and broker are up and nothing else is wrong', () => {
  const c = clock();
  const h = new HealthMonitor(limits, c.now);
  h.serial(true);
  h.broker(true);
  c.advance(3_600_000);
  assert.deepEqual(h.check(roomy), { healthy: true, reasons: [] });
});

test('serial disconnected longer than its limit is unhealthy, with the reason; a reconnect clears it', () => {
  const c = clock();
  const h = new HealthMonitor(limits, c.now);
  h.serial(true);
  h.broker(true);
  h.serial(false);
  c.advance(10_000);
  assert.equal(h.check(roomy).healthy, true, 'at the limit, not past it');
  c.advance(5_000);
  const v = h.check(roomy);
  assert.equal(v.healthy, false);
  assert.deepEqual(
    v.reasons.map((r) => [r.reason, r.forMs, r.limit]),
    [['serial_disconnected', 15_000, 10_000]],
  );
  assert.match(v.reasons[0]?.message ?? '', /serial port disconnected for 15 s \(limit 10 s\)/);
  h.serial(false); // a second "lost" does not restart the clock
  h.serial(true);
  assert.equal(h.check(roomy).healthy, true);
});

test('a port that never opened and a broker never reached count from the start', () => {
  const c = clock();
  const h = new HealthMonitor(limits, c.now);
  c.advance(61_000);
  assert.deepEqual(
    h.check(roomy).reasons.map((r) => r.reason),
    ['serial_disconnected', 'broker_unreachable'],
  );
});

test('outbox above the high-water mark and failing inference are reasons too; limits of 0 disable', () => {
  const c = clock();
  const h = new HealthMonitor(limits, c.now);
  h.serial(true);
  h.broker(true);
  assert.equal(h.check({ bytes: 900, maxBytes: 1000 }).healthy, true);
  const full = h.check({ bytes: 950, maxBytes: 1000 });
  assert.deepEqual(
    full.reasons.map((r) => [r.reason, r.value, r.limit]),
    [['outbox_high_water', 95, 90]],
  );
  h.inference({ ok: false, message: 'input shape [1,191] != [1,192]' });
  h.inference(null); // a window no model served neither fails nor resets
  h.inference({ ok: false, message: 'x' });
  assert.equal(h.check(roomy).healthy, true);
  h.inference({ ok: false, message: 'session run failed' });
  const bad = h.check(roomy);
  assert.deepEqual(
    bad.reasons.map((r) => r.reason),
    ['inference_failing'],
  );
  assert.match(bad.reasons[0]?.message ?? '', /last 3 windows: session run failed/);
  h.inference({ ok: true });
  assert.equal(h.check(roomy).healthy, true);

  const off = new HealthMonitor(
    { serialDownMaxMs: 0, brokerDownMaxMs: 0, outboxHighWaterPercent: 0, inferenceFailedWindows: 0 },
    c.now,
  );
  c.advance(10 * 3_600_000);
  assert.equal(off.check({ bytes: 1000, maxBytes: 1000 }).healthy, true);
  off.stopping();
  assert.deepEqual(
    off.check(roomy).reasons.map((r) => r.reason),
    ['shutting_down'],
  );
});
