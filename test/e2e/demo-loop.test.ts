// Issue 11 §4: `edgeloop demo` as a user runs it, the real CLI as a child process (its collector with the
// embedded broker, registry and store; three boards on real ptys; three real `edgeloop agent` processes;
// the retraining child). The summary must show the loop: the drift alert on the recalibrated device names
// accel with calibration drift; the stuck device has an integrity alert on accel.z and is in no update
// request, nor is the device whose room warmed; the model changed fleet-wide, or was rolled back with a
// reason; nothing was lost. The same seed gives the same story alerts. The first run trains the baseline,
// the second takes it from the cache. Each run removes its temporary data directory and leaves no process.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DemoSummary } from '../../cli/demo/summary.ts';
import { processesNaming } from '../helpers/processes.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
  readonly summary: DemoSummary;
  readonly dataDir: string;
}

async function demo(cache: string, summaryFile: string): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      bin,
      'demo',
      '--devices',
      '3',
      '--duration',
      '1500',
      '--speed',
      '8',
      '--seed',
      '1',
      '--summary-json',
      summaryFile,
    ],
    {
      env: { ...process.env, XDG_CACHE_HOME: cache, EDGELOOP_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const dataDir = /^data directory (\S+)/m.exec(out)?.[1] ?? '';
  assert.ok(existsSync(summaryFile), `no summary written:\n${out}\n${err}`);
  return { code, out, err, summary: JSON.parse(readFileSync(summaryFile, 'utf8')) as DemoSummary, dataDir };
}

const storyAlerts = (s: DemoSummary): string[] =>
  s.alerts.filter((a) => a.story).map((a) => `${a.deviceId}|${a.kind}|${a.subject}|${a.cause ?? ''}`);

test(
  'edgeloop demo: the whole loop, its summary, and the same alerts from the same seed',
  { timeout: 580_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-demo-e2e-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const cache = join(dir, 'cache');
    const first = await demo(cache, join(dir, 'first.json'));
    const s = first.summary;
    t.diagnostic(
      `first run: ${String(s.wallS)} s wall, ${String(s.deviceTimeS)} s device time, outcome ${s.outcome}`,
    );
    assert.equal(first.code, 0, `${first.out}\n${first.err}`);
    // The dashboard's URL comes before the story.
    const lines = first.out.split('\n');
    const urlAt = lines.findIndex((l) => /^dashboard http:\/\/127\.0\.0\.1:\d+\//.test(l));
    assert.ok(urlAt >= 0 && urlAt < lines.findIndex((l) => l.startsWith('the story')), first.out);
    assert.match(first.out, /baseline model pump-condition@1\.0\.0: trained/);

    const alertsOf = (deviceId: string) => s.alerts.filter((a) => a.deviceId === deviceId);
    // pump-1 was recalibrated: a drift alert on accel, calibration drift; the only device in a request.
    assert.ok(
      alertsOf('pump-1').some(
        (a) => a.kind === 'drift' && a.subject === 'accel' && a.cause === 'calibration_drift',
      ),
      JSON.stringify(s.alerts),
    );
    assert.deepEqual(
      s.updateRequests.map((r) => r.devices),
      [['pump-1']],
      JSON.stringify(s.updateRequests),
    );
    // pump-2's accelerometer stuck: an integrity alert on accel.z, and no update request about it.
    assert.ok(
      alertsOf('pump-2').some((a) => a.kind === 'integrity' && a.subject === 'accel.z'),
      JSON.stringify(alertsOf('pump-2')),
    );
    assert.ok(!alertsOf('pump-2').some((a) => a.kind === 'drift' && a.subject === 'accel'));
    // pump-3's room warmed: an environment alert.
    assert.ok(
      alertsOf('pump-3').some((a) => a.kind === 'environment'),
      JSON.stringify(alertsOf('pump-3')),
    );

    // The model changed fleet-wide, or it was rolled back with a reason.
    assert.ok(['updated', 'rolled_back'].includes(s.outcome), `${s.outcome}\n${first.out.slice(-6000)}`);
    if (s.outcome === 'updated') {
      assert.notEqual(s.modelAfter, s.modelBefore);
      for (const d of s.devices) assert.equal(d.modelAfter, s.modelAfter, d.deviceId);
      assert.equal(s.rollout?.state, 'completed');
    } else {
      assert.ok((s.rollout?.reason ?? '') !== '', JSON.stringify(s.rollout));
      for (const d of s.devices) assert.equal(d.modelAfter, s.modelBefore, d.deviceId);
    }
    assert.deepEqual(s.lost, { messages: 0, samples: 0 });
    for (const d of s.devices) assert.ok(d.windows > 100, `${d.deviceId}: ${String(d.windows)} windows`);
    // The summary table is printed too.
    assert.match(first.out, /^outcome: (updated|rolled back)$/m);
    assert.match(first.out, /^lost: 0 messages, 0 samples$/m);

    // Nothing left behind: the temporary data directory and every process that named it.
    assert.ok(first.dataDir !== '' && !existsSync(first.dataDir), first.dataDir);
    assert.deepEqual(processesNaming(first.dataDir), []);

    const second = await demo(cache, join(dir, 'second.json'));
    t.diagnostic(
      `second run: ${String(second.summary.wallS)} s wall, outcome ${second.summary.outcome}${second.summary.rollout?.reason == null ? '' : ` (${second.summary.rollout.reason})`}`,
    );
    assert.equal(second.code, 0, `${second.out}\n${second.err}`);
    assert.match(second.out, /baseline model pump-condition@1\.0\.0: from the cache/);
    assert.deepEqual(
      storyAlerts(second.summary),
      storyAlerts(s),
      `first run:\n${first.out.slice(-6000)}\nsecond run:\n${second.out.slice(-6000)}`,
    );
  },
);
