// Issue #9 §8 "Real ops tools": Debian's `prometheus` scrapes a real collector (embedded broker, SQLite,
// HTTP on port 0) and loads the shipped alerting rules (docs/ops/prometheus-rules.yml). Passes when
// Prometheus reports the target up, holds edgeloop_collector_* series, and evaluates every rule healthily.
// Without the prometheus binary it skips locally and fails under CI (test/helpers/tools.ts).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCollector } from './collector-fixture.ts';

const rulesFile = new URL('../../docs/ops/prometheus-rules.yml', import.meta.url).pathname;

/** A port free right now (bind 0, read it, release it): Prometheus takes no port 0 for its web listener. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  assert.ok(typeof address === 'object' && address !== null);
  return address.port;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface PromResponse<T> {
  readonly status: string;
  readonly data: T;
}

test(
  'Debian prometheus scrapes the collector and evaluates the shipped rules',
  { timeout: 120_000 },
  async (t) => {
    if (!requireTool(t, haveCommand('prometheus', ['--version']), 'prometheus', 'apt-get install prometheus'))
      return;
    const fx = await startTestCollector();
    t.after(() => fx.close());
    await waitFor('collector subscriber connected', () => fx.collector.connected());

    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-prometheus-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const target = new URL(fx.collector.httpUrl).host;
    const config = join(dir, 'prometheus.yml');
    // The job name the rules match (docs/ops/prometheus.yml); short intervals so the test does not wait.
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(rulesFile)}`,
        'scrape_configs:',
        '  - job_name: edgeloop-collector',
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const output: string[] = [];
    const prom = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout.on('data', (b: Buffer) => output.push(b.toString()));
    prom.stderr.on('data', (b: Buffer) => output.push(b.toString()));
    t.after(() => stop(prom));
    const alive = (): void => {
      if (prom.exitCode !== null) throw new Error(`prometheus exited ${prom.exitCode}:\n${output.join('')}`);
    };

    async function api<T>(path: string): Promise<T | undefined> {
      alive();
      try {
        const r = await fetch(`${base}${path}`);
        if (!r.ok) return undefined;
        const body = (await r.json()) as PromResponse<T>;
        return body.status === 'success' ? body.data : undefined;
      } catch {
        return undefined; // not listening yet
      }
    }
    type Vector = { result: { metric: Record<string, string>; value: [number, string] }[] };
    const query = (q: string) => api<Vector>(`/api/v1/query?query=${encodeURIComponent(q)}`);

    const wait = { timeoutMs: 60_000, intervalMs: 250 };
    await waitFor(
      () => `up{job="edgeloop-collector"} == 1\n${output.join('').slice(-2000)}`,
      async () => (await query('up{job="edgeloop-collector"}'))?.result[0]?.value[1] === '1',
      wait,
    );
    await waitFor(
      'edgeloop_collector_subscriber_connected scraped as 1',
      async () =>
        (await query('edgeloop_collector_subscriber_connected{job="edgeloop-collector"}'))?.result[0]
          ?.value[1] === '1',
      wait,
    );
    const names = await api<string[]>('/api/v1/label/__name__/values');
    for (const n of [
      'edgeloop_collector_messages_accepted_total',
      'edgeloop_collector_last_commit_timestamp_seconds',
      'edgeloop_collector_ingest_lag_seconds_bucket',
      'edgeloop_collector_monitor_cycle_seconds_count',
    ])
      assert.ok(
        names?.includes(n),
        `${n} not scraped (have ${String(names?.filter((x) => x.startsWith('edgeloop')))})`,
      );

    // Every rule loaded and evaluated against the real series without error.
    type Rules = {
      groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[];
    };
    let rules: Rules | undefined;
    await waitFor(
      () =>
        `every rule evaluated healthily: ${JSON.stringify(rules?.groups.flatMap((g) => g.rules.map((r) => [r.name, r.health, r.lastError])))}`,
      async () => {
        rules = await api<Rules>('/api/v1/rules');
        const all = rules?.groups.flatMap((g) => g.rules) ?? [];
        return all.length === 9 && all.every((r) => r.health === 'ok');
      },
      wait,
    );
    assert.deepEqual(
      rules?.groups.map((g) => g.name),
      ['edgeloop-collector'],
    );
    // A healthy collector fires none of them.
    const firing = await api<{ alerts: { labels: Record<string, string>; state: string }[] }>(
      '/api/v1/alerts',
    );
    assert.deepEqual(
      firing?.alerts.filter((a) => a.state === 'firing'),
      [],
    );
  },
);
