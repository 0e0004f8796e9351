import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadDemoConfig } from '../../cli/demo/board.ts';
import { main } from '../../cli/main.ts';
import { commands } from '../../cli/commands.ts';
import { handleStopSignals, STOP_GRACE_MS } from '../../cli/signals.ts';

function io(): { out: () => string; err: () => string; io: Parameters<typeof main>[1] } {
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

test('every command has --help that names it', async () => {
  for (const name of Object.keys(commands)) {
    const t = io();
    const code = await main([name, '--help'], t.io);
    assert.equal(code, 0, name);
    assert.match(t.out(), new RegExp(`edgeloop ${name}`), `${name} --help`);
  }
});

test('top-level help lists every command; an unknown command suggests the closest', async () => {
  const t = io();
  assert.equal(await main(['--help'], t.io), 0);
  for (const name of Object.keys(commands)) assert.match(t.out(), new RegExp(`\\b${name}\\b`));
  const u = io();
  assert.equal(await main(['agnet'], u.io), 2);
  assert.match(u.err(), /did you mean "agent"/);
  assert.match(u.err(), /EDGELOOP_ERR_USAGE/);
});

test('a bad option is reported with its code and a suggestion, not a stack trace', async () => {
  const t = io();
  assert.equal(await main(['agent', '--serial', '/dev/null', '--baudrate', '9600'], t.io), 2);
  assert.match(
    t.err(),
    /unknown option --baudrate \(did you mean --baud\?\)\..*\[EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION\]/,
  );
  const d = io();
  assert.equal(await main(['decode'], d.io), 2);
  assert.match(d.err(), /EDGELOOP_ERR_USAGE/);
});

test('delivered commands load their real implementation, and only later work says "not available yet"', async () => {
  const later = new Set<string>();
  for (const [name, entry] of Object.entries(commands)) {
    const command = await entry.load();
    const placeholder = /not available yet/i.test(command.help);
    assert.equal(placeholder, later.has(name), `${name}: placeholder=${String(placeholder)}`);
  }
});

test('top-level help marks the commands that are not available yet and documents --debug', async () => {
  const t = io();
  assert.equal(await main(['--help'], t.io), 0);
  for (const [name, entry] of Object.entries(commands)) {
    const line = t
      .out()
      .split('\n')
      .find((l) => l.startsWith(`  ${name} `));
    assert.ok(line !== undefined, name);
    assert.equal(line.includes('(not available yet)'), entry.available === false, line);
  }
  assert.match(t.out(), /--debug/);
  assert.match(t.out(), /second one,\s+or 10 s without finishing, exits at once with 130 \(SIGINT\) or 143/);
});

/** A command table with one command that throws `err`. */
function throwing(err: unknown) {
  return {
    boom: {
      summary: 'throws',
      load: () =>
        Promise.resolve({
          summary: 'throws',
          help: 'edgeloop boom',
          run: () => Promise.reject(err instanceof Error ? err : new Error(String(err))),
        }),
    },
  };
}

function sysError(message: string, props: Record<string, unknown>): Error {
  return Object.assign(new Error(message), props);
}

test('known system errors become one line with a stable code, never a stack trace', async () => {
  const cases: [Error, RegExp][] = [
    [
      sysError('listen EADDRINUSE: address already in use 127.0.0.1:8470', {
        code: 'EADDRINUSE',
        syscall: 'listen',
        address: '127.0.0.1',
        port: 8470,
      }),
      /^edgeloop boom: cannot listen on 127\.0\.0\.1:8470: the address is already in use \(EADDRINUSE\) \[EDGELOOP_ERR_HTTP_LISTEN\]\n$/,
    ],
    [
      sysError('listen EACCES: permission denied 0.0.0.0:80', {
        code: 'EACCES',
        syscall: 'listen',
        address: '0.0.0.0',
        port: 80,
      }),
      /cannot listen on 0\.0\.0\.0:80: permission denied .*\[EDGELOOP_ERR_HTTP_LISTEN\]/,
    ],
    [
      sysError("ENOENT: no such file or directory, open '/nope/x.key'", {
        code: 'ENOENT',
        syscall: 'open',
        path: '/nope/x.key',
      }),
      /^edgeloop boom: \/nope\/x\.key: no such file or directory \(ENOENT, open\) \[EDGELOOP_ERR_PATH\]\n$/,
    ],
    [
      sysError("ENOTDIR: not a directory, mkdir '/etc/passwd/keys'", {
        code: 'ENOTDIR',
        syscall: 'mkdir',
        path: '/etc/passwd/keys',
      }),
      /\/etc\/passwd\/keys: a part of the path is not a directory \(ENOTDIR, mkdir\) \[EDGELOOP_ERR_PATH\]/,
    ],
    [
      sysError("EACCES: permission denied, open '/root/x'", {
        code: 'EACCES',
        syscall: 'open',
        path: '/root/x',
      }),
      /\/root\/x: permission denied \(EACCES, open\) \[EDGELOOP_ERR_PATH\]/,
    ],
  ];
  for (const [err, expected] of cases) {
    const t = io();
    assert.equal(await main(['boom'], t.io, throwing(err)), 2, err.message);
    assert.match(t.err(), expected);
    assert.doesNotMatch(t.err(), /\n\s+at /, 'no stack without --debug');
  }
});

test('EPIPE is a normal end; anything else is one line asking for a report, the stack only with --debug', async () => {
  const pipe = io();
  const epipe = sysError('write EPIPE', { code: 'EPIPE', syscall: 'write' });
  assert.equal(await main(['boom'], pipe.io, throwing(epipe)), 0);
  assert.equal(pipe.err(), '');

  const bug = new TypeError("Cannot read properties of undefined (reading 'x')\nsecond line");
  const plain = io();
  assert.equal(await main(['boom'], plain.io, throwing(bug)), 70);
  assert.match(
    plain.err(),
    /^edgeloop boom: TypeError: Cannot read properties of undefined \(reading 'x'\) \[EDGELOOP_ERR_INTERNAL\]; this is a bug in edgeloop: rerun with --debug/,
  );
  assert.equal(plain.err().split('\n').length, 2, 'one line');

  for (const argv of [
    ['--debug', 'boom'],
    ['boom', '--debug'],
  ]) {
    const debug = io();
    assert.equal(await main(argv, debug.io, throwing(bug)), 70);
    assert.match(debug.err(), /\[EDGELOOP_ERR_INTERNAL\]/);
    assert.match(debug.err(), /\n\s+at .*cli\.test\.ts/, 'the stack with --debug');
  }
  // After `--` the flag belongs to the command, not to edgeloop.
  const seen: string[][] = [];
  const table = {
    echo: {
      summary: 'echo',
      load: () =>
        Promise.resolve({
          summary: 'echo',
          help: 'edgeloop echo',
          run: (argv: string[]) => {
            seen.push(argv);
            return Promise.resolve(0);
          },
        }),
    },
  };
  assert.equal(await main(['echo', 'a', '--', '--debug'], io().io, table), 0);
  assert.deepEqual(seen, [['a', '--', '--debug']]);
});

test('stop signals: the first aborts the command, a second exits 130/143 at once', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const source = new EventEmitter();
    const controller = new AbortController();
    const exits: number[] = [];
    const stderr = new PassThrough();
    const handle = handleStopSignals({ source, controller, stderr, exit: (c) => exits.push(c) });
    source.emit(sig);
    assert.equal(controller.signal.aborted, true);
    assert.deepEqual(exits, [], 'the first signal leaves the command time to stop');
    source.emit(sig);
    assert.deepEqual(exits, [code]);
    handle.dispose();
    assert.equal(source.listenerCount('SIGINT') + source.listenerCount('SIGTERM'), 0);
  }
  assert.equal(STOP_GRACE_MS, 10_000);
});

