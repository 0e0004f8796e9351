#!/usr/bin/env node
// Runs every test file through node:test with tsx. Node 20's runner neither expands globs nor finds .ts
// files, and exits 0 when it is given none, so we list the files ourselves and fail on an empty list.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('run-tests: no test files found under test/ — refusing to report success.');
  process.exit(1);
}
console.log(`run-tests: ${files.length} test files`);
const concurrency = process.env.EDGELOOP_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  // A per-test timeout, so a hung test (a pty that never drains, a broker that never answers) fails the run
  // with its name instead of holding CI until its own limit. Node 20 applies it to each file as a whole
  // too: the longest files (the collector's scenario e2e, about 4 min on a loaded box) must fit in it.
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
