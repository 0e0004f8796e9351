// The edgeloop version in lineage and the ONNX producer (issue #8 §5): run from dist/, `edgeloop train`
// looked for package.json inside dist/ and recorded "edgeloop 0.0.0". The version comes from the nearest
// package.json upwards whose name is edgeloop, wherever the code runs from.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  edgeloopVersion,
  findPackageRoot,
  libraryVersion,
  lineageLibraries,
} from '../../shared/platform/package-info.ts';
import { collectLineageEnv } from '../../collector/index.ts';

const own = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

test('findPackageRoot skips a nameless package.json in a build output and finds edgeloop above it', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgeloop-pkg-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'edgeloop', version: '9.8.7' }));
  // What a build may leave in dist/: a module-type marker, or another package's manifest.
  mkdirSync(join(root, 'dist', 'collector', 'training'), { recursive: true });
  writeFileSync(join(root, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(root, 'dist', 'collector', 'package.json'), JSON.stringify({ name: 'other' }));
  assert.equal(findPackageRoot(join(root, 'dist', 'collector', 'training')), root);
  assert.equal(findPackageRoot(join(root, 'dist')), root);
  assert.equal(findPackageRoot(tmpdir(), 'no-such-package-name-anywhere'), undefined);
});

test('from source, the lineage records the package.json version of edgeloop and its libraries', () => {
  assert.equal(edgeloopVersion(), own.version);
  assert.notEqual(own.version, '0.0.0');
  const env = collectLineageEnv();
  assert.equal(env.edgeloopVersion, own.version);
  assert.equal(env.libraries.edgeloop, own.version);
  assert.match(env.libraries['onnxruntime-node'] ?? '', /^\d+\.\d+\.\d+/);
  assert.equal(libraryVersion('no-such-package-xyz'), undefined);
  const libs = lineageLibraries(['onnxruntime-node', 'no-such-package-xyz']);
  assert.deepEqual(Object.keys(libs).sort(), ['edgeloop', 'node', 'onnxruntime-node']);
});
