// The feature CSV contract (shared/features/csv.ts): what `edgeloop features` writes is what
// `registry push --onnx` reads, a trailing label column included, with float32-exact values.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureCsvHeader, featureCsvRow, parseFeatureCsv } from '../../shared/features/csv.ts';

test('header, rows and labels round-trip; values come back as the same float32', () => {
  const names = ['accel.x.mean', 'accel.x.std'];
  const values = [Float32Array.from([0.1, -1e-7]), Float32Array.from([123456.789, 3])];
  const text = [
    featureCsvHeader(names, true),
    featureCsvRow(values[0]!, 'normal'),
    featureCsvRow(values[1]!, 'imbalance'),
  ].join('\n');
  assert.equal(text.split('\n')[0], 'accel.x.mean,accel.x.std,label');
  assert.equal(text.split('\n')[1], '0.100000001,-1.00000001e-7,normal');
  const back = parseFeatureCsv(`${text}\n`, 'x.csv');
  assert.ok(back.ok, back.ok ? '' : back.message);
  assert.deepEqual(back.value.featureNames, names);
  assert.deepEqual(back.value.labels, ['normal', 'imbalance']);
  back.value.rows.forEach((r, i) => {
    assert.deepEqual(Float32Array.from(r), values[i]);
  });
  const plain = parseFeatureCsv(`${featureCsvHeader(names)}\n${featureCsvRow(values[0]!)}\n`, 'y.csv');
  assert.ok(plain.ok);
  assert.equal(plain.value.labels, undefined);
});

test('malformed rows, names and labels are refused', () => {
  assert.match(
    (() => {
      const r = parseFeatureCsv('a,b\n1,2\n1,x\n', 'd.csv');
      return r.ok ? 'ok' : `${r.code} ${r.message}`;
    })(),
    /EDGELOOP_ERR_CSV_LINE d\.csv line 3: expected 2 numbers/,
  );
  const missingLabel = parseFeatureCsv('a,label\n1,\n', 'd.csv');
  assert.equal(missingLabel.ok ? 'ok' : missingLabel.code, 'EDGELOOP_ERR_CSV_LINE');
  const empty = parseFeatureCsv('\n# only a comment\n', 'd.csv');
  assert.equal(empty.ok ? 'ok' : empty.code, 'EDGELOOP_ERR_INPUT_READ');
  assert.throws(() => featureCsvHeader(['a,b']), /cannot be a CSV column/);
  assert.throws(() => featureCsvHeader(['label']), /cannot be a CSV column/);
  assert.throws(() => featureCsvRow([Number.NaN]), /not finite/);
});
