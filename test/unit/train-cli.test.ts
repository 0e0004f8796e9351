// `edgeloop train` option parsing (flags, EDGELOOP_* variables, config file: cli/train-config.ts), help
// text and the progress display (cli/progress.ts).
// The full run is in test/e2e/train-registry.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createProgress } from '../../cli/progress.ts';
import { parseTrainArgs, TRAIN_DEFAULTS, trainCommand } from '../../cli/train.ts';
import { EdgeloopError } from '../../shared/errors.ts';

function codeOf(argv: string[]): string {
  try {
    parseTrainArgs(argv);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof EdgeloopError, String(err));
    return err.code;
  }
}

test('defaults and overrides', () => {
  const c = parseTrainArgs(['--out', 'b']);
  assert.ok(c !== 'help');
  assert.equal(c.seed, TRAIN_DEFAULTS.seed);
  assert.deepEqual(c.search, { kind: 'random', trials: 8, folds: 3 });
  assert.equal(c.devicesPerState, 6);
  assert.equal(c.secondsPerDevice, 30);
  assert.equal(c.name, 'machine-condition');
  assert.equal(c.keyPath, undefined);
  const d = parseTrainArgs([
    '--out',
    'b',
    '--search',
    'grid',
    '--trials',
    '3',
    '--folds',
    '4',
    '--hidden',
    '0,8',
    '--epochs',
    '5',
  ]);
  assert.ok(d !== 'help');
  assert.deepEqual(d.search, { kind: 'grid', trials: 3, folds: 4, space: { hidden: [0, 8], epochs: [5] } });
  assert.equal(parseTrainArgs(['--help']), 'help');
});

test('bad options are rejected with their codes', () => {
  assert.equal(codeOf([]), 'EDGELOOP_ERR_USAGE');
  assert.equal(codeOf(['--out', 'b', '--serch', 'grid']), 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION');
  for (const bad of [
    ['--search', 'bayes'],
    ['--trials', '0'],
    ['--trials', '2.5'],
    ['--folds', '1'],
    ['--seed', '4294967296'],
    ['--seed', 'x'],
    ['--hidden', '8,x'],
    ['--epochs', '0'],
    ['--devices-per-state', '0'],
    ['--seconds-per-device', '1e9'],
    ['--test-fraction', '1'],
    ['--name', 'Bad Name'],
    ['--version', '1.0'],
    ['--push', 'ftp://x', '--promote', 'production'],
    ['--push', 'http://x', '--promote', 'prod'],
  ]) {
    assert.equal(codeOf(['--out', 'b', ...bad]), 'EDGELOOP_ERR_CONFIG_INVALID', bad.join(' '));
  }
  assert.equal(codeOf(['--out', 'b', '--promote', 'staging']), 'EDGELOOP_ERR_USAGE');
});

test('options also come from EDGELOOP_* variables and a --config file; flag > variable > file > default', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-train-config-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'train.json');
  writeFileSync(
    file,
    JSON.stringify({
      out: 'from-file',
      trials: 3,
      seed: 7,
      hidden: [0, 16],
      keyPath: 'k.pem',
      testFraction: 0.25,
    }),
  );
  const env = { EDGELOOP_DEVICES_PER_STATE: '2', EDGELOOP_SEED: '9', EDGELOOP_REGISTRY_TOKEN: 'tok' };
  const c = parseTrainArgs(['--config', file, '--trials', '4'], env);
  assert.ok(c !== 'help');
  assert.equal(c.out, join(process.cwd(), 'from-file'), 'out from the file');
  assert.equal(c.search.trials, 4, 'the flag beats the file');
  assert.equal(c.seed, 9, 'the variable beats the file');
  assert.equal(c.devicesPerState, 2, 'EDGELOOP_DEVICES_PER_STATE');
  assert.equal(c.testFraction, 0.25);
  assert.deepEqual(c.search.space, { hidden: [0, 16] });
  assert.equal(c.keyPath, 'k.pem');
  assert.equal(c.token, 'tok', 'EDGELOOP_REGISTRY_TOKEN is the --token variable');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.search));
  // Mistakes name the option: a misspelt key or variable, and a bad value from either source.
  writeFileSync(file, JSON.stringify({ out: 'b', devicesPerStat: 2 }));
  assert.throws(
    () => parseTrainArgs(['--config', file]),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /devicesPerState/.test(e.message),
  );
  assert.throws(
    () => parseTrainArgs(['--out', 'b'], { EDGELOOP_TRIALS: 'lots' }),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_INVALID' &&
      /^EDGELOOP_TRIALS=lots: expected an integer/.test(e.message),
  );
  assert.throws(
    () => parseTrainArgs(['--out', 'b'], { EDGELOOP_TRIAL: '3' }),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /EDGELOOP_TRIALS/.test(e.message),
  );
});

