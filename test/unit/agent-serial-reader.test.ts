// The reader's reconnect loop over in-memory duplex pairs: an unplug (the port closing) makes it reopen
// with backoff, ask for HELLO again, and account for the samples lost while the cable was out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair, type Duplex } from 'node:stream';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { encodeWireFrame, FrameDecoder } from '../../shared/serial/decoder.ts';
import { encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { IngestPipeline } from '../../agent/ingest/pipeline.ts';
import { SerialReader } from '../../agent/ingest/serial-reader.ts';
import type { Window } from '../../shared/samples.ts';
import { waitFor } from '../helpers/wait.ts';

const accel = referenceSensors[0]!;
const sensors = [accel];
const hello = (seq: number): Frame => ({
  type: 'hello',
  seq,
  device: { deviceId: 'rig-1', firmwareVersion: 't', protocolVersion: 1, bootId: 42, sensors },
});
const block = (seq: number, index: number): Frame => ({
  type: 'samples',
  seq,
  sensorId: 0,
  timestampUs: index * 1000,
  firstIndex: index,
  count: 10,
  data: encodeSampleValues(
    Array.from({ length: 30 }, (_, i) => Math.sin(index + i) * 0.1),
    accel,
  ),
});

test('reconnects after an unplug, re-requests HELLO and counts exactly the samples lost', async (t) => {
  const devices: Duplex[] = [];
  const hosts: Duplex[] = [];
  const helloRequests: number[] = [];
  let plugged = true;
  const open = (): Promise<Result<Duplex>> => {
    if (!plugged) return Promise.resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', 'no such device'));
    const [host, device] = duplexPair();
    const dec = new FrameDecoder();
    device.on('data', (b: Buffer) => {
      dec.push(b, (e) => {
        if (e.ok && e.frame.type === 'helloRequest') helloRequests.push(devices.length);
      });
    });
    devices.push(device);
    hosts.push(host);
    return Promise.resolve(ok(host));
  };
  const windows: Window[] = [];
  const pipeline = new IngestPipeline({ mode: 'binary' }, (w) => windows.push(w));
  const reader = new SerialReader({ open, pipeline, backoff: { baseMs: 5, capMs: 20, floorMs: 1 } });
  t.after(() => reader.close());
  reader.start();
  await waitFor('the first open', () => devices.length >= 1);
  const d1 = devices[0]!;
  let seq = 0;
  d1.write(encodeWireFrame(hello(seq++)));
  for (let i = 0; i < 150; i++) d1.write(encodeWireFrame(block(seq++, i * 10))); // 1.5 s
  await waitFor(
    () => `1500 accel samples before the unplug (have ${pipeline.stats().stream.samples.accel ?? 0})`,
    () => pipeline.stats().stream.samples.accel === 1500,
  );

  // Unplug: the port goes away and the first reopen attempts fail.
  plugged = false;
  const lost = reader.waitForDisconnect();
  // A real port emits 'close' (with a disconnect error) when the device vanishes.
  hosts[0]!.destroy();
  await lost;
  await waitFor('an open attempt while unplugged', () => reader.stats.openFailures >= 1);
  plugged = true;
  await waitFor('the reopen after the replug', () => devices.length >= 2);
  const d2 = devices[1]!;
  // The device kept sampling while unplugged: 50 frames (500 samples) never reached the host.
  seq += 50;
  d2.write(encodeWireFrame(hello(seq++)));
  for (let i = 200; i < 350; i++) d2.write(encodeWireFrame(block(seq++, i * 10)));
  await waitFor(
    () => `3000 accel samples in all (have ${pipeline.stats().stream.samples.accel ?? 0})`,
    () => pipeline.stats().stream.samples.accel === 3000,
  );
  await waitFor('the HELLO request on the second connect', () => helloRequests.length >= 2);

  const st = pipeline.stats();
  assert.equal(reader.stats.connects, 2);
  assert.equal(reader.stats.disconnects, 1);
  assert.deepEqual(helloRequests, [1, 2], 'HELLO requested on every connect');
  assert.equal(st.stream.samplesLost.accel, 500);
  assert.equal(st.stream.framesMissing, 50);
  assert.equal(st.stream.samples.accel, 3000);
  assert.equal(st.stream.reboots, 0);
  await reader.close();
  await reader.close(); // idempotent
  const gapWindow = windows.find((w) => w.channels.some((c) => c.missing > 0));
  assert.ok(gapWindow, 'the window spanning the outage reports missing samples');
});

test('a device that never answers keeps the reader retrying with growing delays, never spinning', async (t) => {
  let attempts = 0;
  const delays: number[] = [];
  const pipeline = new IngestPipeline({ mode: 'binary' }, () => undefined);
  const reader = new SerialReader({
    open: () => {
      attempts++;
      return Promise.resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', '/dev/ttyUSB9: ENOENT'));
    },
    pipeline,
    // A fixed draw makes the delays deterministic: 9, 18, 36, 36, ... ms.
    backoff: { baseMs: 10, capMs: 40, floorMs: 5, random: () => 0.9 },
    onState: (s) => {
      if (s.kind === 'openFailed') delays.push(s.retryInMs);
    },
  });
  t.after(() => reader.close());
  const start = Date.now();
  reader.start();
  await waitFor(
    () => `8 open attempts (have ${attempts})`,
    () => attempts >= 8,
  );
  await reader.close();
  const elapsedMs = Date.now() - start;
  const after = attempts;
  // Every retry waits at least the floor and at most the cap: no spin, no unbounded wait.
  assert.ok(delays.length >= 7, `delays ${delays.join(',')}`);
  for (const d of delays) assert.ok(d >= 5 && d <= 40, `retry delay ${d} ms`);
  // The delays grow to the cap and stay there.
  assert.deepEqual(delays.slice(0, 4), [9, 18, 36, 36]);
  // A spinning loop would make thousands of attempts; with a 5 ms floor there can be at most one per 5 ms.
  assert.ok(after <= elapsedMs / 5 + 1, `${after} attempts in ${elapsedMs} ms`);
  // close() stops the loop: no attempt after it.
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(attempts, after, 'no open attempt after close()');
});
