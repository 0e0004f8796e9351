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
  while (devices.length < 1) await new Promise((r) => setTimeout(r, 2));
  const d1 = devices[0]!;
  let seq = 0;
  d1.write(encodeWireFrame(hello(seq++)));
  for (let i = 0; i < 150; i++) d1.write(encodeWireFrame(block(seq++, i * 10))); // 1.5 s
  await new Promise((r) => setTimeout(r, 20));

  // Unplug: the port goes away and the first reopen attempts fail.
  plugged = false;
  const lost = reader.waitForDisconnect();
  // A real port emits 'close' (with a disconnect error) when the device vanishes.
  hosts[0]!.destroy();
  await lost;
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(reader.stats.openFailures >= 1, 'open failed while unplugged');
  plugged = true;
  while (devices.length < 2) await new Promise((r) => setTimeout(r, 2));
  const d2 = devices[1]!;
  // The device kept sampling while unplugged: 50 frames (500 samples) never reached the host.
  seq += 50;
  d2.write(encodeWireFrame(hello(seq++)));
  for (let i = 200; i < 350; i++) d2.write(encodeWireFrame(block(seq++, i * 10)));
  await new Promise((r) => setTimeout(r, 30));

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
  const pipeline = new IngestPipeline({ mode: 'binary' }, () => undefined);
  const reader = new SerialReader({
    open: () => {
      attempts++;
      return Promise.resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', '/dev/ttyUSB9: ENOENT'));
    },
    pipeline,
    backoff: { baseMs: 10, capMs: 40, floorMs: 5 },
  });
  t.after(() => reader.close());
  reader.start();
  await new Promise((r) => setTimeout(r, 250));
  await reader.close();
  // With a 5 ms floor, 250 ms allows at most 50 attempts; a spinning loop would make thousands.
  assert.ok(attempts >= 3 && attempts <= 50, `attempts ${attempts}`);
});
