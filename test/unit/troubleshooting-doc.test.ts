// docs/troubleshooting.md (issue 11 §3) explains every error code of the catalogue (shared/errors.ts) with
// its likely causes and what to do. An operator looks a code up there, so a code missing from the page is a
// dead end, and a code the page names that the catalogue lacks (a typo, a code since removed) sends them
// after something no command ever prints.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCatalogue } from '../../shared/errors.ts';

const doc = readFileSync(new URL('../../docs/troubleshooting.md', import.meta.url), 'utf8');
const catalogue = new Set(Object.keys(errorCatalogue));

/** Every EDGELOOP_ERR_ code the page names; `EDGELOOP_ERR_...` (the generic form) is not a code. */
function codesNamed(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/EDGELOOP_ERR_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]));
}

/** The codes that have a row of their own: a table row whose first cell is the code. */
function codesWithRows(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `(EDGELOOP_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
}

test('every code of the catalogue has a row in docs/troubleshooting.md', () => {
  const rows = new Set(codesWithRows(doc));
  const missing = [...catalogue].filter((code) => !rows.has(code));
  assert.deepEqual(missing, [], `codes without a row in docs/troubleshooting.md: ${missing.join(', ')}`);
});

test('docs/troubleshooting.md names no code that is not in the catalogue', () => {
  const unknown = [...codesNamed(doc)].filter((code) => !catalogue.has(code));
  assert.deepEqual(unknown, [], `codes not in shared/errors.ts: ${unknown.join(', ')}`);
});

test('each code has exactly one row, with causes and what to do', () => {
  const rows = codesWithRows(doc);
  const repeated = rows.filter((code, i) => rows.indexOf(code) !== i);
  assert.deepEqual(repeated, [], `codes with more than one row: ${repeated.join(', ')}`);
  for (const line of doc.split('\n').filter((l) => /^\| `EDGELOOP_ERR_/.test(l))) {
    // | code | likely causes | what to do |: three cells, none empty (a `\|` inside a cell is text).
    const cells = line
      .replace(/\\\|/g, '')
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    assert.equal(cells.length, 3, `not a three-cell row: ${line}`);
    for (const cell of cells) assert.ok(cell.length > 0, `an empty cell in: ${line}`);
  }
});

test('the checks can fail: a missing code and an unknown one are both found', () => {
  const first = [...catalogue][0] as string;
  const without = doc.replace(new RegExp(`^\\| \`${first}\` \\|.*$`, 'm'), '');
  assert.ok(!new Set(codesWithRows(without)).has(first));
  assert.ok(codesNamed('see `EDGELOOP_ERR_NO_SUCH_CODE`').has('EDGELOOP_ERR_NO_SUCH_CODE'));
  assert.ok(!codesNamed('`[EDGELOOP_ERR_...]` and EDGELOOP_ERR_').size);
});
