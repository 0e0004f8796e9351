// The user-side review of issues 7 and 8: exit codes that match `edgeloop --help`, option errors that name
// the flag as typed and say what is expected, train stopping between devices and leaving nothing behind,
// JSON stop notices, features --force, catalogue hints said once, and the demo announcing only what the
// edge checks can flag.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/main.ts';
import { plan } from '../../cli/demo/board-view.ts';
import { firmwareSimLab } from '../../cli/lab-simulator.ts';
import { handleStopSignals, stopNoticeFormat } from '../../cli/signals.ts';
import { generateLabData } from '../../collector/index.ts';
import { EdgeloopError, errorCatalogue, fail } from '../../shared/errors.ts';
import { defaultIntegrityConfig } from '../../shared/integrity/config.ts';
import { referenceSensors } from '../../shared/sensors.ts';

function io(env: Record<string, string | undefined> = {}, signal = new AbortController().signal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { out: () => o, err: () => e, io: { stdout, stderr, env, signal } };
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-review-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const count = (text: string, part: string): number => text.split(part).length - 1;

test('configuration, usage, path and port errors exit 2, naming the option as given', async (t) => {
  const dir = tmp(t);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['keygen', '--out', dir], { EDGELOOP_FORCE: 'yes' }, /EDGELOOP_FORCE=yes: expected true or false/],
    [['train', '--out', join(dir, 'b'), '--trials', '0'], {}, /--trials 0: expected an integer 1\.\.10000/],
    [['registry', 'list', '--url', 'notaurl'], {}, /--url notaurl: must be an http\(s\) URL/],
    [
      ['registry', 'serve', '--port', 'abc', '--data-dir', dir, '--trusted-key', 'k.pub'],
      {},
      /--port abc: .*CONFIG_INVALID/,
    ],
    [['registry', 'serve', '--config', join(dir, 'missing.json')], {}, /missing\.json.*CONFIG_INVALID/],
    [['demo', 'board', '--duration', '-5'], {}, /--duration -5: expected seconds > 0/],
    [['demo', '--duration', '-5'], {}, /--duration -5: expected seconds of device time/],
    [['demo', '--speed', '50'], {}, /--speed 50: expected 1\.\.10/],
    [['demo', '--devices', '0'], {}, /--devices 0: expected an integer 1\.\.8/],
    [
      ['demo', 'board', '--speed', '0'],
      {},
      /--speed 0: expected a positive number \(device seconds per wall second\) or max/,
    ],
    [
      ['features', '--scenario', 'sensor-faults', '--duration', '-5'],
      {},
      /--duration -5: expected seconds > 0/,
    ],
    [['train', '--out', '/proc/edgeloop-review/b'], {}, /cannot create --out .*\[EDGELOOP_ERR_PATH\]/],
  ];
  for (const [argv, env, re] of cases) {
    const r = io(env);
    assert.equal(await main(argv, r.io), 2, `${argv.join(' ')}: ${r.err()}`);
    assert.match(r.err(), re, argv.join(' '));
    assert.doesNotMatch(r.err(), /Too small|Invalid input|durationS:/, argv.join(' '));
  }
  assert.ok(!existsSync('/proc/edgeloop-review'));
});

test('a catalogue hint is said once, also when a Failure message is passed on', () => {
  const f = fail('EDGELOOP_ERR_INPUT_READ', 'no frame found: is it a capture?');
  assert.equal(f.message, `no frame found: is it a capture? ${errorCatalogue.EDGELOOP_ERR_INPUT_READ}`);
  const e = new EdgeloopError(f.code, `rand.bin: ${f.message}`);
  assert.equal(count(e.message, errorCatalogue.EDGELOOP_ERR_INPUT_READ), 1, e.message);
  assert.doesNotMatch(e.message, /\?\.|\.\./);
  assert.equal(
    new EdgeloopError('EDGELOOP_ERR_USAGE', 'x').message,
    `x. ${errorCatalogue.EDGELOOP_ERR_USAGE}`,
  );
});

test('features: a capture it cannot read says the hint once; --out refuses an existing file unless --force', async (t) => {
  const dir = tmp(t);
  const rand = join(dir, 'rand.bin');
  writeFileSync(rand, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  const r = io();
  assert.notEqual(await main(['features', '--capture', rand], r.io), 0);
  const code = /\[(EDGELOOP_ERR_[A-Z_]+)\]/.exec(r.err())?.[1];
  assert.ok(code !== undefined && code in errorCatalogue, r.err());
  assert.equal(count(r.err(), errorCatalogue[code as keyof typeof errorCatalogue]), 1, r.err());
  assert.doesNotMatch(r.err(), /\?\. |\.\. /);

  const help = io();
  assert.equal(await main(['features', '--help'], help.io), 0);
  assert.match(help.out(), /--force +overwrite an existing --out file/);
  const out = join(dir, 'f.csv');
  writeFileSync(out, 'old\n');
  const args = ['features', '--scenario', 'sensor-faults', '--duration', '2', '--out', out];
  const refused = io();
  assert.equal(await main(args, refused.io), 2);
  assert.match(refused.err(), /the file exists \(pass --force to overwrite it\).*\[EDGELOOP_ERR_PATH\]/);
  assert.equal(readFileSync(out, 'utf8'), 'old\n');
  const forced = io();
  assert.equal(await main([...args, '--force'], forced.io), 0, forced.err());
  assert.match(readFileSync(out, 'utf8'), /^accel\.x/);
});

test('lab data stops between devices when its signal aborts', async () => {
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    generateLabData({
      simulator: firmwareSimLab,
      seed: 1,
      devicesPerState: 2,
      secondsPerDevice: 1,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.done);
        if (p.done === 2) controller.abort();
      },
    }),
    (err: Error) => err.name === 'AbortError',
  );
  assert.deepEqual(seen, [1, 2], 'no device after the abort');
});

