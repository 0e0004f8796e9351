// Issue #2 §5 end to end: firmware-sim writes to a real pseudo-terminal (socat), and the agent reads the other
// end through the real serialport binding, faster than real time. The simulator's ground truth is what the
// agent's counters are held to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { startAgent } from '../helpers/agent-harness.ts';
import { waitFor } from '../helpers/wait.ts';

async function openPty(t: { after: (fn: () => Promise<void>) => void }) {
  const out = await ptyOutput();
  assert.ok(out.ok, out.ok ? '' : out.message);
  t.after(() => out.value.close());
  return out.value;
}

function scenario(name: string) {
  const s = loadScenario(name);
  assert.ok(s.ok, s.ok ? '' : s.message);
  return s.value;
}

test('10 minutes of device time at 1 kHz over a pty: no sample lost, unbroken sequence, every window', async (t) => {
  const out = await openPty(t);
  const agent = await startAgent(out.target);
  t.after(() => agent.close());
  await waitFor('the serial port to connect', () => agent.reader.stats.connected);
  const sim = await runSim({ scenario: scenario('steady'), seed: 11, durationS: 600, speed: 'max', out });
  const gt = sim.groundTruth;
  const sent = Object.values(gt.sensors).reduce((a, s) => a + s.sentIntact, 0);
  await waitFor(
    () => `all ${sent} samples (agent got ${agent.samplesReceived()})`,
    () => agent.samplesReceived() === sent,
    { timeoutMs: 60_000 },
  );
  await agent.close();
  const st = agent.pipeline.stats();
  assert.equal(st.decoder.invalidTotal, 0, 'no invalid frame on a clean link');
  assert.equal(st.decoder.resyncs, 0);
  assert.equal(st.stream.framesMissing, 0, 'unbroken frame sequence');
  assert.equal(st.stream.framesOutOfOrder, 0);
  assert.equal(st.stream.samplesLostTotal, 0, 'zero samples lost');
  for (const [name, totals] of Object.entries(gt.sensors)) {
    assert.equal(totals.lost, 0);
    assert.equal(st.stream.samples[name], totals.generated, `${name}: every generated sample arrived`);
  }
  assert.equal(st.stream.samples.accel, 600_000);
  // 600 one-second windows; the last may close only at flush.
  assert.ok(agent.windows.length >= 599 && agent.windows.length <= 600, `windows ${agent.windows.length}`);
  const full = agent.windows.slice(0, 599);
  for (const w of full) {
    const accel = w.channels.find((c) => c.channel === 'accel.x');
    const mag = w.channels.find((c) => c.channel === 'mag.x');
    assert.equal(accel?.values.length, 1000, `window ${w.index} accel`);
    assert.equal(mag?.values.length, 100, `window ${w.index} mag`);
    assert.equal(w.integrity.status, 'good', `window ${w.index}: ${JSON.stringify(w.integrity.flags)}`);
  }
});

test('unplug and replug: the agent recovers by itself and reports exactly the gap it saw', async (t) => {
  const out = await openPty(t);
  const agent = await startAgent(out.target);
  t.after(() => agent.close());
  await waitFor('the serial port to connect', () => agent.reader.stats.connected);
  // 40 s of device time at 20x: the cable is pulled for 3 s at 15 s (the board keeps running, no reboot).
  const s = scenario('steady');
  const unplug = {
    ...s,
    name: 'unplug-test',
    durationS: 40,
    events: [{ kind: 'disconnect' as const, at: 15, durationS: 3, reboot: false }],
  } as typeof s;
  const sim = await runSim({ scenario: unplug, seed: 5, speed: 20, out });
  const gt = sim.groundTruth;
  // Wait until every sample of every sensor has been accounted for, as received or as lost (the last
  // frame on the wire need not be an accel frame).
  await waitFor(
    'the agent to account for every sample of every sensor',
    () => {
      const st = agent.pipeline.stats().stream;
      return Object.entries(gt.sensors).every(
        ([name, totals]) => (st.samples[name] ?? 0) + (st.samplesLost[name] ?? 0) === totals.generated,
      );
    },
    { timeoutMs: 20_000 },
  );
  await agent.close();
  const st = agent.pipeline.stats();
  assert.equal(agent.reader.stats.disconnects, 1, 'one unplug seen');
  assert.ok(agent.reader.stats.connects >= 2, 'reconnected by itself');
  assert.ok(agent.reader.stats.helloRequests >= 2, 'asked for HELLO again after the replug');
  assert.equal(st.stream.reboots, 0);
  for (const [name, totals] of Object.entries(gt.sensors)) {
    const got = st.stream.samples[name] ?? 0;
    const lost = st.stream.samplesLost[name] ?? 0;
    // Exact accounting: every sample the board measured is either received or reported lost, never both.
    assert.equal(got + lost, totals.generated, `${name}: received ${got} + lost ${lost} = generated`);
    // The agent loses at least what the board could not send; bytes still inside the cable when it was
    // pulled are lost too, and the agent counts those as well.
    assert.ok(
      lost >= totals.disconnected,
      `${name}: lost ${lost} >= ${totals.disconnected} sent while unplugged`,
    );
  }
  // 3 s unplugged at 1 kHz is 3000 accel samples; what sat in the pty and socat buffers adds at most a
  // second of data at this speed.
  const accelLost = st.stream.samplesLost.accel ?? 0;
  assert.ok(accelLost >= 3000 && accelLost <= 4000, `accel lost ${accelLost}`);
});

