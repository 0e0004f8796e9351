// `edgeloop agent --max-windows 4` printed and counted 5 windows (issue #8 review): the close after the
// fourth window flushed one more. "stop after n windows" means exactly n reach the consumers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair, PassThrough, type Duplex } from 'node:stream';
import { ok, type Result } from '../../shared/errors.ts';
import { createLogger } from '../../shared/platform/logger.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import type { Window } from '../../shared/samples.ts';
import { agentDefaults } from '../../agent/config.ts';
import { createIngest } from '../../agent/runtime/ingest.ts';

const accel = referenceSensors[0]!;

test('--max-windows n: exactly n windows reach the subscribers and the count, even with more buffered', async (t) => {
  // The reader's timers are unref'd; hold the event loop like the CLI does.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  t.after(() => {
    clearInterval(keepAlive);
  });
  const [host, device] = duplexPair();
  const ingest = createIngest(
    { ...agentDefaults, hopMs: 1000, maxWindows: 4 },
    {
      log: createLogger({ stream: new PassThrough(), format: 'text', level: 'error' }),
      openPort: (): Promise<Result<Duplex>> => Promise.resolve(ok(host)),
    },
  );
  const seen: Window[] = [];
  ingest.subscribe({ window: (w) => seen.push(w) });
  ingest.start();
  // 8 s of samples in one write: far more than 4 windows arrive at once, and a partial one stays open.
  const frames: Frame[] = [
    {
      type: 'hello',
      seq: 0,
      device: { deviceId: 'rig', firmwareVersion: 't', protocolVersion: 1, bootId: 1, sensors: [accel] },
    },
  ];
  const perBlock = 10;
  const periodUs = 1e6 / accel.rateHz;
  for (let b = 0; b * perBlock * periodUs < 8.5e6; b++) {
    frames.push({
      type: 'samples',
      seq: b + 1,
      sensorId: accel.id,
      timestampUs: b * perBlock * periodUs,
      firstIndex: b * perBlock,
      count: perBlock,
      data: encodeSampleValues(
        Array.from({ length: perBlock * accel.axes.length }, (_, i) => Math.sin(b + i) * 0.1),
        accel,
      ),
    });
  }
  const bytes = Buffer.concat(frames.map((f) => encodeWireFrame(f)));
  device.write(bytes);
  await ingest.done;
  await ingest.close();
  assert.equal(seen.length, 4, `windows ${seen.map((w) => w.index).join(',')}`);
  assert.equal(ingest.windows(), 4);
  assert.equal(ingest.pipeline.stats().windows, 4, "the summary's windows= count");
  assert.deepEqual(
    seen.map((w) => w.index),
    [0, 1, 2, 3],
  );
  device.destroy();
});
