import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../shared/bundle/canonical-json.ts';
import { manifestDigest, sha256Hex } from '../../shared/bundle/signing.ts';

test('canonicalJson sorts keys at every depth and drops whitespace', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
    '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
  );
});

test('canonicalJson is independent of insertion order', () => {
  const a = { name: 'm', version: '1.0.0', files: [{ size: 1, path: 'a' }] };
  const b = { files: [{ path: 'a', size: 1 }], version: '1.0.0', name: 'm' };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(manifestDigest(a), manifestDigest(b));
  assert.equal(manifestDigest(a), sha256Hex(canonicalJson(a)));
});

test('canonicalJson orders keys by UTF-16 code units (RFC 8785 3.2.3)', () => {
  // U+1F600 is a surrogate pair starting 0xD83D, which sorts before U+FF61.
  assert.equal(
    canonicalJson({ '\uFF61': 1, '\u{1F600}': 2, é: 3, B: 4, a: 5 }),
    '{"B":4,"a":5,"é":3,"😀":2,"｡":1}',
  );
});

test('canonicalJson prints numbers as ECMAScript does, -0 as 0', () => {
  assert.equal(
    canonicalJson([1.0, 1e21, 1e-7, -0, 0.1 + 0.2, 123456789012345680000]),
    '[1,1e+21,1e-7,0,0.30000000000000004,123456789012345680000]',
  );
});

test('canonicalJson escapes strings like JSON.stringify', () => {
  assert.equal(canonicalJson('a"b\\c\n\u0001'), '"a\\"b\\\\c\\n\\u0001"');
});

test('canonicalJson omits undefined properties', () => {
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
});

test('canonicalJson rejects values with no JSON form, naming where', () => {
  assert.throws(() => canonicalJson({ a: [1, NaN] }), /NaN at \.a\[1\]/);
  assert.throws(() => canonicalJson({ x: Infinity }), /Infinity at \.x/);
  assert.throws(() => canonicalJson({ x: -Infinity }), /-Infinity/);
  assert.throws(() => canonicalJson({ x: 1n }), /bigint/);
  assert.throws(() => canonicalJson([undefined]), /undefined array item/);
  assert.throws(() => canonicalJson({ d: new Date(0) }), /class instance/);
  assert.throws(() => canonicalJson('\uD800'), /lone UTF-16 surrogate/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle/);
});

test('canonicalJson allows shared (non-cyclic) references', () => {
  const shared = { k: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
});

test('canonical output parses back to an equal value and re-encodes identically', () => {
  const v = { z: [1.5, 'x', true, null, { q: -2e-9 }], a: 'ü' };
  const text = canonicalJson(v);
  assert.equal(canonicalJson(JSON.parse(text)), text);
});
