import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EdgeloopError, errorCatalogue, fail } from '../../shared/errors.ts';
import { renderErrorsDoc } from '../../scripts/errors-doc.ts';

test('every error code is documented in docs/errors.md, which matches the catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const code of Object.keys(errorCatalogue))
    assert.ok(doc.includes(`\`${code}\``), `${code} missing from docs/errors.md`);
  assert.equal(
    doc,
    renderErrorsDoc(),
    'docs/errors.md is stale: run node --import tsx scripts/errors-doc.ts',
  );
});

test('codes are well formed and messages tell the user what to do', () => {
  for (const [code, message] of Object.entries(errorCatalogue)) {
    assert.match(code, /^EDGELOOP_ERR_[A-Z0-9_]+$/);
    assert.ok(message.length >= 20, `${code} has a message too short to help`);
    assert.ok(message.endsWith('.'), `${code} message should be a sentence`);
  }
});

test('fail() and EdgeloopError carry the code and the detail', () => {
  const f = fail('EDGELOOP_ERR_FRAME_CRC', 'frame 12');
  assert.equal(f.ok, false);
  assert.equal(f.code, 'EDGELOOP_ERR_FRAME_CRC');
  assert.match(f.message, /^frame 12\. /);
  const e = new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'baud: too small');
  assert.equal(e.code, 'EDGELOOP_ERR_CONFIG_INVALID');
  assert.match(e.message, /baud: too small/);
});
