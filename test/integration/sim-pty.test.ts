// A real virtual serial cable (socat) read through the real serialport binding: the simulator's bytes arrive
// intact, HELLO_REQUEST is answered, and unplug/replug makes the agent's port vanish and come back.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { SerialPort } from 'serialport';
import { createVirtualSerialPair, ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { parseScenario, type Scenario } from '../../firmware-sim/scenario.ts';
import { encodeWireFrame, FrameDecoder } from '../../shared/serial/decoder.ts';
import type { ReceivedFrame } from '../../shared/serial/frames.ts';
import { waitFor } from '../helpers/wait.ts';

function scenario(value: Record<string, unknown>): Scenario {
  const r = parseScenario({ name: 't', ...value }, 't');
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

interface Reader {
  port: SerialPort;
  frames: ReceivedFrame[];
  invalid: number;
  bytes: number;
  close(): Promise<void>;
}

async function openReader(path: string): Promise<Reader> {
  const port = new SerialPort({ path, baudRate: 921_600, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  port.on('error', () => undefined);
  const decoder = new FrameDecoder();
  const r: Reader = {
    port,
    frames: [],
    invalid: 0,
    bytes: 0,
    async close() {
      if (port.isOpen)
        await new Promise<void>((resolve) => {
          port.close(() => {
            resolve();
          });
        });
    },
  };
  port.on('data', (chunk: Buffer) => {
    r.bytes += chunk.length;
    decoder.push(chunk, (e) => {
      if (e.ok) r.frames.push(e.frame);
      else r.invalid++;
    });
  });
  return r;
}

/** A directory for the test's pty links and files, removed after the test. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sim-pty-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test('socat missing -> EDGELOOP_ERR_PTY naming apt-get install socat', { timeout: 30_000 }, async () => {
  const r = await createVirtualSerialPair({ socat: 'socat-that-does-not-exist' });
  assert.ok(!r.ok);
  assert.equal(r.code, 'EDGELOOP_ERR_PTY');
  assert.match(r.message, /apt-get install socat/);
});

test(
  'pty: every byte arrives intact through serialport; HELLO_REQUEST is answered',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir(t);
    const out = await ptyOutput({ dir });
    assert.ok(out.ok, out.ok ? '' : out.message);
    t.after(() => out.value.close());
    assert.equal(out.value.target, join(dir, 'port'));
    const reader = await openReader(out.value.target);
    t.after(() => reader.close());
    // Ask for HELLO as soon as the first frame arrives, while the run is still going.
    let asked = false;
    reader.port.on('data', () => {
      if (asked) return;
      asked = true;
      reader.port.write(encodeWireFrame({ type: 'helloRequest', seq: 0 }));
    });
    const summary = await runSim({
      scenario: scenario({ heartbeatS: 5 }),
      seed: 5,
      durationS: 30,
      speed: 20,
      out: out.value,
    });
    await waitFor('all bytes', () => reader.bytes >= summary.bytes);
    assert.equal(reader.bytes, summary.bytes);
    assert.equal(reader.invalid, 0);
    assert.equal(reader.frames.length, summary.groundTruth.frames.intact);
    reader.frames.forEach((f, i) => {
      assert.equal(f.seq, i, 'unbroken sequence');
    });
    assert.ok(summary.helloRequests >= 1);
    assert.ok(reader.frames.filter((f) => f.type === 'hello').length >= 2, 'HELLO answered');
    const accel = reader.frames
      .filter((f) => f.type === 'samples' && f.sensorId === 0)
      .reduce((a, f) => a + (f.type === 'samples' ? f.count : 0), 0);
    assert.equal(accel, 30_000);
  },
);

test(
  'pty: unplug removes the port, replug brings it back at the same path',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir(t);
    const pair = await createVirtualSerialPair({ dir });
    assert.ok(pair.ok, pair.ok ? '' : pair.message);
    t.after(() => pair.value.close());
    const { devicePath, portPath } = pair.value;
    const device = await openReader(devicePath);
    const agent = await openReader(portPath);
    device.port.write(encodeWireFrame({ type: 'helloRequest', seq: 0 }));
    await waitFor('first frame', () => agent.frames.length === 1);
    await device.close();
    await pair.value.unplug();
    assert.equal(pair.value.plugged, false);
    assert.equal(existsSync(portPath), false);
    assert.equal(existsSync(devicePath), false);
    // serialport 13 may not report the hang-up: a read on a hung-up pty returns 0 bytes and its unixRead
    // retries forever (see docs/firmware-sim.md). A reader notices the path is gone and closes the port.
    await agent.close();
    await pair.value.unplug(); // idempotent
    await pair.value.replug();
    assert.ok(existsSync(portPath) && existsSync(devicePath));
    const device2 = await openReader(devicePath);
    t.after(() => device2.close());
    const agent2 = await openReader(portPath);
    t.after(() => agent2.close());
    device2.port.write(encodeWireFrame({ type: 'helloRequest', seq: 7 }));
    await waitFor('frame after replug', () => agent2.frames.length === 1);
    assert.equal(agent2.frames[0]?.seq, 7);
  },
);

test(
  'pty: a disconnect-with-reboot fault really unplugs, and the board reboots on replug',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir(t);
    const out = await ptyOutput({ dir });
    assert.ok(out.ok);
    t.after(() => out.value.close());
    const port = out.value.target;
    let reader = await openReader(port);
    const readers = [reader];
    t.after(async () => {
      for (const r of readers) await r.close();
    });
    let sawUnplug = false;
    // The agent's side: when the port goes away, wait for it to come back, reopen it and ask for HELLO (bytes
    // sent before the reopen may be gone, as on a real USB-serial adapter).
    const watcher = (async () => {
      await waitFor('port gone', () => !existsSync(port));
      sawUnplug = true;
      await reader.close();
      await waitFor('port back', () => existsSync(port));
      reader = await openReader(port);
      readers.push(reader);
      reader.port.write(encodeWireFrame({ type: 'helloRequest', seq: 0 }));
    })();
    const sc = scenario({
      heartbeatS: 0,
      events: [{ kind: 'disconnect', at: 2, durationS: 1, reboot: true }],
    });
    const summary = await runSim({ scenario: sc, seed: 1, durationS: 8, speed: 4, out: out.value });
    await watcher;
    assert.ok(sawUnplug);
    const gt = summary.groundTruth;
    assert.equal(gt.boots.length, 2);
    const newBoot = gt.boots[1]!.bootId;
    assert.notEqual(gt.boots[0]!.bootId, newBoot);
    await waitFor('the new boot HELLO and its last samples', () =>
      reader.frames.some((f) => f.type === 'samples' && f.sensorId === 0 && f.firstIndex === 4990),
    );
    assert.ok(reader.frames.some((f) => f.type === 'hello' && f.device.bootId === newBoot));
    assert.equal(reader.frames.filter((f) => f.type === 'hello' && f.device.bootId !== newBoot).length, 0);
    // Device time restarted at the reboot: 5 s of samples since.
    const last = reader.frames.at(-1);
    assert.ok(last?.type === 'samples' && last.timestampUs < 5e6);
  },
);

test(
  'edgeloop sim --out pty prints the port, streams until interrupted, writes ground truth',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir(t);
    const stderr = new PassThrough();
    let log = '';
    stderr.on('data', (d: Buffer) => (log += d.toString()));
    const ac = new AbortController();
    const gtFile = join(dir, 'gt.jsonl');
    const run = simCommand.run(
      ['--scenario', 'steady', '--out', 'pty', '--pty-dir', dir, '--speed', '1', '--ground-truth', gtFile],
      {
        stdout: new PassThrough(),
        stderr,
        env: {},
        signal: ac.signal,
      },
    );
    await waitFor('port line', () => /^port: /m.test(log));
    const port = /^port: (.+)$/m.exec(log)![1]!;
    assert.equal(port, join(dir, 'port'));
    const reader = await openReader(port);
    t.after(() => reader.close());
    await waitFor(
      'a second of samples',
      () => reader.frames.filter((f) => f.type === 'samples' && f.sensorId === 0).length >= 100,
    );
    ac.abort();
    assert.equal(await run, 0);
    assert.match(log, /sim: done \(interrupted\)/);
    const totals = JSON.parse(readFileSync(gtFile, 'utf8').trim().split('\n').at(-1)!) as { type: string };
    assert.equal(totals.type, 'totals');
    assert.equal(existsSync(port), false, 'the virtual port is gone after the run');
  },
);
