// Every alert kind the collector raises (collector/alerts/details.ts alertKinds) fits the published alert
// payload contract (shared/mqtt/schemas.ts alertDetailsSchema, which MQTT and webhook receivers validate
// against) and has its own Alertmanager alertname. `model_update` once had neither.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alertLabels } from '../../collector/alerts/alertmanager.ts';
import { alertKinds } from '../../collector/alerts/details.ts';
import type { AlertRecord } from '../../collector/storage/types.ts';
import { alertDetailsSchema } from '../../shared/mqtt/schemas.ts';

test('each alert kind passes the published details schema and has its own alertname', () => {
  const names = new Set<string>();
  for (const kind of alertKinds) {
    const details = {
      kind,
      check: `${kind}.check`,
      subject: null,
      summary: 'summary',
      atMs: 1,
      sinceMs: null,
      window: null,
      evidence: [],
      reference: null,
      cause: null,
      action: null,
    };
    const parsed = alertDetailsSchema.safeParse(details);
    assert.ok(parsed.success, `${kind}: ${JSON.stringify(parsed.error?.issues)}`);
    const record: AlertRecord = {
      id: 1,
      dedupKey: `${kind}.check|*|*`,
      kind,
      severity: 'warning',
      deviceId: null,
      channel: null,
      message: 'm',
      state: 'open',
      openedMs: 1,
      lastSeenMs: 1,
      occurrences: 1,
      acknowledgedMs: null,
      acknowledgedBy: null,
      resolvedMs: null,
      details,
    };
    const name = alertLabels(record).alertname ?? '';
    assert.match(name, /^Edgeloop[A-Z]\w+$/);
    assert.notEqual(name, 'EdgeloopAlert', `${kind} has a name of its own`);
    names.add(name);
  }
  assert.equal(names.size, alertKinds.length, 'one alertname per kind');
});