test('noisy-link: loss and corruption reported by the agent match the ground truth exactly', async (t) => {
  const out = await openPty(t);
  const agent = await startAgent(out.target);
  t.after(() => agent.close());
  await waitFor('the serial port to connect', () => agent.reader.stats.connected);
  const sim = await runSim({ scenario: scenario('noisy-link'), seed: 3, durationS: 240, speed: 'max', out });
  const gt = sim.groundTruth;
  assert.ok(gt.frames.corrupted > 100, `scenario corrupts frames (${gt.frames.corrupted})`);
  assert.ok(gt.frames.dropped > 50, `scenario drops frames (${gt.frames.dropped})`);
  assert.equal(gt.lostFramesOmitted, 0);
  // What the agent can know: a frame lost after the last intact one leaves no gap behind it, and neither do
  // a sensor's lost frames at the very end of its stream.
  const lostSeqs = new Set(gt.lostFrames.map((f) => f.seq));
  let lastIntact = gt.frames.built - 1;
  while (lostSeqs.has(lastIntact)) lastIntact--;
  const invisible = gt.lostFrames.filter((f) => f.seq > lastIntact).length;
  const expectLost: Record<string, number> = {};
  for (const [name, totals] of Object.entries(gt.sensors)) {
    const lostIdx = new Map(
      gt.lostFrames.filter((f) => f.sensor === name).map((f) => [f.firstIndex, f.samples]),
    );
    let tail = 0;
    let idx = totals.generated;
    for (;;) {
      const prev = [...lostIdx.entries()].find(([i, n]) => i !== null && i + n === idx);
      if (prev === undefined) break;
      tail += prev[1];
      idx = prev[0]!;
    }
    expectLost[name] = totals.lost - tail;
  }
  // Wait for the final state itself (every count at its expected value), not for a time; on timeout the
  // asserts below say which count is off.
  const settled = (): boolean => {
    const st = agent.pipeline.stats();
    return (
      st.decoder.invalidTotal === gt.frames.corrupted &&
      st.stream.framesMissing === gt.frames.corrupted + gt.frames.dropped - invisible &&
      Object.entries(gt.sensors).every(
        ([name, totals]) =>
          st.stream.samples[name] === totals.sentIntact &&
          (st.stream.samplesLost[name] ?? 0) === expectLost[name],
      )
    );
  };
  await waitFor('the agent to count every frame and sample the simulator sent', settled, {
    timeoutMs: 30_000,
  }).catch(() => undefined);
  await agent.close();
  const st = agent.pipeline.stats();
  assert.equal(st.decoder.invalidTotal, gt.frames.corrupted, 'one invalid frame per corrupted frame');
  assert.equal(
    (st.decoder.invalid.EDGELOOP_ERR_FRAME_CRC ?? 0) + (st.decoder.invalid.EDGELOOP_ERR_FRAME_COBS ?? 0),
    gt.frames.corrupted,
  );
  assert.equal(
    st.stream.framesMissing,
    gt.frames.corrupted + gt.frames.dropped - invisible,
    'frames missing = corrupted + dropped',
  );
  for (const [name, totals] of Object.entries(gt.sensors)) {
    assert.equal(st.stream.samplesLost[name] ?? 0, expectLost[name], `${name} samples lost`);
    assert.equal(st.stream.samples[name], totals.sentIntact, `${name} samples received`);
  }
});
