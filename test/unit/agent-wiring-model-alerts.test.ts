// Issue #8 §1: a model update that ends FAILED or ROLLED_BACK raises an edge alert (source "model", with
// the failure's code) through the outbox in class alert; other transitions raise none.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { MqttLink } from '../../agent/adapters/mqtt.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { AlertBuilder, raiseAlert } from '../../agent/publish/alerts.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { StatusReporter } from '../../agent/publish/status.ts';
import { createModelStates } from '../../agent/runtime/models.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import { noopLogger } from '../../shared/platform/logger.ts';

test('FAILED and ROLLED_BACK model states raise a model alert; others do not', () => {
  const sequence = createMessageSequence(5);
  const outbox = new MemoryOutbox({ clock: { nowMs: () => 1000 } });
  const builder = new AlertBuilder({ deviceId: 'pump-07', sequence });
  const offlineLink = {
    connected: false,
    subscribe: () => undefined,
    onEvent: () => () => undefined,
    onMessage: () => () => undefined,
  } as unknown as MqttLink;
  const wiring = createModelStates({
    config: { deviceId: 'pump-07', registry: '' } as unknown as AgentConfig,
    sequence,
    clock: { nowMs: () => 1000 },
    link: offlineLink,
    status: new StatusReporter({ deviceId: 'pump-07', agentVersion: '0.1.0', sequence }),
    metrics: { setActiveModel: () => undefined },
    log: noopLogger,
    raiseAlert: (a) => {
      const r = raiseAlert({ builder, outbox }, a);
      assert.ok(r.ok);
    },
  });
  const v3 = { name: 'pump', version: '3' };
  const v4 = { name: 'pump', version: '4' };
  const base = { deploySeq: 12, target: v4, active: v3, reason: 'x', code: null };
  wiring.report({ ...base, state: 'DOWNLOADING' });
  wiring.report({ ...base, state: 'COMMITTED', active: v4 });
  assert.equal(outbox.stats().depth, 0, 'no alert for a good transition');
  wiring.report({
    ...base,
    state: 'ROLLED_BACK',
    reason: 'error rate 4% over 1%',
    code: 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS',
  });
  wiring.report({ ...base, state: 'FAILED', reason: 'bad signature', code: 'EDGELOOP_ERR_BUNDLE_SIGNATURE' });
  const alerts = outbox.take({ maxMessages: 10 }).map((m) => {
    assert.equal(m.class, 'alert');
    const d = decodeMessage(m.topic, m.payload);
    assert.ok(d.ok && d.value.kind === 'alert');
    return d.value.payload;
  });
  assert.deepEqual(
    alerts.map((a) => [a.source, a.severity, a.code]),
    [
      ['model', 'warning', 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS'],
      ['model', 'warning', 'EDGELOOP_ERR_BUNDLE_SIGNATURE'],
    ],
  );
  assert.match(alerts[0]?.message ?? '', /rolled back \(pump@4\): error rate 4% over 1%/);
});
