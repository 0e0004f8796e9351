// `edgeloop drift` end to end (issue #9 §5): CSV against CSV and against a bundle's reference.json, the
// table and the JSON report, and the exit codes: 0 no drift, 1 drift, 2 bad input with a stable code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/main.ts';
import type { DriftReport } from '../../cli/drift.ts';
import { buildReferenceProfile, encodeReferenceProfile } from '../../shared/bundle/reference.ts';
import { Prng } from '../../shared/random.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-drift-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Columns a, b, c of AR(1) φ = 0.8 noise; `shifts` adds a mean shift (in σ) per column. */
function columns(
  seed: number,
  rows: number,
  shifts: Record<string, number> = {},
): Record<string, Float64Array> {
  const rng = new Prng(seed, 'drift-cli');
  const out: Record<string, Float64Array> = {};
  for (const name of ['a', 'b', 'c']) {
    const v = new Float64Array(rows);
    let x = rng.gaussian();
    for (let i = 0; i < rows; i++) {
      v[i] = 10 + 2 * x + 2 * (shifts[name] ?? 0);
      x = 0.8 * x + 0.6 * rng.gaussian();
    }
    out[name] = v;
  }
  return out;
}

function csv(cols: Record<string, Float64Array>): string {
  const names = Object.keys(cols);
  const rows = cols[names[0] as string]?.length ?? 0;
  const lines = [names.join(',')];
  for (let i = 0; i < rows; i++) lines.push(names.map((n) => (cols[n]?.[i] as number).toFixed(4)).join(','));
  return `${lines.join('\n')}\n`;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(['drift', ...args], {
    stdout,
    stderr,
    env: {},
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

test('CSV against CSV: the shifted column drifts (exit 1), every score has its threshold and origin', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ref.csv'), csv(columns(1, 20_000)));
  writeFileSync(join(dir, 'cur.csv'), csv(columns(2, 2000, { b: 0.5 })));
  const r = await run(['--reference', join(dir, 'ref.csv'), '--current', join(dir, 'cur.csv'), '--json']);
  assert.equal(r.code, 1, r.err);
  const report = JSON.parse(r.out) as DriftReport;
  assert.equal(report.schemaVersion, 1);
  assert.equal(report.verdict, 'drift');
  assert.deepEqual(
    report.columns.map((c) => [c.name, c.verdict]),
    [
      ['a', 'ok'],
      ['b', 'drift'],
      ['c', 'ok'],
    ],
  );
  for (const c of report.columns) {
    assert.equal(c.n, 2000);
    assert.ok(c.nEff > 100 && c.nEff < 400, `n_eff ${c.nEff}`);
    assert.deepEqual(
      c.methods.map((m) => m.method),
      ['wasserstein', 'psi', 'ks', 'cusum'],
    );
    for (const m of c.methods) {
      assert.ok(
        m.threshold !== null && typeof m.threshold.origin === 'string' && m.threshold.detail.length > 0,
      );
      assert.ok(Number.isFinite(m.score));
    }
  }
  const b = report.columns[1];
  assert.ok(b !== undefined && Math.abs(b.meanShiftScales - 0.5) < 0.35, `shift ${b?.meanShiftScales}`);
});

test('no shift: exit 0 and a readable table', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ref.csv'), csv(columns(3, 20_000)));
  writeFileSync(join(dir, 'cur.csv'), csv(columns(4, 2000)));
  const r = await run([
    '--reference',
    join(dir, 'ref.csv'),
    '--current',
    join(dir, 'cur.csv'),
    '--columns',
    'c,a',
  ]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /^a +ok /m);
  assert.match(r.out, /^c +ok /m);
  assert.doesNotMatch(r.out, /^b /m);
  assert.match(r.out, /wasserstein .* reference-chunks/);
  assert.match(r.out, /0 of 2 columns drift/);
});

test("CSV against a bundle's reference.json (a bundle directory)", async (t) => {
  const dir = tempDir(t);
  const ref = columns(5, 20_000);
  const profile = buildReferenceProfile(Object.entries(ref).map(([name, values]) => ({ name, values })));
  assert.ok(profile.ok);
  mkdirSync(join(dir, 'bundle'));
  writeFileSync(join(dir, 'bundle', 'reference.json'), encodeReferenceProfile(profile.value));
  writeFileSync(join(dir, 'cur.csv'), csv(columns(6, 5000, { a: 1 })));
  const r = await run(['--reference', join(dir, 'bundle'), '--current', join(dir, 'cur.csv'), '--json']);
  assert.equal(r.code, 1, r.err);
  const report = JSON.parse(r.out) as DriftReport;
  assert.equal(report.reference.kind, 'bundle');
  assert.equal(report.columns.find((c) => c.name === 'a')?.verdict, 'drift');
  const psi = report.columns[0]?.methods.find((m) => m.method === 'psi');
  assert.ok(
    ['bundle-chunk-scores', 'physical-floor'].includes(psi?.threshold?.origin ?? ''),
    psi?.threshold?.origin,
  );
  // A current column the profile lacks is bad input.
  writeFileSync(join(dir, 'other.csv'), 'a,zz\n1,2\n');
  const bad = await run(['--reference', join(dir, 'bundle'), '--current', join(dir, 'other.csv')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /EDGELOOP_ERR_DRIFT_COLUMN_MISSING/);
});

test('bad input exits 2 with a stable code', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ref.csv'), csv(columns(7, 1000)));
  writeFileSync(join(dir, 'text.csv'), 'a,b,c\n1,2,3\n4,five,6\n');
  writeFileSync(join(dir, 'empty.csv'), '');
  const ref = join(dir, 'ref.csv');
  const cases: [string[], string][] = [
    [['--reference', ref, '--current', join(dir, 'text.csv')], 'EDGELOOP_ERR_DRIFT_CSV'],
    [['--reference', ref, '--current', join(dir, 'empty.csv')], 'EDGELOOP_ERR_DRIFT_CSV_EMPTY'],
    [['--reference', ref, '--current', ref, '--columns', 'a,nope'], 'EDGELOOP_ERR_DRIFT_COLUMN_MISSING'],
    [['--reference', join(dir, 'missing.csv'), '--current', ref], 'EDGELOOP_ERR_PATH'],
    [['--reference', ref], 'EDGELOOP_ERR_CONFIG_INVALID'],
    [['--reference', ref, '--current', ref, '--min-votes', '9'], 'EDGELOOP_ERR_CONFIG_INVALID'],
    [['--reference', ref, '--curent', ref], 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION'],
  ];
  for (const [args, code] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, new RegExp(`\\[${code}\\]`), r.err);
  }
});

test('--help documents the exit codes; the real process exits 1 on drift', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ref.csv'), csv(columns(8, 10_000)));
  writeFileSync(join(dir, 'cur.csv'), csv(columns(9, 2000, { c: 1 })));
  const env = { ...process.env, EDGELOOP_FROM_SOURCE: '1' };
  const help = spawnSync(process.execPath, [bin, 'drift', '--help'], { encoding: 'utf8', env });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Exit codes: 0 no column drifted/);
  const r = spawnSync(
    process.execPath,
    [bin, 'drift', '--reference', join(dir, 'ref.csv'), '--current', join(dir, 'cur.csv')],
    { encoding: 'utf8', env },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^c +drift /m);
});
