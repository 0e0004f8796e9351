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
// The demo's end-to-end tests run a whole fleet (collector, three agent processes, boards at 8x, a
// retraining child): next to another file they take most of both cores and starve its timing (a CI run saw
// a rollout device miss its 20 s answer window). They run alone, after the rest.
const solo = files.filter((f) => f.startsWith('test/e2e/demo-'));
const shared = files.filter((f) => !solo.includes(f));
console.log(`run-tests: ${files.length} test files (${solo.length} run alone at the end)`);
const concurrency = process.env.EDGELOOP_TEST_CONCURRENCY ?? '2';
const run = (list, n) =>
  list.length === 0
    ? 0
    : (spawnSync(
        process.execPath,
        // A per-test timeout, so a hung test (a pty that never drains, a broker that never answers) fails
        // the run with its name instead of holding CI until its own limit. Node 20 applies it to each file
        // as a whole too: the longest files (the collector's scenario e2e, about 4 min on a loaded box, and
        // the demo's two runs) must fit in it.
        [
          '--import',
          'tsx',
          '--test',
          `--test-concurrency=${n}`,
          '--test-timeout=600000',
          '--test-reporter=spec',
          ...list,
        ],
        { cwd: root, stdio: 'inherit' },
      ).status ?? 1);
const first = run(shared, concurrency);
const second = run(solo, '1');
process.exit(first !== 0 ? first : second);
