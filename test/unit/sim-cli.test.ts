import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { createBoard } from '../../firmware-sim/board.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { streamOutput } from '../../firmware-sim/adapters/stream-output.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { EdgeloopError } from '../../shared/errors.ts';

function io(signal = new AbortController().signal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  return {
    io: { stdout, stderr, env: {}, signal },
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString(),
  };
}

test('--help documents every option with its default', () => {
  for (const opt of [
    '--scenario',
    '--seed',
    '--duration',
    '--speed',
    '--out',
    '--ground-truth',
    '--device-id',
    '--baud',
    '--pty-dir',
    '--list',
    '--fleet',
    '--mqtt',
    '--prefix',
    '--scenario-map',
    '--max-in-flight',
    '--replay',
    '--mqtt-credentials',
    '--model',
    '--trusted-key',
    '--inject-failure-rate',
    '--inject-failure-code',
    '--inject-rollback-rate',
    '--state-latency',
    '--state-latency-jitter',
    '--silent',
    '--max-downloads',
    '--download-deadline',
  ]) {
    assert.ok(simCommand.help.includes(opt), opt);
  }
  const [serial = '', fleet = ''] = simCommand.help.split('Fleet mode');
  assert.equal(serial.match(/\(default/g)?.length, 9);
  assert.equal(fleet.match(/\(default/g)?.length, 17);
});

test('--list prints the bundled scenarios', async () => {
  const c = io();
  assert.equal(await simCommand.run(['--list'], c.io), 0);
  assert.match(c.stdout().toString(), /^noisy-link +A bad cable/m);
});

test('an unknown option suggests the right one; bad values and names are clear', async () => {
  await assert.rejects(
    simCommand.run(['--sead', '3'], io().io),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /--seed/.test(e.message),
  );
  await assert.rejects(
    simCommand.run(['--speed', 'fast'], io().io),
    (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID',
  );
  const c = io();
  assert.equal(await simCommand.run(['--scenario', 'nope'], c.io), 2);
  assert.match(c.stderr(), /EDGELOOP_ERR_SCENARIO_NOT_FOUND/);
});

test('--out - writes the same bytes as the board; --out <file> captures them with ground truth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const sc = loadScenario('noisy-link');
  assert.ok(sc.ok);
  const expected = createBoard({ scenario: sc.value, seed: 9 }).generate(5e6);
  const c = io();
  assert.equal(
    await simCommand.run(
      ['--scenario', 'noisy-link', '--seed', '9', '--duration', '5', '--speed', 'max', '--out', '-'],
      c.io,
    ),
    0,
  );
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(c.stdout()), sha(expected));
  assert.match(c.stderr(), /sim: done: 5\.0 s of device time/);
  const file = join(dir, 'capture.bin');
  const gtFile = join(dir, 'gt.jsonl');
  const c2 = io();
  assert.equal(
    await simCommand.run(
      [
        '--scenario',
        'noisy-link',
        '--seed',
        '9',
        '--duration',
        '5',
        '--speed',
        'max',
        '--out',
        file,
        '--ground-truth',
        gtFile,
      ],
      c2.io,
    ),
    0,
  );
  assert.equal(sha(readFileSync(file)), sha(expected));
  const lines = readFileSync(gtFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; frames?: { corrupted: number } });
  assert.equal(lines[0]?.type, 'run');
  const totals = lines.at(-1);
  assert.equal(totals?.type, 'totals');
  assert.equal(lines.filter((l) => l.type === 'frame_lost').length > 0, true);
});

test('runSim paces at the requested speed, stops on abort and still reports ground truth', async () => {
  const sc = loadScenario('steady');
  assert.ok(sc.ok);
  const sink = new PassThrough();
  let got = 0;
  sink.on('data', (d: Buffer) => (got += d.length));
  const ac = new AbortController();
  const progress: number[] = [];
  setTimeout(() => {
    ac.abort();
  }, 1500).unref();
  const s = await runSim({
    scenario: sc.value,
    seed: 1,
    durationS: 3600,
    speed: 2,
    out: streamOutput(sink),
    signal: ac.signal,
    onProgress: (p) => progress.push(p.timeS),
  });
  assert.equal(s.aborted, true);
  // Paced, not flat out: an hour at speed 2 would take 30 minutes.
  assert.ok(s.timeS > 0 && s.timeS < 60, `device time ${s.timeS}`);
  assert.ok(progress.length >= 1);
  assert.equal(got, s.bytes);
  assert.equal(s.groundTruth.sensors.accel!.generated, Math.round(s.timeS * 1000));
});

test('a negative number is a bad value with the usual message, not an ambiguous option', async () => {
  for (const [opt, what] of [
    ['--duration', /--duration -5: expected seconds > 0/],
    ['--speed', /--speed -2: expected a number > 0/],
  ] as const) {
    await assert.rejects(
      simCommand.run([opt, opt === '--duration' ? '-5' : '-2', '--out', '-'], io().io),
      (e: unknown) =>
        e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID' && what.test(e.message),
    );
  }
});

test('--out in a directory that does not exist is a clear coded error, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-sim-out-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const c = io();
  const code = await simCommand.run(
    ['--duration', '1', '--speed', 'max', '--out', join(dir, 'missing', 'cap.bin')],
    c.io,
  );
  assert.equal(code, 2);
  assert.match(c.stderr(), /missing\/cap\.bin.*\[EDGELOOP_ERR_PATH\]/);
});

test('sim options also come from a --config file and EDGELOOP_SIM_* / EDGELOOP_* variables (flag > variable > file)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-sim-cfg-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = join(dir, 'sim.json');
  const cap = (n: string): string => join(dir, n);
  writeFileSync(cfg, JSON.stringify({ seed: 7, duration: 2, speed: 'max', out: cap('file.bin') }));
  const fromFile = io();
  assert.equal(await simCommand.run(['--config', cfg], fromFile.io), 0, fromFile.stderr());
  assert.match(fromFile.stderr(), /seed 7, 2 s at speed max/);
  const fromEnv = io();
  const env = { EDGELOOP_SEED: '8', EDGELOOP_SIM_SEED: '9' };
  assert.equal(
    await simCommand.run(['--config', cfg, '--out', cap('env.bin')], { ...fromEnv.io, env }),
    0,
    fromEnv.stderr(),
  );
  assert.match(fromEnv.stderr(), /seed 9, 2 s/, 'the scoped variable wins over the plain one and the file');
  await assert.rejects(
    simCommand.run([], { ...io().io, env: { EDGELOOP_SIM_DURATION: '-5' } }),
    (e: unknown) => e instanceof EdgeloopError && /--duration -5: expected seconds > 0/.test(e.message),
  );
  await assert.rejects(
    simCommand.run([], { ...io().io, env: { EDGELOOP_SIM_SCENARO: 'steady' } }),
    (e: unknown) => e instanceof EdgeloopError && /did you mean EDGELOOP_SIM_SCENARIO\?/.test(e.message),
  );
});
