import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  goldenTypedArray,
  ioProblems,
  labelCountProblem,
  probabilitiesOutput,
  type IoValueInfo,
} from '../../shared/bundle/io-check.ts';
import type { TensorSpec } from '../../shared/bundle/manifest.ts';

const declared: TensorSpec[] = [
  { name: 'x', dtype: 'float32', shape: ['batch', 3] },
  { name: 'mask', dtype: 'bool', shape: [3] },
];

test('ioProblems: matching names, dtypes and shapes (string or negative dynamic dims) give none', () => {
  const actual: IoValueInfo[] = [
    { name: 'x', dtype: 'float32', shape: ['N', 3] },
    { name: 'mask', dtype: 'bool', shape: [3] },
  ];
  assert.deepEqual(ioProblems('input', declared, actual), []);
  assert.deepEqual(
    ioProblems('input', declared.slice(0, 1), [{ name: 'x', dtype: 'float32', shape: [-1, 3] }]),
    [],
  );
});

test('ioProblems: reports missing, extra, dtype, rank and fixed-dim differences', () => {
  const actual: IoValueInfo[] = [
    { name: 'x', dtype: 'float64', shape: [1, 3] },
    { name: 'extra', dtype: 'float32', shape: [] },
  ];
  assert.deepEqual(ioProblems('input', declared, actual), [
    'input "x": model dtype float64, manifest float32',
    'input "x": model shape [1, 3], manifest [batch, 3]',
    'manifest input "mask" is not a model input',
    'model input "extra" is not in the manifest',
  ]);
  assert.deepEqual(
    ioProblems(
      'output',
      [{ name: 'y', dtype: 'int64', shape: [2] }],
      [{ name: 'y', dtype: 'int64', shape: [2, 1] }],
    ),
    ['output "y": model shape [2, 1], manifest [2]'],
  );
});

test('ioProblems: listModelNames appends the model names to a missing-name problem', () => {
  const actual: IoValueInfo[] = [
    { name: 'a', dtype: 'float32', shape: [] },
    { name: 'b', dtype: 'float32', shape: [] },
  ];
  const problems = ioProblems('output', [{ name: 'scores', dtype: 'float32', shape: [] }], actual, {
    listModelNames: true,
  });
  assert.equal(problems[0], 'manifest output "scores" is not a model output (model has "a", "b")');
});

test('goldenTypedArray: builds the typed array for each supported dtype', () => {
  const t = { dims: [3], data: [1, 2.5, -3] };
  const cases: [string, unknown][] = [
    ['float32', Float32Array.from([1, 2.5, -3])],
    ['float64', Float64Array.from([1, 2.5, -3])],
    ['int32', Int32Array.from([1, 2, -3])],
    ['int64', BigInt64Array.from([1n, 2n, -3n])],
    ['uint8', Uint8Array.from([1, 2.5, -3])],
  ];
  for (const [dtype, data] of cases) {
    const r = goldenTypedArray(t, dtype);
    assert.ok(r.ok, dtype);
    assert.equal(r.dtype, dtype);
    assert.deepEqual(r.data, data);
    assert.deepEqual(r.dims, [3]);
  }
  const b = goldenTypedArray({ dims: [2, 2], data: [true, false, false, true] }, 'bool');
  assert.ok(b.ok);
  assert.deepEqual(b.data, Uint8Array.from([1, 0, 0, 1]));
  assert.deepEqual(b.dims, [2, 2]);
  const b01 = goldenTypedArray({ dims: [3], data: [1, 0, 7] }, 'bool');
  assert.ok(b01.ok);
  assert.deepEqual(b01.data, Uint8Array.from([1, 0, 0]));
});

test('goldenTypedArray: an unsupported dtype and non-numeric values are distinct problems', () => {
  assert.deepEqual(goldenTypedArray({ dims: [1], data: [1] }, 'float16'), { ok: false, problem: 'dtype' });
  assert.deepEqual(goldenTypedArray({ dims: [1], data: ['a'] }, 'string'), { ok: false, problem: 'dtype' });
  assert.deepEqual(goldenTypedArray({ dims: [1], data: [true] }, 'float32'), {
    ok: false,
    problem: 'values',
  });
  assert.deepEqual(goldenTypedArray({ dims: [1], data: ['1'] }, 'int64'), { ok: false, problem: 'values' });
});

test('labelCountProblem: one label per probability column, from the signature or from observed outputs', () => {
  const fixed: TensorSpec[] = [
    { name: 'label', dtype: 'int64', shape: ['N'] },
    { name: 'probabilities', dtype: 'float32', shape: ['N', 5] },
  ];
  assert.equal(labelCountProblem(fixed, ['a', 'b', 'c', 'd', 'e']), undefined);
  assert.equal(
    labelCountProblem(fixed, ['a', 'b', 'c', 'd']),
    'output "probabilities" has 5 probability columns but there are 4 labels (a, b, c, d); give one label per column, in column order',
  );
  // A dynamic class dimension: the count comes from a run (golden outputs); unknown without one.
  const dynamic: TensorSpec[] = [{ name: 'scores', dtype: 'float32', shape: ['N', 'classes'] }];
  assert.equal(probabilitiesOutput(dynamic)?.name, 'scores', 'the only float32 output');
  assert.equal(labelCountProblem(dynamic, ['a', 'b']), undefined);
  assert.equal(labelCountProblem(dynamic, ['a', 'b'], { scores: { dims: [1, 2] } }), undefined);
  assert.match(
    labelCountProblem(dynamic, ['a', 'b'], { scores: { dims: [1, 3] } }) ?? '',
    /has 3 probability/,
  );
  // No probabilities output to judge by: not this check's business (the I/O checks refuse it).
  assert.equal(labelCountProblem([{ name: 'y', dtype: 'int64', shape: ['N'] }], ['a']), undefined);
});