test('stop signals: a command that ignores the abort is ended when the grace period runs out', async () => {
  const source = new EventEmitter();
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new EventEmitter();
  const handle = handleStopSignals({
    source,
    controller: new AbortController(),
    stderr,
    graceMs: 1,
    exit: (c) => exited.emit('exit', c),
  });
  // A command may raise the grace to its own shutdown bound, never lower it.
  handle.extendGrace(2);
  handle.extendGrace(0);
  const code = once(exited, 'exit');
  // The grace timer is unref'd (it must never keep edgeloop alive): hold the test's loop while it runs.
  const hold = setInterval(() => undefined, 1000);
  source.emit('SIGTERM');
  assert.deepEqual(await code, [143]);
  clearInterval(hold);
  assert.match(text, /still running 0\.002 s after SIGTERM; exiting/);
});

test('keygen: options from EDGELOOP_* variables and a --config file; a path under a file is EDGELOOP_ERR_PATH', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-keygen-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'keygen.json');
  writeFileSync(file, JSON.stringify({ out: join(dir, 'keys'), name: 'from-file' }));
  const a = io();
  const env = { EDGELOOP_NAME: 'from-env' };
  assert.equal(await main(['keygen', '--config', file], { ...a.io, env }), 0, a.err());
  assert.ok(existsSync(join(dir, 'keys', 'from-env.key')), 'the variable beats the file');
  const bad = io();
  assert.equal(await main(['keygen', '--config', file], { ...bad.io, env: { EDGELOOP_NAME: '.hidden' } }), 2);
  assert.match(
    bad.err(),
    /EDGELOOP_NAME=\.hidden: must be a plain file name stem.*\[EDGELOOP_ERR_CONFIG_INVALID\]/,
  );
  // --out below a regular file: ENOTDIR from mkdir, one coded line, no stack.
  const blocked = io();
  assert.equal(await main(['keygen', '--out', join(file, 'keys')], blocked.io), 2);
  assert.match(
    blocked.err(),
    /^edgeloop keygen: cannot write keys: .*keygen\.json\/keys.*\(ENOTDIR, mkdir\) \[EDGELOOP_ERR_PATH\]\n$/,
  );
});

test('demo options: flag > EDGELOOP_* variable > --config file > default', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-demo-config-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  assert.deepEqual(loadDemoConfig([], {}), {
    scenario: 'sensor-faults',
    seed: 1,
    durationS: 0,
    speed: '16',
    allWindows: false,
  });
  const file = join(dir, 'demo.json');
  writeFileSync(file, JSON.stringify({ scenario: 'steady', durationS: 30, speed: 'max' }));
  const c = loadDemoConfig(['--config', file, '--duration', '60'], {
    EDGELOOP_SEED: '4',
    EDGELOOP_SPEED: '2',
  });
  assert.deepEqual({ ...c }, { scenario: 'steady', seed: 4, durationS: 60, speed: '2', allWindows: false });
  assert.ok(Object.isFrozen(c));
  assert.throws(
    () => loadDemoConfig(['--speed', 'fast'], {}),
    (e: unknown) => e instanceof Error && /^--speed fast: expected a positive number/.test(e.message),
  );
});
