// Issue #3 §4: onnxruntime-node's outputs equal the TypeScript model's on the whole test set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { loadOnnxModel } from '../../collector/adapters/onnxruntime.ts';
import { classOrder, splitDataset, toMatrix } from '../../collector/training/dataset.ts';
import {
  argmaxRows,
  applyScaler,
  fitScaler,
  predictProba,
  trainMlp,
  type TrainedModel,
} from '../../collector/training/model.ts';
import {
  exportOnnx,
  inspectOnnx,
  ONNX_IR_VERSION,
  ONNX_OPSET_VERSION,
} from '../../collector/training/onnx-export.ts';
import { syntheticRows } from '../../collector/training/synthetic.ts';

const rows = syntheticRows({ seed: 21, devices: 4, minutes: 10, rowsPerGroup: 5, features: 10 });
const classes = classOrder(rows);
const split = splitDataset(rows, 1, 0.3);
assert.ok(split.ok);
const train = toMatrix(split.value.train.rows, classes);
const testSet = toMatrix(split.value.test.rows, classes);

function trained(hidden: number): TrainedModel {
  const scaler = fitScaler(train.x, train.n, train.f);
  const hp = { hidden, learningRate: 0.02, l2: 1e-4, epochs: 20, batchSize: 16 };
  const weights = trainMlp(
    applyScaler(scaler, train.x, train.n, train.f),
    train.y,
    train.n,
    train.f,
    classes.length,
    hp,
    77,
  );
  return { classes, scaler, weights, hyperparameters: hp };
}

for (const hidden of [12, 0]) {
  test(`parity (hidden=${hidden}): probabilities within 1e-5 and identical labels on the whole test set`, async (t) => {
    const model = trained(hidden);
    const exported = exportOnnx(model, { pipelineId: 'test-pipeline' });
    const loaded = await loadOnnxModel(exported.bytes);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.message);
    const session = loaded.value;
    t.after(() => session.close());

    assert.deepEqual(session.inputs, [{ name: 'features', dtype: 'float32', shape: ['N', train.f] }]);
    assert.deepEqual(session.outputs, [
      { name: 'probabilities', dtype: 'float32', shape: ['N', classes.length] },
      { name: 'label', dtype: 'int64', shape: ['N'] },
    ]);
    assert.deepEqual(session.inputs, exported.metadata.inputs);
    assert.deepEqual(session.outputs, exported.metadata.outputs);

    const out = await session.run({
      features: { dtype: 'float32', data: Float32Array.from(testSet.x), dims: [testSet.n, testSet.f] },
    });
    assert.ok(out.ok, out.ok ? '' : out.message);
    const probs = out.value.probabilities!;
    const labels = out.value.label!;
    assert.deepEqual(probs.dims, [testSet.n, classes.length]);
    assert.deepEqual(labels.dims, [testSet.n]);
    assert.ok(labels.data instanceof BigInt64Array);

    const expected = predictProba(model, testSet.x, testSet.n);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(Number(probs.data[i]) - expected[i]!));
    assert.ok(maxDiff <= 1e-5, `max |onnx - ts| = ${maxDiff}`);
    const tsLabels = argmaxRows(expected, testSet.n, classes.length);
    assert.deepEqual(Array.from(labels.data, Number), Array.from(tsLabels));
    assert.ok(testSet.n > 20, 'the test set is big enough to mean something');
  });
}

test('the exported graph records IR version, opset, classes and pipeline id', () => {
  const exported = exportOnnx(trained(4), {
    pipelineId: 'vib-v1',
    pipelineHash: 'sha256:abc',
    producerVersion: '1.2.3',
  });
  const decoded = onnxProto.onnx.ModelProto.decode(exported.bytes);
  assert.equal(Number(decoded.irVersion), ONNX_IR_VERSION);
  assert.equal(ONNX_IR_VERSION, 8);
  assert.deepEqual(
    decoded.opsetImport.map((o) => [o.domain, Number(o.version)]),
    [['', ONNX_OPSET_VERSION]],
  );
  const props: Record<string, string> = {};
  for (const p of decoded.metadataProps) props[p.key ?? ''] = p.value ?? '';
  assert.deepEqual(JSON.parse(props['edgeloop.classes'] ?? '') as unknown, classes);
  assert.equal(props['edgeloop.pipeline_id'], 'vib-v1');
  assert.equal(props['edgeloop.pipeline_hash'], 'sha256:abc');
  assert.equal(decoded.producerVersion, '1.2.3');
  assert.deepEqual(
    (decoded.graph?.node ?? []).map((n) => n.opType),
    ['Sub', 'Div', 'MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Softmax', 'ArgMax'],
  );
  assert.deepEqual(exported.metadata.metadataProps, props);
  const inspected = inspectOnnx(exported.bytes);
  assert.ok(inspected.ok);
  assert.deepEqual(inspected.value, {
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'edgeloop',
    producerVersion: '1.2.3',
    metadataProps: props,
  });
  const garbage = inspectOnnx(Uint8Array.from([0xff, 0xff, 0xff, 0xff]));
  assert.ok(!garbage.ok);
  assert.equal(garbage.code, 'EDGELOOP_ERR_ONNX_LOAD');
});

test('the adapter turns a corrupt model and a bad feed into failure values, and close() is idempotent', async () => {
  const bad = await loadOnnxModel(Uint8Array.from([1, 2, 3, 4, 5]));
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'EDGELOOP_ERR_ONNX_LOAD');

  const loaded = await loadOnnxModel(exportOnnx(trained(0), { pipelineId: 'p' }).bytes);
  assert.ok(loaded.ok);
  const wrongShape = await loaded.value.run({
    features: { dtype: 'float32', data: new Float32Array(3), dims: [1, 3] },
  });
  assert.ok(!wrongShape.ok);
  assert.equal(wrongShape.code, 'EDGELOOP_ERR_ONNX_RUN');
  const wrongName = await loaded.value.run({
    nope: { dtype: 'float32', data: new Float32Array(train.f), dims: [1, train.f] },
  });
  assert.ok(!wrongName.ok);
  await loaded.value.close();
  await loaded.value.close();
  const afterClose = await loaded.value.run({
    features: { dtype: 'float32', data: new Float32Array(train.f), dims: [1, train.f] },
  });
  assert.ok(!afterClose.ok);
  assert.equal(afterClose.code, 'EDGELOOP_ERR_ONNX_RUN');
});
