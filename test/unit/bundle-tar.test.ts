// Bundle tarballs through node-tar (shared/platform/tar.ts, issue #8 §6): round trips in memory and as
// streams, bundles packed by the earlier hand-written codec still read and verify (test/fixtures/bundle-v1),
// and every archive check holds against archives crafted byte by byte here: no links or special files, no
// "..", no absolute paths, no duplicates, no truncation, and limits that stop a bomb at the header.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { verifyBundle } from '../../shared/bundle/verify.ts';
import {
  decodeBundleArchive,
  encodeBundleArchive,
  packBundleArchive,
  readBundleArchiveFile,
  readBundleArchiveStream,
} from '../../shared/platform/tar.ts';
import { fixtureBundle } from './bundle-fixture.ts';

const signer = generateSigningKeyPair();
const enc = new TextEncoder();

/** One ustar header block, written by hand so a test controls every field (POSIX pax, ustar format). */
function ustarHeader(name: string, size: number, type = '0', linkname = ''): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, len: number, s: string) => {
    h.set(enc.encode(s).subarray(0, len), off);
  };
  const octal = (off: number, len: number, n: number) => {
    put(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  };
  put(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  h.fill(0x20, 148, 156);
  put(156, 1, type);
  put(157, 100, linkname);
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

interface RawEntry {
  readonly name: string;
  readonly data?: Uint8Array;
  readonly type?: string;
  readonly linkname?: string;
}

/** A tar of raw entries, with the end-of-archive blocks unless `end` is false. */
function rawTar(entries: readonly RawEntry[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    parts.push(ustarHeader(e.name, data.byteLength, e.type, e.linkname));
    const padded = new Uint8Array(Math.ceil(data.byteLength / 512) * 512);
    padded.set(data);
    parts.push(padded);
  }
  if (end) parts.push(new Uint8Array(1024));
  return new Uint8Array(Buffer.concat(parts));
}

const manifestEntry: RawEntry = { name: 'manifest.json', data: enc.encode('{}') };

function code(r: { ok: boolean; code?: string; message?: string }): string {
  return r.ok ? 'ok' : `${r.code ?? ''}: ${r.message ?? ''}`;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let off = 0; off < bytes.byteLength; off += size) {
    await Promise.resolve();
    yield bytes.subarray(off, off + size);
  }
}

test('bundle archives round-trip as .tar and .tar.gz, deterministically, in memory and as streams', async () => {
  const b = fixtureBundle(signer.privateKeyPem);
  for (const gzip of [false, true]) {
    const bytes = encodeBundleArchive(b.contents, { gzip });
    assert.equal(bytes[0] === 0x1f && bytes[1] === 0x8b, gzip);
    assert.deepEqual(encodeBundleArchive(b.contents, { gzip }), bytes, 'same bundle, same bytes');
    const streamed: Buffer[] = [];
    for (const c of packBundleArchive(b.contents, { gzip })) streamed.push(c);
    assert.deepEqual(new Uint8Array(Buffer.concat(streamed)), bytes, 'the stream gives the same bytes');
    for (const back of [decodeBundleArchive(bytes), await readBundleArchiveStream(chunked(bytes, 37))]) {
      assert.ok(back.ok, code(back));
      assert.deepEqual(back.value.manifest, b.contents.manifest);
      assert.deepEqual(back.value.signature, b.contents.signature);
      assert.deepEqual(new Map([...back.value.files].sort()), new Map([...b.contents.files].sort()));
    }
  }
  // Empty files and files of exactly one block survive too.
  const edge = {
    ...b.contents,
    files: new Map([
      ['empty.bin', new Uint8Array(0)],
      ['block.bin', new Uint8Array(512).fill(7)],
      ['d/sub/odd.bin', new Uint8Array(513).map((_, i) => i & 0xff)],
    ]),
  };
  const back = decodeBundleArchive(encodeBundleArchive(edge));
  assert.ok(back.ok, code(back));
  assert.deepEqual(new Map([...back.value.files].sort()), new Map([...edge.files].sort()));
});

test('bundles packed by the earlier hand-written ustar codec still read and verify', async () => {
  const dir = new URL('../fixtures/bundle-v1/', import.meta.url);
  const trustedKeys = [readFileSync(new URL('signing.pub', dir), 'utf8')];
  for (const name of ['bundle.tar', 'bundle.tar.gz']) {
    const contents = await readBundleArchiveFile(new URL(name, dir).pathname);
    assert.ok(contents.ok, `${name}: ${code(contents)}`);
    const v = verifyBundle({ ...contents.value, trustedKeys });
    assert.ok(v.ok, `${name}: ${code(v)}`);
    assert.equal(v.value.manifest.name, 'condition-classifier');
    assert.deepEqual([...contents.value.files.keys()].sort(), [
      'golden.json',
      'model.onnx',
      'reference.json',
      'reports/report.md',
    ]);
  }
});

test('links, devices and FIFOs are refused', () => {
  for (const [type, label] of [
    ['2', 'SymbolicLink'],
    ['1', 'Link'],
    ['3', 'CharacterDevice'],
    ['4', 'BlockDevice'],
    ['6', 'FIFO'],
  ] as const) {
    const linkname = type === '1' || type === '2' ? '/etc/passwd' : '';
    const r = decodeBundleArchive(rawTar([manifestEntry, { name: 'model.onnx', type, linkname }]));
    assert.match(code(r), /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID: .*not a regular file/, label);
    assert.match(code(r), new RegExp(label), label);
  }
});

test('unsafe paths are refused: "..", absolute, backslash, reserved-looking directories, duplicates', () => {
  const cases: [string, RegExp][] = [
    ['../evil', /unsafe path: ".." segment/],
    ['a/../../evil', /unsafe path: ".." segment/],
    ['/etc/cron.d/x', /unsafe path: absolute path/],
    ['a\\b', /unsafe path: backslash/],
    ['a//b', /unsafe path: empty path segment/],
    // Old tar marks a directory by a trailing slash on a file entry; its "data" is then no tar at all.
    ['dir/', /checksum/],
  ];
  for (const [name, why] of cases) {
    const r = decodeBundleArchive(rawTar([manifestEntry, { name, data: enc.encode('x') }]));
    assert.match(code(r), /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID/, name);
    assert.match(code(r), why, name);
  }
  const dup = decodeBundleArchive(
    rawTar([manifestEntry, { name: 'a', data: enc.encode('1') }, { name: './a' }]),
  );
  assert.match(code(dup), /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID: .*"a" appears twice/);
  const dirDotDot = decodeBundleArchive(rawTar([manifestEntry, { name: '../up/', type: '5' }]));
  assert.match(code(dirDotDot), /unsafe path/);
  // "./" prefixes and directory entries, as GNU tar writes them, are fine.
  const gnu = decodeBundleArchive(
    rawTar([
      { name: './', type: '5' },
      { name: './manifest.json', data: enc.encode('{}') },
      { name: './reports/', type: '5' },
      { name: './reports/r.md', data: enc.encode('# r') },
    ]),
  );
  assert.ok(gnu.ok, code(gnu));
  assert.deepEqual([...gnu.value.files.keys()], ['reports/r.md']);
});

test('corrupt, truncated, empty and non-tar input is refused with a code', () => {
  const good = rawTar([manifestEntry, { name: 'model.onnx', data: new Uint8Array(700).fill(1) }]);
  const flipped = Uint8Array.from(good);
  flipped[3] = 0x7a; // a name byte: the header checksum no longer matches
  assert.match(code(decodeBundleArchive(flipped)), /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID: .*checksum/);
  for (const [label, bytes] of [
    ['cut inside an entry', good.subarray(0, 1200)],
    ['cut inside a header', good.subarray(0, 1024 + 100)],
    ['no end-of-archive blocks', rawTar([manifestEntry], false)],
    ['empty', new Uint8Array(0)],
    ['random bytes', new Uint8Array(3000).map((_, i) => (i * 7919) & 0xff)],
    ['corrupt gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7])],
  ] as const) {
    assert.match(code(decodeBundleArchive(bytes)), /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID/, label);
  }
  const noManifest = decodeBundleArchive(rawTar([{ name: 'model.onnx', data: enc.encode('x') }]));
  assert.match(code(noManifest), /^EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID: archive has no manifest.json/);
});

test('limits bound the file count and the expanded size; an oversized entry is refused at its header', async () => {
  const b = fixtureBundle(signer.privateKeyPem);
  const few = decodeBundleArchive(encodeBundleArchive(b.contents), { maxFiles: 2 });
  assert.match(code(few), /^EDGELOOP_ERR_BUNDLE_TOO_LARGE: archive holds more than 2 files/);
  // A gzip bomb: 4 MiB of zeros in a few KiB.
  const bomb = encodeBundleArchive(
    { ...b.contents, files: new Map([['big.bin', new Uint8Array(4 << 20)]]) },
    { gzip: true },
  );
  assert.ok(bomb.byteLength < 64 * 1024);
  const small = decodeBundleArchive(bomb, { maxBytes: 64 * 1024 });
  assert.match(code(small), /^EDGELOOP_ERR_BUNDLE_TOO_LARGE/);
  // A header that declares 8 GiB, followed by nothing: refused from the header alone, not after reading.
  const huge = gzipSync(
    Buffer.concat([rawTar([manifestEntry], false), ustarHeader('model.onnx', 8 * 2 ** 30)]),
  );
  let pulled = 0;
  async function* endless(): AsyncIterable<Uint8Array> {
    yield huge;
    for (;;) {
      pulled++;
      await Promise.resolve();
      yield new Uint8Array(512);
      if (pulled > 10_000) throw new Error('the reader kept reading');
    }
  }
  const r = await readBundleArchiveStream(endless(), { maxBytes: 1 << 20 });
  assert.match(code(r), /^EDGELOOP_ERR_BUNDLE_TOO_LARGE: archive expands past 1048576 bytes/);
  // gunzip runs as a stream with a small read-ahead; what matters is that reading stops at the header.
  assert.ok(pulled < 100, `stopped at the header (pulled ${pulled} more chunks)`);
  // Raw input larger than the limit is refused as such.
  const raw = decodeBundleArchive(encodeBundleArchive(b.contents), { maxBytes: 4096 });
  assert.match(code(raw), /^EDGELOOP_ERR_BUNDLE_TOO_LARGE/);
});
