// Fleet mode's bound on publishes in flight, and what happens when PUBACKs never come
// (firmware-sim/fleet.ts; docs/firmware-sim.md §Fleet mode). In memory: a link whose publishes never settle.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { runFleet, type FleetLink } from '../../firmware-sim/fleet.ts';
import type { FleetMessage } from '../../firmware-sim/fleet-device.ts';
import { ok } from '../../shared/errors.ts';

test('a stalled broker stops the fleet at maxInFlight; unacknowledged publishes are errors, links dropped', async () => {
  const sc = loadScenario('steady');
  assert.ok(sc.ok);
  const ac = new AbortController();
  const sent: FleetMessage[] = [];
  const closes: (boolean | undefined)[] = [];
  const link: FleetLink = {
    publish(m) {
      sent.push(m);
      if (sent.length === 3) ac.abort(); // the fleet is now blocked on the bound
      return new Promise(() => undefined); // no PUBACK, ever
    },
    close(force) {
      closes.push(force);
      return Promise.resolve();
    },
  };
  const r = await runFleet({
    devices: 4,
    prefix: 'bp-',
    scenarioOf: () => sc.value,
    seed: 1,
    speed: 'max',
    durationS: 5,
    maxInFlight: 3,
    drainTimeoutMs: 50,
    connect: () => Promise.resolve(ok(link)),
    nowMs: () => Date.now(),
    sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    signal: ac.signal,
  });
  assert.ok(r.ok);
  assert.equal(r.value.aborted, true);
  // Blocked after 3 publishes (the bound) until the abort; then the rest of the online statuses and the
  // offline ones are handed over (the bound yields to the abort), no telemetry, none acknowledged.
  assert.equal(r.value.windows, 0);
  assert.equal(r.value.messages, 8);
  assert.equal(r.value.acked, 0);
  assert.equal(r.value.errors, r.value.messages);
  assert.equal(
    sent.slice(0, 3).every((m) => m.topic.endsWith('/status')),
    true,
  );
  assert.deepEqual(closes, [true, true, true, true]);
});
