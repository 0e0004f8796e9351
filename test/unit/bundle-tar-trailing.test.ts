// What may follow a tar's end-of-archive blocks (shared/platform/tar.ts, docs/model-bundle.md "Archive"):
// zero padding up to TRAILING_PADDING_LIMIT, nothing else. Before this rule node-tar kept every byte after
// the end marker by re-concatenating its buffer per chunk, so an all-zero push of 50 MB held the registry's
// event loop for 11 s. Here the same inputs are refused by code, in every reader (bytes, bytes async,
// stream), as .tar and .tar.gz, and the async reader is shown to give the event loop turns while it parses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import type { BundleContents } from '../../shared/bundle/verify.ts';
import type { Result } from '../../shared/errors.ts';
import {
  decodeBundleArchive,
  encodeBundleArchive,
  readBundleArchiveBytes,
  readBundleArchiveStream,
  TRAILING_PADDING_LIMIT,
} from '../../shared/platform/tar.ts';
import { fixtureBundle } from './bundle-fixture.ts';

const signer = generateSigningKeyPair();

function code(r: Result<BundleContents>): string {
  return r.ok ? 'ok' : `${r.code}: ${r.message}`;
}

function* chunked(bytes: Uint8Array, size: number): Iterable<Uint8Array> {
  for (let off = 0; off < bytes.byteLength; off += size) yield bytes.subarray(off, off + size);
}

/** The three readers on the same bytes. */
async function readAll(bytes: Uint8Array): Promise<string[]> {
  return [
    code(decodeBundleArchive(bytes)),
    code(await readBundleArchiveBytes(bytes)),
    code(await readBundleArchiveStream(chunked(bytes, 1000))),
  ];
}

const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

test('an all-zero body is refused as trailing data, as .tar and as .tar.gz', async () => {
  const zeros = new Uint8Array(24 * 1024 * 1024);
  for (const bytes of [zeros, new Uint8Array(gzipSync(zeros))])
    for (const r of await readAll(bytes))
      assert.match(r, /^EDGELOOP_ERR_BUNDLE_TRAILING_DATA: more than 65536 bytes follow/);
});

test('a bundle may end with zero padding up to the limit; more, or anything non-zero, is refused', async () => {
  const tar = encodeBundleArchive(fixtureBundle(signer.privateKeyPem).contents);
  const record = new Uint8Array(10240 - (tar.byteLength % 10240)); // GNU and BSD tar's default record
  for (const bytes of [tar, cat(tar, record), cat(tar, new Uint8Array(TRAILING_PADDING_LIMIT))]) {
    for (const r of await readAll(bytes)) assert.equal(r, 'ok');
    for (const r of await readAll(new Uint8Array(gzipSync(bytes)))) assert.equal(r, 'ok');
  }
  const junk = cat(tar, new Uint8Array(512), new Uint8Array([1]));
  for (const bytes of [junk, new Uint8Array(gzipSync(junk))])
    for (const r of await readAll(bytes))
      assert.match(
        r,
        new RegExp(
          `^EDGELOOP_ERR_BUNDLE_TRAILING_DATA: byte ${tar.byteLength + 512} is not zero, ` +
            `after the end-of-archive marker at byte ${tar.byteLength}`,
        ),
      );
  const long = cat(tar, new Uint8Array(TRAILING_PADDING_LIMIT + 1));
  for (const r of await readAll(long)) assert.match(r, /^EDGELOOP_ERR_BUNDLE_TRAILING_DATA: more than/);
  // A second archive appended after the first is trailing data too, not more entries.
  for (const r of await readAll(cat(tar, tar))) assert.match(r, /^EDGELOOP_ERR_BUNDLE_TRAILING_DATA/);
});

test('a tar.gz inside the tar.gz is refused, not inflated by node-tar past the limits', async () => {
  const tgz = encodeBundleArchive(fixtureBundle(signer.privateKeyPem).contents, { gzip: true });
  for (const r of await readAll(new Uint8Array(gzipSync(tgz))))
    assert.match(r, /^EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID: the gunzipped archive is gzip again/);
});

test('the async reader gives the event loop turns while it parses a large bundle', async () => {
  const b = fixtureBundle(signer.privateKeyPem);
  const big = { ...b.contents, files: new Map([...b.contents.files, ['big.bin', new Uint8Array(16 << 20)]]) };
  for (const gzip of [false, true]) {
    const bytes = encodeBundleArchive(big, { gzip });
    let turns = 0;
    let done = false;
    const turn = (): void => {
      turns++;
      if (!done) setImmediate(turn);
    };
    setImmediate(turn);
    const r = await readBundleArchiveBytes(bytes);
    done = true;
    assert.equal(code(r), 'ok');
    assert.ok(turns > 1, `other callbacks ran while ${gzip ? 'tar.gz' : 'tar'} was parsed (${turns} turns)`);
  }
});

test('the streamed gzip input counts against maxBytes too, and a failing source is an input error', async () => {
  // Empty gzip members inflate to nothing: only the input count stops them.
  const empty = gzipSync(Buffer.alloc(0));
  const members = new Uint8Array(Buffer.concat(Array.from({ length: 5000 }, () => empty)));
  const r = await readBundleArchiveStream(chunked(members, 1000), { maxBytes: 50_000 });
  assert.match(code(r), /^EDGELOOP_ERR_BUNDLE_TOO_LARGE: archive is larger than 50000 bytes/);
  async function* failing(): AsyncIterable<Uint8Array> {
    yield await Promise.resolve(empty.subarray(0, 10));
    throw new Error('disk gone');
  }
  assert.match(code(await readBundleArchiveStream(failing())), /^EDGELOOP_ERR_INPUT_READ: .*disk gone/);
});
