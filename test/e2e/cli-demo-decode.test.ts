// The README's run command and the offline decoder, through the real CLI entry (main()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/main.ts';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return {
    out: () => o,
    err: () => e,
    io: { stdout, stderr, env: {}, signal: new AbortController().signal },
  };
}

test('edgeloop demo: sim on a pty, agent on the other end, flags for the injected spikes, nothing lost', async () => {
  const t = io();
  const code = await main(['demo', '--duration', '75', '--speed', 'max'], t.io);
  assert.equal(code, 0, t.err());
  const out = t.out();
  assert.match(out, /virtual serial port: \S+\/port/);
  assert.match(out, /accel\.x:spike=fail/, 'spikes injected at 60 s are flagged');
  assert.match(out, /accel\s+75000\s+75000\s+0\s+0/, 'every accel sample arrived');
  assert.match(out, /frames\s+\d+ valid, 0 invalid/);
});

test('edgeloop decode: a noisy-link capture summarised exactly as the simulator recorded it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-decode-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const capture = join(dir, 'noisy.bin');
  const truth = join(dir, 'truth.jsonl');
  const sim = io();
  const simCode = await main(
    [
      'sim',
      '--scenario',
      'noisy-link',
      '--seed',
      '4',
      '--duration',
      '60',
      '--speed',
      'max',
      '--out',
      capture,
      '--ground-truth',
      truth,
    ],
    sim.io,
  );
  assert.equal(simCode, 0, sim.err());
  const lines = readFileSync(truth, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const totals = lines.find((l) => l.type === 'totals' || 'sensors' in l) as
    | { sensors?: Record<string, { lost: number; generated: number }>; frames?: { corrupted: number } }
    | undefined;
  assert.ok(
    totals?.sensors && totals.frames,
    `ground truth has totals: ${JSON.stringify(lines.at(-1)).slice(0, 200)}`,
  );
  const dec = io();
  assert.equal(await main(['decode', capture, '--json'], dec.io), 0, dec.err());
  const summary = JSON.parse(dec.out()) as {
    invalidFrames: number;
    samplesLost: Record<string, number>;
    samples: Record<string, number>;
    windows: number;
  };
  assert.equal(summary.invalidFrames, totals.frames.corrupted);
  for (const [name, s] of Object.entries(totals.sensors)) {
    assert.ok((summary.samples[name] ?? 0) + (summary.samplesLost[name] ?? 0) <= s.generated);
    assert.ok(
      Math.abs((summary.samplesLost[name] ?? 0) - s.lost) <= 20,
      `${name} lost ${summary.samplesLost[name]} vs ${s.lost}`,
    );
  }
  assert.ok(summary.windows >= 59);
  const text = io();
  assert.equal(await main(['decode', capture], text.io), 0);
  assert.match(text.out(), /frames\s+\d+ valid, \d+ invalid \(CRC \d+\), \d+ resyncs/);
  assert.match(text.out(), /channel\s+n\s+mean\s+std\s+min\s+max/);
  const missing = io();
  assert.equal(await main(['decode', join(dir, 'nope.bin')], missing.io), 2);
  assert.match(missing.err(), /EDGELOOP_ERR_INPUT_READ/);
});
