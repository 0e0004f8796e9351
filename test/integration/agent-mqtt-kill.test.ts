// Agent killed (issue #4 §6): a child process runs the agent's publishing path (SQLite outbox → publisher →
// MQTT link) and streams windows; it is SIGKILLed mid-stream and a new process is started on the same
// outbox file. Every window whose enqueue the first process reported (enqueue returned = committed) must
// reach the subscriber; duplicates are only redeliveries of an already seen (runId, msgSeq), which
// SequenceTracker drops; the broker publishes the killed agent's last will.
//
// This file is both the test and the child: with EDGELOOP_AGENT_KILL_CHILD set, it is the agent.

import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { openSqliteOutbox } from '../../agent/outbox/sqlite-outbox.ts';
import { sleep, startAedes, startAgentStack, Subscriber } from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

const DEVICE = 'kill-dev';

async function runChild(): Promise<void> {
  const env = process.env;
  const outbox = openSqliteOutbox(env.EDGELOOP_AGENT_KILL_DB as string, {
    clock: { nowMs: () => Date.now() },
    replayRatePerSec: 1000,
  });
  const agent = startAgentStack({ url: env.EDGELOOP_AGENT_KILL_URL as string, deviceId: DEVICE, outbox });
  const first = Number(env.EDGELOOP_AGENT_KILL_FIRST);
  const count = Number(env.EDGELOOP_AGENT_KILL_COUNT ?? 'Infinity');
  await waitFor('connect', () => agent.publisher.stats().connected);
  for (let i = first; i < first + count; i++) {
    agent.pushWindow(i);
    // Written after the enqueue committed; pipes are written synchronously on Linux.
    process.stdout.write(`E ${agent.sequence.runId} ${agent.sequence.last} ${i}\n`);
    await sleep(4);
  }
  await waitFor('outbox drained', () => outbox.stats().depth === 0, { timeoutMs: 20_000 });
  await agent.close();
  outbox.close();
  process.stdout.write('DONE\n');
}

if (process.env.EDGELOOP_AGENT_KILL_CHILD === '1') {
  await runChild();
} else {
  test(
    'SIGKILL mid-stream and restart on the same outbox: nothing acknowledged is lost',
    { timeout: 90_000 },
    async (t) => {
      const broker = await startAedes();
      t.after(() => broker.close());
      const dir = mkdtempSync(join(tmpdir(), 'edgeloop-agent-kill-'));
      t.after(() => {
        rmSync(dir, { recursive: true, force: true });
      });
      const db = join(dir, 'outbox.db');
      const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${DEVICE}/#`);
      t.after(() => sub.close());

      const reported = new Map<string, number>(); // "runId:msgSeq" → window index
      let done = false;
      const spawnChild = (firstIndex: number, count?: number): ChildProcess => {
        const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
          env: {
            ...process.env,
            EDGELOOP_AGENT_KILL_CHILD: '1',
            EDGELOOP_AGENT_KILL_DB: db,
            EDGELOOP_AGENT_KILL_URL: broker.url,
            EDGELOOP_AGENT_KILL_FIRST: String(firstIndex),
            ...(count === undefined ? {} : { EDGELOOP_AGENT_KILL_COUNT: String(count) }),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        t.after(() => {
          if (child.exitCode === null) child.kill('SIGKILL');
        });
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
          if (line === 'DONE') done = true;
          const [tag, runId, seq, index] = line.split(' ');
          if (tag === 'E') reported.set(`${runId}:${seq}`, Number(index));
        });
        return child;
      };

      // Run 1: killed once it has enqueued a few hundred windows, at whatever point it is in.
      const a = spawnChild(0);
      await waitFor('the first agent to stream', () => reported.size >= 300, { timeoutMs: 30_000 });
      const exited = new Promise((r) => a.once('exit', r));
      a.kill('SIGKILL');
      await exited;
      const firstRun = new Map(reported);
      const runA = Number([...firstRun.keys()][0]?.split(':')[0]);

      // The broker noticed the dead socket and published the will of run A.
      await waitFor('the last will of the killed agent', () =>
        sub.of('status').some((m) => m.payload.reason === 'lwt' && m.payload.runId === runA),
      );

      // Run 2 on the same file: streams 100 more windows, replays what run 1 left, then exits cleanly.
      spawnChild(100_000, 100);
      await waitFor('the second agent to drain its outbox', () => done, { timeoutMs: 60_000 });
      await waitFor('every reported window at the subscriber', () => {
        const got = new Set(sub.of('telemetry').map((m) => `${m.payload.runId}:${m.payload.msgSeq}`));
        return [...reported.keys()].every((k) => got.has(k));
      });

      assert.deepEqual(sub.invalid, []);
      const telemetry = sub.of('telemetry');
      const got = new Map(
        telemetry.map((m) => [`${m.payload.runId}:${m.payload.msgSeq}`, m.payload.window.index]),
      );
      for (const [k, index] of reported)
        assert.equal(got.get(k), index, `window ${index} (${k}) delivered intact`);
      // Anything else received was enqueued by run A just before the kill, before it could report it.
      for (const [k, index] of got) {
        if (reported.has(k)) continue;
        assert.ok(k.startsWith(`${runA}:`) && index > Math.max(...firstRun.values()), `unexpected ${k}`);
      }
      // Each window exactly once after dedup.
      assert.equal(new Set(telemetry.map((m) => m.payload.window.index)).size, telemetry.length);
      assert.equal(sub.trackers.size, 2, 'two runs, two streams');

      const outbox = openSqliteOutbox(db, { clock: { nowMs: () => Date.now() } });
      t.after(() => {
        outbox.close();
      });
      assert.equal(outbox.stats().depth, 0, 'the restarted agent delivered and deleted everything');
      t.diagnostic(
        `reported ${reported.size}, received ${telemetry.length}, duplicates dropped ${sub.duplicates}`,
      );
    },
  );
}