test('an interrupted train exits 130 and leaves no key files or bundle directory; then it can run again', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'nested', 'bundle');
  const controller = new AbortController();
  const r = io({}, controller.signal);
  // Interrupt while the lab data is being generated (the first progress line).
  r.io.stderr.on('data', () => {
    controller.abort();
  });
  const code = await main(
    ['train', '--out', out, '--devices-per-state', '50', '--seconds-per-device', '1'],
    r.io,
  );
  assert.equal(code, 130, r.err());
  assert.doesNotMatch(r.err(), /device 300\/|50\/50/);
  for (const p of [`${out}.signing.key`, `${out}.signing.pub`, out, join(dir, 'nested')])
    assert.ok(!existsSync(p), `${p} left behind`);
  // A stale key from elsewhere is refused before any training, with the right code.
  mkdirSync(join(dir, 'nested'));
  writeFileSync(`${out}.signing.key`, 'x');
  const again = io();
  assert.equal(await main(['train', '--out', out], again.io), 1);
  assert.match(again.err(), /signing\.key exists.*\[EDGELOOP_ERR_KEY_EXISTS\]/);
});

test('stop notices are JSON lines when the command logs JSON', () => {
  assert.equal(stopNoticeFormat(['agent', '--log-format', 'json'], {}), 'json');
  assert.equal(stopNoticeFormat(['--debug', 'agent', '--log-format=json'], {}), 'json');
  assert.equal(stopNoticeFormat(['agent'], { EDGELOOP_LOG_FORMAT: 'json' }), 'json');
  assert.equal(stopNoticeFormat(['agent'], { EDGELOOP_AGENT_LOG_FORMAT: 'json' }), 'json');
  assert.equal(stopNoticeFormat(['agent', '--', '--log-format', 'json'], {}), 'text');
  assert.equal(stopNoticeFormat(['agent'], {}), 'text');

  const source = new EventEmitter();
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exits: number[] = [];
  const handle = handleStopSignals({
    source,
    controller: new AbortController(),
    stderr,
    exit: (c) => exits.push(c),
    logFormat: 'json',
    nowMs: () => Date.UTC(2026, 0, 1),
  });
  source.emit('SIGTERM');
  source.emit('SIGTERM');
  handle.dispose();
  const lines = text.trim().split('\n');
  assert.equal(lines.length, 2);
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(first, {
    signal: 'SIGTERM',
    graceMs: 10_000,
    ts: '2026-01-01T00:00:00.000Z',
    level: 'warn',
    msg: 'stopping (again to exit at once)',
  });
  assert.equal(second?.msg, 'signal again; exiting without waiting');
  assert.deepEqual(exits, [143]);
});

test('demo plan: faults the edge checks cannot flag within their duration are listed apart, with the rule', () => {
  const edge = { sensors: referenceSensors, integrity: defaultIntegrityConfig };
  const events = [
    { kind: 'spikes', at: 60, channel: 'accel.x', durationS: 60, ratePerS: 2, magnitude: 6 },
    { kind: 'stuck', at: 300, channel: 'humidity', durationS: 120 },
    { kind: 'stuck', at: 10, channel: 'accel.y', durationS: 1 },
  ] as const;
  const p = plan(events, 480, edge);
  assert.deepEqual(
    p.watched.map((f) => f.label),
    ['spikes on accel.x for 60 s', 'stuck accel.y for 1 s'],
  );
  assert.equal(p.undetectable.length, 1);
  assert.equal(p.undetectable[0]?.fault.label, 'stuck humidity for 120 s');
  assert.match(
    p.undetectable.map((u) => u.reason).join('\n'),
    /1 Hz sensor's flat line is suspect only after 1800 s/,
  );
  // The threshold comes from the config: with 60 s the same fault is flaggable.
  const short = {
    ...defaultIntegrityConfig,
    flatline: { ...defaultIntegrityConfig.flatline, slowSuspectSeconds: 60 },
  };
  assert.equal(plan(events, 480, { sensors: referenceSensors, integrity: short }).undetectable.length, 0);
});

test('an interrupted search stops after the current trial and exits 130', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'bundle');
  const controller = new AbortController();
  const r = io({}, controller.signal);
  let searching = false;
  r.io.stderr.on('data', (d: Buffer) => {
    if (!searching && /random search/.test(d.toString())) {
      searching = true;
      controller.abort();
    }
  });
  const argv = ['train', '--out', out, '--devices-per-state', '3', '--seconds-per-device', '20'];
  const code = await main([...argv, '--folds', '2', '--trials', '6'], r.io);
  assert.ok(searching, r.err());
  assert.equal(code, 130, r.err());
  assert.doesNotMatch(r.err(), /best trial|final fit/, 'no trial after the abort, no final fit');
  for (const p of [`${out}.signing.key`, `${out}.signing.pub`, out])
    assert.ok(!existsSync(p), `${p} left behind`);
});
