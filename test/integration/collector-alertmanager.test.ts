// Issue #9 §6 with the real Prometheus Alertmanager (Debian's prometheus-alertmanager): the collector posts
// our alerts to its v2 API, Alertmanager routes them by our labels to webhook receivers (local HTTP servers
// here), and a resolve reaches the receiver as a resolved notification.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createAlertmanagerChannel } from '../../collector/alerts/alertmanager.ts';
import { AlertManager } from '../../collector/alerts/manager.ts';
import { systemClock } from '../../shared/platform/clock.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { freePort } from './agent-mqtt-fixture.ts';
import {
  countingObserver,
  obs,
  startReceiver,
  tempStore,
  type Receiver,
} from '../unit/collector-alerts-fixture.ts';

const AM = 'prometheus-alertmanager';
const haveAlertmanager = haveCommand(AM, ['--version']);

interface AmNotification {
  readonly status: 'firing' | 'resolved';
  readonly alerts: readonly {
    readonly status: string;
    readonly labels: Record<string, string>;
    readonly annotations: Record<string, string>;
    readonly startsAt: string;
    readonly endsAt: string;
    readonly generatorURL: string;
  }[];
}

const notifications = (r: Receiver, path: string): AmNotification[] =>
  r.requests.filter((q) => q.url === path).map((q) => JSON.parse(q.body) as AmNotification);

/** Alertmanager on a free port with a config that routes critical drift to /drift and the rest to /default. */
async function startAlertmanager(t: TestContext, receiverUrl: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-am-'));
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: default',
      "  group_by: ['alertname', 'device', 'subject']",
      '  group_wait: 100ms',
      '  group_interval: 200ms',
      '  repeat_interval: 1h',
      '  routes:',
      '    - receiver: drift-critical',
      '      matchers: [\'alertname="EdgeloopDrift"\', \'severity="critical"\']',
      'receivers:',
      '  - name: default',
      `    webhook_configs: [{ url: '${receiverUrl}/default', send_resolved: true }]`,
      '  - name: drift-critical',
      `    webhook_configs: [{ url: '${receiverUrl}/drift', send_resolved: true }]`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let log = '';
  t.after(async () => {
    const c = child;
    if (c !== undefined && c.exitCode === null)
      await new Promise<void>((resolve) => {
        c.once('exit', () => {
          resolve();
        });
        c.kill('SIGTERM');
      });
    rmSync(dir, { recursive: true, force: true });
  });
  // freePort can race with another process: try a few ports.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const c = spawn(
      AM,
      [
        `--config.file=${config}`,
        `--storage.path=${dir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // No cluster: a single instance that opens no gossip port.
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    c.stderr.on('data', (d: Buffer) => {
      if (log.length < 64 * 1024) log += d.toString();
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor(
        () => `alertmanager ready on ${url} (log: ${log})`,
        async () => {
          if (c.exitCode !== null) throw new Error(`alertmanager exited: ${log}`);
          return fetch(`${url}/-/ready`).then(
            (r) => r.ok,
            () => false,
          );
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      return url;
    } catch (e) {
      c.kill('SIGKILL');
      if (!log.includes('address already in use') || attempt === 5) throw e;
      log = '';
    }
  }
  throw new Error('unreachable');
}

test(
  'Alertmanager receives our alerts, routes them by our labels, and gets the resolve',
  { timeout: 90_000 },
  async (t) => {
    if (!requireTool(t, haveAlertmanager, AM, 'apt-get install prometheus-alertmanager')) return;
    const rx = await startReceiver(t);
    const amUrl = await startAlertmanager(t, rx.url);
    const observer = countingObserver();
    const channel = createAlertmanagerChannel({
      url: amUrl,
      clock: systemClock,
      observer,
      collectorUrl: 'http://collector.example:8080',
    });
    t.after(() => channel.close());
    const { store } = tempStore(t);
    const manager = new AlertManager({
      store,
      clearAfter: 2,
      notify: (e) => {
        channel.notify(e);
      },
    });

    const now = Date.now();
    manager.handle(
      [
        obs({ severity: 'critical', atMs: now }),
        obs({
          kind: 'integrity',
          check: 'integrity.stale',
          deviceId: 'dev-2',
          subject: null,
          severity: 'warning',
          cause: 'unknown',
          action: { kind: 'check_connectivity', automatic: false },
          evidence: [
            { method: 'stale', statistic: 900, threshold: 300, thresholdOrigin: 'config', unit: 's' },
          ],
          summary: 'dev-2 silent for 900 s (stale after 300 s)',
          atMs: now,
        }),
      ],
      now,
    );
    await channel.idle();
    assert.equal(observer.counts['sent:alertmanager'], 2, JSON.stringify(observer.counts));

    await waitFor(
      'the drift route to fire',
      () => notifications(rx, '/drift').some((n) => n.status === 'firing'),
      {
        timeoutMs: 30_000,
      },
    );
    await waitFor('the default route to fire', () => notifications(rx, '/default').length > 0, {
      timeoutMs: 30_000,
    });
    const drift = notifications(rx, '/drift').find((n) => n.status === 'firing')!.alerts[0]!;
    assert.deepEqual(drift.labels, {
      alertname: 'EdgeloopDrift',
      severity: 'critical',
      kind: 'drift',
      check: 'drift.model_reference',
      device: 'dev-1',
      subject: 'accel.x',
      cause: 'calibration_drift',
    });
    assert.equal(drift.annotations.summary, obs().summary);
    assert.match(
      drift.annotations.description ?? '',
      /wasserstein: statistic 0\.42 vs threshold 0\.2 \(calibrated_p99\), effect 2\.4σ \/ 0\.31 g/,
    );
    assert.equal(drift.annotations.action, 'recalibrate_sensor');
    assert.equal(drift.annotations.reference, 'model_reference pump-anomaly@1.2.0');
    const id = store.alerts({ deviceId: 'dev-1' })[0]!.id;
    assert.equal(drift.generatorURL, `http://collector.example:8080/api/v1/alerts/${id}`);
    const integrity = notifications(rx, '/default')[0]!.alerts[0]!;
    assert.equal(integrity.labels.alertname, 'EdgeloopIntegrity');
    assert.equal(integrity.labels.device, 'dev-2');
    assert.equal(integrity.labels.subject, undefined, 'no subject label for a whole-device alert');
    assert.equal(
      notifications(rx, '/default').some((n) => n.alerts.some((a) => a.labels.alertname === 'EdgeloopDrift')),
      false,
    );

    // Alertmanager's own view agrees.
    const active = (await (await fetch(`${amUrl}/api/v2/alerts?active=true`)).json()) as {
      labels: Record<string, string>;
    }[];
    assert.equal(active.length, 2);

    // The drift clears: after clearAfter inactive evaluations the resolve reaches the receiver.
    manager.handle([obs({ active: false })], Date.now());
    manager.handle([obs({ active: false })], Date.now());
    await channel.idle();
    await waitFor(
      'the resolved notification',
      () => notifications(rx, '/drift').some((n) => n.status === 'resolved'),
      {
        timeoutMs: 30_000,
      },
    );
    const resolved = notifications(rx, '/drift').find((n) => n.status === 'resolved')!.alerts[0]!;
    assert.equal(resolved.labels.subject, 'accel.x');
    assert.ok(Date.parse(resolved.endsAt) <= Date.now());
    assert.equal(observer.counts['failed:alertmanager'] ?? 0, 0);
  },
);