test('every option is in --help with its default', () => {
  for (const flag of [
    '--out',
    '--seed',
    '--search',
    '--trials',
    '--folds',
    '--hidden',
    '--epochs',
    '--seconds-per-device',
    '--devices-per-state',
    '--test-fraction',
    '--key',
    '--name',
    '--version',
    '--push',
    '--token',
    '--promote',
    '--config',
  ]) {
    assert.ok(trainCommand.help.includes(flag), flag);
  }
  assert.match(trainCommand.help, /--trials <n>.*Default 8\./);
  assert.match(trainCommand.help, /--seconds-per-device <s>.*seconds.*Default 30\./);
});

test('run refuses a non-empty --out and a bad --key before any work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-train-cli-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'junk'), 'x');
  writeFileSync(join(dir, 'bad.key'), 'not a key');
  const run = async (argv: string[]): Promise<[number, string]> => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (c: Buffer) => (text += c.toString()));
    const code = await trainCommand.run(argv, {
      stdout: new PassThrough(),
      stderr: err,
      env: {},
      signal: new AbortController().signal,
    });
    return [code, text];
  };
  const [c1, e1] = await run(['--out', dir]);
  assert.equal(c1, 1);
  assert.match(e1, /not empty \[EDGELOOP_ERR_BUNDLE_WRITE\]/);
  const [c2, e2] = await run(['--out', join(dir, 'new'), '--key', join(dir, 'bad.key')]);
  assert.equal(c2, 1);
  assert.match(e2, /EDGELOOP_ERR_KEY_INVALID/);
  const [c3, e3] = await run(['--out', join(dir, 'new'), '--trials', 'many']);
  assert.equal(c3, 2, 'a bad option exits 2, as edgeloop --help says');
  assert.match(
    e3,
    /--trials many: expected an integer 1\.\.10000 \(trials\).*\[EDGELOOP_ERR_CONFIG_INVALID\]/,
  );
});

test('progress: plain lines at most once per tenth off a TTY, a redrawn bar on one', () => {
  const capture = (tty: boolean): string => {
    const s = new PassThrough();
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    const p = createProgress(s, { tty, width: 10 });
    const step = p.step('search', 40);
    for (let i = 1; i <= 40; i++) step.update(i, `best ${i}`);
    step.end('ok');
    step.end('twice');
    p.line('after');
    return text;
  };
  const plain = capture(false).split('\n').filter(Boolean);
  assert.equal(plain.length, 11 + 2); // one line per tenth (0..10), then "done" and "after"
  assert.equal(plain[0], 'search 1/40  best 1');
  assert.equal(plain.at(-3), 'search 40/40  best 40');
  assert.equal(plain.at(-2), 'search: done (ok)');
  assert.ok(!plain.join('').includes('\r'));
  const tty = capture(true);
  assert.ok(tty.includes('\r\x1b[K'));
  assert.ok(tty.includes('search [#####.....] 20/40  best 20'));
  assert.ok(tty.endsWith('search: done (ok)\nafter\n'));
});
