import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import {
  readBundle,
  readTrustedKeys,
  verifyBundleDir,
  writeBundleArchive,
  writeBundleContents,
  writeBundleDir,
} from '../../collector/registry/bundle-io.ts';
import { keygenCommand } from '../../cli/keygen.ts';
import type { CliIO } from '../../cli/commands.ts';
import { fixtureBundle } from './bundle-fixture.ts';

const signer = generateSigningKeyPair();

async function tmp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bundle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function hasTar(): boolean {
  return spawnSync('tar', ['--version']).status === 0;
}

// The tar codec itself (node-tar, shared/platform/tar.ts) is tested in bundle-tar.test.ts.

test('directory write, read and verify round trip; a tampered file on disk is caught', async (t) => {
  const dir = join(await tmp(t), 'bundle');
  const b = fixtureBundle(signer.privateKeyPem);
  const w = await writeBundleDir(dir, b.manifest, b.contents.files, b.signature);
  assert.ok(w.ok, w.ok ? '' : w.message);
  assert.deepEqual(new Uint8Array(await readFile(join(dir, 'manifest.json'))), b.contents.manifest);
  const v = await verifyBundleDir(dir, [signer.publicKeyPem]);
  assert.ok(v.ok, v.ok ? '' : v.message);
  assert.equal(v.value.keyId, signer.keyId);

  const again = await writeBundleDir(dir, b.manifest, b.contents.files, b.signature);
  assert.equal(again.ok ? 'ok' : again.code, 'EDGELOOP_ERR_BUNDLE_WRITE', 'refuses a non-empty directory');

  await writeFile(join(dir, 'reports', 'report.md'), '# Test REPORT\n');
  const bad = await verifyBundleDir(dir, [signer.publicKeyPem]);
  assert.equal(bad.ok ? 'ok' : bad.code, 'EDGELOOP_ERR_BUNDLE_HASH_MISMATCH');
  await writeFile(join(dir, 'stray.txt'), 'x');
  const extra = await verifyBundleDir(dir, [signer.publicKeyPem]);
  assert.equal(extra.ok ? 'ok' : extra.code, 'EDGELOOP_ERR_BUNDLE_EXTRA_FILE');
});

test('a symlink inside a bundle directory is refused', async (t) => {
  const root = await tmp(t);
  const dir = join(root, 'bundle');
  const b = fixtureBundle(signer.privateKeyPem);
  assert.ok((await writeBundleContents(dir, b.contents)).ok);
  await symlink('/etc/hostname', join(dir, 'link'));
  const r = await readBundle(dir);
  assert.equal(r.ok ? 'ok' : r.code, 'EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID');
});

test('tarball written to disk verifies, and system tar reads it (and we read system tar)', async (t) => {
  const root = await tmp(t);
  const b = fixtureBundle(signer.privateKeyPem);
  const file = join(root, 'out', 'bundle.tar.gz');
  assert.ok((await writeBundleArchive(file, b.contents)).ok);
  const v = await verifyBundleDir(file, [signer.publicKeyPem]);
  assert.ok(v.ok, v.ok ? '' : v.message);
  if (!hasTar()) {
    t.diagnostic('system tar not installed; interop half skipped');
    return;
  }
  const listed = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(listed, [
    'golden.json',
    'manifest.json',
    'manifest.sig',
    'model.onnx',
    'reference.json',
    'reports/report.md',
  ]);
  // A user re-packs the bundle directory with GNU tar: "./" prefixes and directory entries are fine.
  const dir = join(root, 'dir');
  assert.ok((await writeBundleContents(dir, b.contents)).ok);
  const repacked = join(root, 'repacked.tgz');
  execFileSync('tar', ['-czf', repacked, '-C', dir, '.']);
  const v2 = await verifyBundleDir(repacked, [signer.publicKeyPem]);
  assert.ok(v2.ok, v2.ok ? '' : v2.message);
});

function fakeIO(): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: {}, signal: new AbortController().signal, out: () => o, err: () => e };
}

test('edgeloop keygen writes a 0600 private key and a public key, prints the keyId, refuses to overwrite', async (t) => {
  const root = await tmp(t);
  const io = fakeIO();
  assert.equal(await keygenCommand.run(['--out', join(root, 'keys'), '--name', 'ci'], io), 0);
  const keyPath = join(root, 'keys', 'ci.key');
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  const keys = await readTrustedKeys([join(root, 'keys', 'ci.pub')]);
  assert.ok(keys.ok);
  const m = /keyId ([0-9a-f]{16})/.exec(io.out());
  assert.ok(m);
  // The new key signs a bundle that verifies against the new public key, under the printed keyId.
  const b = fixtureBundle(await readFile(keyPath, 'utf8'));
  assert.equal(b.signature.keyId, m[1]);
  const dir = join(root, 'b');
  assert.ok((await writeBundleDir(dir, b.manifest, b.contents.files, b.signature)).ok);
  assert.ok((await verifyBundleDir(dir, keys.value)).ok);

  const io2 = fakeIO();
  const before = await readFile(keyPath, 'utf8');
  assert.equal(await keygenCommand.run(['--out', join(root, 'keys'), '--name', 'ci'], io2), 1);
  assert.match(io2.err(), /EDGELOOP_ERR_KEY_EXISTS/);
  assert.equal(await readFile(keyPath, 'utf8'), before);

  assert.equal(
    await keygenCommand.run(['--out', join(root, 'keys'), '--name', 'ci', '--force'], fakeIO()),
    0,
  );
  assert.notEqual(await readFile(keyPath, 'utf8'), before);
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
});

test('edgeloop keygen usage errors', async (t) => {
  const root = await tmp(t);
  await mkdir(root, { recursive: true });
  const io = fakeIO();
  assert.equal(await keygenCommand.run([], io), 2);
  assert.match(io.err(), /EDGELOOP_ERR_USAGE/);
  const io2 = fakeIO();
  assert.equal(await keygenCommand.run(['--out', root, '--nmae', 'x'], io2), 2);
  assert.match(io2.err(), /did you mean --name/);
  const io3 = fakeIO();
  assert.equal(await keygenCommand.run(['--out', root, '--name', '../x'], io3), 2);
  assert.match(io3.err(), /EDGELOOP_ERR_CONFIG_INVALID/);
});
