// What a user reads before running `edgeloop collector` must match what it takes: every option in
// `edgeloop collector --help` has a row in docs/collector.md's Options table and every row is an option
// (the table once missed the monitor and alert options), the alert options docs/alerts.md names are
// options too, a misspelled or bad option is one line with a stable code and exit status 2, and a
// misspelled --drift-features name (which no schema can refuse: another board has other features) is
// named in a warning at start.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const doc = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)), 'utf8');
const env = { ...process.env, EDGELOOP_FROM_SOURCE: '1' };

function collector(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'collector', ...args], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The section of `markdown` under `heading` (up to the next heading of the same level). */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `heading ${heading}`);
  const level = /^#+/.exec(heading)?.[0] ?? '##';
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n${level} `));
  return end < 0 ? rest : rest.slice(0, end);
}

const kebab = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

test('every collector option in --help is in docs/collector.md Options, and every row there is an option', () => {
  const help = collector(['--help']);
  assert.equal(help.status, 0, help.stderr);
  const inHelp = new Set(
    [...help.stdout.matchAll(/^ {2}(?:-h, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1] as string),
  );
  inHelp.delete('--help');
  inHelp.delete('--config'); // described in the text above the table, as for every command
  assert.ok(inHelp.size >= 30, `options in --help: ${[...inHelp].join(' ')}`);

  const table = section(doc('collector.md'), '## Options')
    .split('\n')
    .filter((l) => l.startsWith('| `--'));
  const inDocs = new Set(
    table.flatMap((row) =>
      [...(row.split(' | ')[0] ?? '').matchAll(/`(--[a-z][a-z-]*)/g)].map((m) => m[1] as string),
    ),
  );
  assert.deepEqual(
    [...inHelp].filter((f) => !inDocs.has(f)),
    [],
    'in --help, missing from the docs table',
  );
  assert.deepEqual(
    [...inDocs].filter((f) => !inHelp.has(f)),
    [],
    'in the docs table, not an option',
  );

  const alertOptions = [...section(doc('alerts.md'), '## Options').matchAll(/^\| `([a-zA-Z]+)` \|/gm)].map(
    (m) => `--${kebab(m[1] as string)}`,
  );
  assert.ok(alertOptions.length >= 5, alertOptions.join());
  assert.deepEqual(
    alertOptions.filter((f) => !inHelp.has(f)),
    [],
    'docs/alerts.md options missing from --help',
  );
});

test('a bad collector option is one line ending in a stable code, exit status 2', () => {
  const cases: [readonly string[], string, RegExp][] = [
    [
      ['--data-dir', '/nonexistent/x', '--drift-windw', '3'],
      'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION',
      /--drift-window/,
    ],
    [
      ['--data-dir', '/nonexistent/x', '--alert-webhooks', 'http://hook.example/x'],
      'EDGELOOP_ERR_CONFIG_INVALID',
      /alertWebhookSecret/,
    ],
    [
      ['--data-dir', '/nonexistent/x', '--alertmanager-url', 'am:9093'],
      'EDGELOOP_ERR_CONFIG_INVALID',
      /alertmanagerUrl/,
    ],
    [
      ['--data-dir', '/nonexistent/x', '--evaluate-interval-ms', '5'],
      'EDGELOOP_ERR_CONFIG_INVALID',
      /evaluateIntervalMs/,
    ],
    [['--data-dir', '/nonexistent/x', '--alert-mqtt', 'maybe'], 'EDGELOOP_ERR_CONFIG_INVALID', /alertMqtt/],
    // Node 20's recursive mkdir never returns under /proc: refused before it is tried.
    [
      ['--data-dir', '/proc/edgeloop', '--http-port', '0', '--broker-port', '0'],
      'EDGELOOP_ERR_PATH',
      /\/proc\/edgeloop/,
    ],
  ];
  for (const [args, code, names] of cases) {
    const r = collector(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]?.endsWith(`[${code}]`), r.stderr);
    assert.match(r.stderr, names);
  }
});

test('a misspelled --drift-features name is named in a warning at start (it would never be judged)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-user-docs-'));
  const child = spawn(
    process.execPath,
    [bin, 'collector', '--data-dir', join(dir, 'data'), '--http-port', '0', '--broker-port', '0'].concat([
      '--broker-host',
      '127.0.0.1',
      '--drift-features',
      'accel.x.meen,accel.y.mean',
    ]),
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await waitFor(
      () => `the start line (stderr ${err})`,
      () => out.includes('collector listening on'),
      {
        timeoutMs: 30_000,
      },
    );
    const warning = err.split('\n').find((l) => l.includes('WARN') && l.includes('driftFeatures'));
    assert.ok(warning !== undefined, err);
    assert.match(warning, /accel\.x\.meen/);
    assert.doesNotMatch(warning, /accel\.y\.mean/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
