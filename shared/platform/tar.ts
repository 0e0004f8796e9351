// Bundle tarballs (docs/model-bundle.md "Archive"): a bundle as a .tar or .tar.gz, written and read with
// npm's own `tar` package (node-tar 7) instead of a hand-written ustar codec (issue #8 §6). It lives in the
// fenced I/O layer because it works on streams: an archive is read entry by entry as its bytes arrive (an
// HTTP body, a file), and the limits stop a gzip bomb or an oversized entry at its header, before its data
// is inflated. Byte-array forms are kept for callers that already hold the bytes (a request body).
//
// Written archives are deterministic: regular files only, sorted by path, mode 0644, uid/gid 0, no user
// or group names, the given mtime, so a bundle always gives the same bytes. Read archives may come from
// anywhere (GNU or BSD tar, pax or GNU long names, "./" prefixes, directory entries), but a bundle is data,
// never a way to write outside its directory: links, devices and FIFOs are refused, as are absolute paths,
// "..", backslashes and anything else bundlePathProblem rejects, duplicates, and truncated archives.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline as pipelineCb, Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Header, PackSync, Parser, ReadEntry } from 'tar';
import { fail, ok, type Result } from '../errors.ts';
import { bundlePathProblem, MANIFEST_FILE, SIGNATURE_FILE } from '../bundle/manifest.ts';
import type { BundleContents } from '../bundle/verify.ts';

const BLOCK = 512;
/** Tar bytes fed to the parser in one write. */
const FEED_CHUNK = 64 * 1024;

export interface ArchiveLimits {
  /** Most entries accepted. Default 1000. */
  readonly maxFiles?: number;
  /** Most bytes accepted, after gunzip, for the whole tar. Default 1 GiB. */
  readonly maxBytes?: number;
}
export const DEFAULT_ARCHIVE_LIMITS = { maxFiles: 1000, maxBytes: 1024 * 1024 * 1024 } as const;

export interface ArchiveWriteOptions {
  /** gzip the tar (level 9). Default false. */
  readonly gzip?: boolean;
  /** mtime of every entry, seconds since the epoch. Default 0, so the bytes do not depend on the clock. */
  readonly mtimeSec?: number;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const bad = (detail: string): Result<never> => fail('EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID', detail);
const tooLarge = (detail: string): Result<never> => fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', detail);
const trailingData = (detail: string): Result<never> => fail('EDGELOOP_ERR_BUNDLE_TRAILING_DATA', detail);

/** manifest.json, manifest.sig and the files, sorted by path (the archive's entry order). */
function archiveEntries(contents: BundleContents): [string, Uint8Array][] {
  const entries = new Map(contents.files);
  entries.set(MANIFEST_FILE, contents.manifest);
  if (contents.signature !== null) entries.set(SIGNATURE_FILE, contents.signature);
  return [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A tar entry with fixed metadata, fed from memory (node-tar packs ReadEntry objects as they are). */
function fileEntry(path: string, data: Uint8Array, mtimeSec: number): ReadEntry {
  const header = new Header({
    path,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: data.byteLength,
    mtime: new Date(mtimeSec * 1000),
    type: 'File',
  });
  const entry = new ReadEntry(header);
  entry.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return entry;
}

function packOptions(options: ArchiveWriteOptions) {
  return { portable: true, gzip: options.gzip === true ? { level: 9 } : false } as const;
}

/**
 * The bundle as a tar (or tar.gz) stream, entry by entry. node-tar's PackSync emits each entry's blocks as
 * it is added, so one entry's bytes are in flight at a time; the async Pack is not used because it loses
 * in-memory entries queued past its concurrency (node-tar 7.5, more than `jobs` ReadEntry objects).
 */
export function* packBundleArchive(
  contents: BundleContents,
  options: ArchiveWriteOptions = {},
): Generator<Buffer> {
  const pack = new PackSync(packOptions(options));
  let pending: Buffer[] = [];
  pack.on('data', (c: Buffer) => pending.push(c));
  const mtime = options.mtimeSec ?? 0;
  for (const [path, data] of archiveEntries(contents)) {
    pack.add(fileEntry(path, data, mtime));
    yield* pending;
    pending = [];
  }
  pack.end();
  yield* pending;
}

/** The bundle as tar (or tar.gz) bytes; the same bytes packBundleArchive streams. */
export function encodeBundleArchive(contents: BundleContents, options: ArchiveWriteOptions = {}): Uint8Array {
  return new Uint8Array(Buffer.concat([...packBundleArchive(contents, options)]));
}

/** Entry types that hold a regular file's bytes ('0', NUL and '7' in the header's typeflag). */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Bytes a tar may carry after its end-of-archive blocks, all zero: writers pad the archive to a whole
 * record (GNU and BSD tar: 10 KiB; `-b 128` gives 64 KiB). Anything longer or non-zero is refused
 * (EDGELOOP_ERR_BUNDLE_TRAILING_DATA) without being parsed.
 */
export const TRAILING_PADDING_LIMIT = 64 * 1024;
/** Bytes read between two yields to the event loop in the async readers. */
const YIELD_EVERY = 1024 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

const isGzip = (b: Uint8Array): boolean => b[0] === 0x1f && b[1] === 0x8b;

/**
 * One plain tar being read: write chunks in, then finish(). node-tar's Parser does the tar work; this
 * checks every entry against the bundle rules and the limits and stops the parser at the first problem.
 *
 * The parser is fed whole blocks, and every zero block on its own, so the reader knows the exact byte at
 * which the parser saw the end-of-archive marker (two zero blocks). From there on nothing is given to the
 * parser: node-tar keeps whatever follows its end marker by concatenating each further chunk onto what it
 * already holds, which is quadratic (50 MB of zeros blocked the registry for 11 s). The reader checks the
 * trailing bytes itself, in linear time, against TRAILING_PADDING_LIMIT.
 */
class ArchiveReader {
  private readonly maxFiles: number;
  private readonly maxBytes: number;
  private readonly parser: Parser;
  private readonly files = new Map<string, Uint8Array>();
  private problem: Result<never> | undefined;
  private sawEnd = false;
  /** Tar bytes received, and how many of them were past the end-of-archive marker. */
  private inputBytes = 0;
  private trailingBytes = 0;
  /** Tar bytes given to the parser; once it has seen the end marker, the offset just past that marker. */
  private fed = 0;
  /** A partial block carried to the next write, so the parser is always fed whole blocks. */
  private carry: Buffer | undefined;
  private tarBytes = 0;

  constructor(limits: ArchiveLimits) {
    this.maxFiles = limits.maxFiles ?? DEFAULT_ARCHIVE_LIMITS.maxFiles;
    this.maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes;
    // gzip is undone before the parser (gunzipBundle), so the parser never inflates on its own.
    this.parser = new Parser({
      gzip: false,
      brotli: false,
      zstd: false,
      onReadEntry: (entry) => {
        this.onEntry(entry);
      },
    });
    // Two zero blocks end a tar (POSIX pax "ustar Interchange Format"); without them it was cut short.
    this.parser.on('eof', () => {
      this.sawEnd = true;
    });
    this.parser.on('warn', (code: string, message: string) => {
      this.stop(bad(`${message} (${code})`));
    });
    this.parser.on('error', (err: Error & { tarCode?: string }) => {
      this.stop(bad(`${err.message}${err.tarCode === undefined ? '' : ` (${err.tarCode})`}`));
    });
  }

  get failed(): boolean {
    return this.problem !== undefined;
  }

  stop(problem: Result<never>): void {
    if (this.problem !== undefined) return;
    this.problem = problem;
    this.parser.abort(new Error('stopped: the archive was refused'));
  }

  private onEntry(entry: ReadEntry): void {
    if (this.problem !== undefined) {
      entry.resume();
      return;
    }
    let name = entry.path;
    while (name.startsWith('./')) name = name.slice(2);
    const why = this.entryProblem(entry, name);
    if (why !== undefined || entry.type === 'Directory') {
      entry.resume();
      if (why !== undefined) this.stop(why);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    entry.on('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
    });
    entry.on('end', () => {
      if (this.problem !== undefined) return;
      if (received !== entry.size)
        this.stop(bad(`tar entry "${name}" is truncated (${received} of ${entry.size} bytes)`));
      else this.files.set(name, new Uint8Array(Buffer.concat(chunks, received)));
    });
  }

  private entryProblem(entry: ReadEntry, name: string): Result<never> | undefined {
    if (entry.type === 'Directory')
      return name === '' || name === '.' ? undefined : this.pathProblem(name, true);
    if (!FILE_TYPES.has(entry.type))
      return bad(`tar entry "${name}" is not a regular file (type ${entry.type})`);
    if (name.endsWith('/')) return bad(`tar entry "${name}" is a file named like a directory`);
    const pathWhy = this.pathProblem(name, false);
    if (pathWhy !== undefined) return pathWhy;
    if (this.files.has(name)) return bad(`tar entry "${name}" appears twice`);
    if (this.files.size >= this.maxFiles) return tooLarge(`archive holds more than ${this.maxFiles} files`);
    // Counted at the header, from the declared size, so an oversized entry is refused before its data.
    this.tarBytes += BLOCK + Math.ceil(entry.size / BLOCK) * BLOCK;
    if (this.tarBytes > this.maxBytes) return tooLarge(`archive expands past ${this.maxBytes} bytes`);
    return undefined;
  }

  private pathProblem(name: string, directory: boolean): Result<never> | undefined {
    const path = directory ? name.replace(/\/+$/, '') : name;
    if (!directory && (path === MANIFEST_FILE || path === SIGNATURE_FILE)) return undefined;
    const why = bundlePathProblem(path);
    // A directory may carry a reserved-looking name only as a prefix of files, which are checked themselves.
    if (why === undefined || (directory && why === 'reserved name')) return undefined;
    return bad(`tar entry "${name}" has an unsafe path: ${why}`);
  }

  /** Tar bytes (gzip already undone). */
  write(chunk: Uint8Array): void {
    if (this.problem !== undefined || chunk.byteLength === 0) return;
    this.inputBytes += chunk.byteLength;
    if (this.inputBytes > this.maxBytes) {
      this.stop(tooLarge(`archive is larger than ${this.maxBytes} bytes`));
      return;
    }
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.sawEnd) {
      this.trailing(buf);
      return;
    }
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, buf]);
      this.carry = undefined;
    }
    const whole = buf.length - (buf.length % BLOCK);
    // node-tar inflates a gzip stream it meets on its own, past every limit here: a tar.gz inside the
    // tar.gz is refused instead.
    if (whole > 0 && this.inputBytes === buf.length && isGzip(buf)) {
      this.stop(bad('the gunzipped archive is gzip again, not a tar'));
      return;
    }
    if (whole < buf.length) this.carry = Buffer.from(buf.subarray(whole));
    this.feedBlocks(buf.subarray(0, whole));
  }

  /** Whole blocks to the parser: runs of data blocks in FEED_CHUNK writes, each zero block alone. */
  private feedBlocks(buf: Buffer): void {
    let run = 0;
    for (let off = 0; off < buf.length; off += BLOCK) {
      if (buf[off] !== 0 || !buf.subarray(off, off + BLOCK).equals(ZERO_BLOCK)) {
        if (off + BLOCK - run < FEED_CHUNK) continue;
        this.feed(buf.subarray(run, off + BLOCK));
        run = off + BLOCK;
      } else {
        if (run < off) this.feed(buf.subarray(run, off));
        if (!this.failed) this.feed(buf.subarray(off, off + BLOCK));
        run = off + BLOCK;
        if (this.sawEnd) {
          const carry = this.carry;
          this.carry = undefined;
          this.trailing(buf.subarray(run));
          if (carry !== undefined) this.trailing(carry);
          return;
        }
      }
      if (this.failed) return;
    }
    if (run < buf.length && !this.failed) this.feed(buf.subarray(run));
  }

  private feed(blocks: Buffer): void {
    this.fed += blocks.length;
    this.parser.write(blocks);
  }

  /** Bytes after the end-of-archive marker: zero padding only, and not much of it. */
  private trailing(buf: Buffer): void {
    if (this.problem !== undefined || buf.length === 0) return;
    const start = this.fed + this.trailingBytes;
    this.trailingBytes += buf.length;
    if (this.trailingBytes > TRAILING_PADDING_LIMIT) {
      this.stop(trailingData(`more than ${TRAILING_PADDING_LIMIT} bytes follow the end-of-archive marker`));
      return;
    }
    for (let off = 0; off < buf.length; off += BLOCK) {
      const piece = buf.subarray(off, off + BLOCK);
      if (!piece.equals(ZERO_BLOCK.subarray(0, piece.length))) {
        const at = start + off + piece.findIndex((b) => b !== 0);
        this.stop(
          trailingData(`byte ${at} is not zero, after the end-of-archive marker at byte ${this.fed}`),
        );
        return;
      }
    }
  }

  finish(): Result<BundleContents> {
    if (this.problem === undefined) {
      if (this.carry !== undefined) this.feed(this.carry);
      if (!this.failed) this.parser.end();
    }
    if (this.problem !== undefined) return this.problem;
    if (this.inputBytes === 0) return bad('archive is empty');
    if (!this.sawEnd) return bad('tar archive ends without its end-of-archive blocks');
    const manifest = this.files.get(MANIFEST_FILE);
    if (manifest === undefined)
      return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `archive has no ${MANIFEST_FILE}`);
    const signature = this.files.get(SIGNATURE_FILE) ?? null;
    this.files.delete(MANIFEST_FILE);
    this.files.delete(SIGNATURE_FILE);
    return ok({ manifest, signature, files: this.files });
  }
}

/** Reads a .tar or .tar.gz (gzip detected by its magic bytes) held in memory. Does not verify. */
export function decodeBundleArchive(bytes: Uint8Array, limits: ArchiveLimits = {}): Result<BundleContents> {
  const reader = new ArchiveReader(limits);
  if (!isGzip(bytes)) {
    reader.write(bytes);
    return reader.finish();
  }
  const maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes;
  let tar: Buffer;
  try {
    // maxOutputLength stops a gzip bomb at the archive's own limit, one byte past it.
    tar = gunzipSync(bytes, { maxOutputLength: maxBytes + 1 });
  } catch (err) {
    if (err instanceof RangeError) return tooLarge(`archive expands past ${maxBytes} bytes`);
    return bad(`gzip stream is corrupt: ${errText(err)}`);
  }
  // Fed in pieces so the parser's own writes stay small.
  for (let off = 0; off < tar.length && !reader.failed; off += YIELD_EVERY)
    reader.write(tar.subarray(off, off + YIELD_EVERY));
  return reader.finish();
}

/** A byte array as YIELD_EVERY-sized pieces, for readBundleArchiveStream. */
function* pieces(bytes: Uint8Array): Generator<Uint8Array> {
  for (let off = 0; off < bytes.byteLength; off += YIELD_EVERY) yield bytes.subarray(off, off + YIELD_EVERY);
}

/**
 * Reads a .tar or .tar.gz held in memory without holding the event loop: a server's form of
 * decodeBundleArchive (the registry's push), which yields between pieces and inflates on zlib's thread pool.
 */
export function readBundleArchiveBytes(
  bytes: Uint8Array,
  limits: ArchiveLimits = {},
): Promise<Result<BundleContents>> {
  return readBundleArchiveStream(pieces(bytes), limits, 'the archive');
}

/** The source with gzip undone when its first bytes are gzip's magic; the plain bytes otherwise. */
async function* plainTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  const it = asAsync(source, maxBytes);
  try {
    yield* plainTarOf(it);
  } finally {
    // An early stop (a refused archive) closes the source: a file stream releases its descriptor.
    await it.return(undefined);
  }
}

/** Thrown by asAsync when the raw input passes maxBytes; answered as EDGELOOP_ERR_BUNDLE_TOO_LARGE. */
class InputTooLarge extends Error {}

/** The source as an async generator, bounded: the gzip input too counts against maxBytes. */
async function* asAsync(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const c of source) {
    total += c.byteLength;
    if (total > maxBytes) throw new InputTooLarge(`archive is larger than ${maxBytes} bytes`);
    yield c;
  }
}

async function* plainTarOf(it: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  const head: Uint8Array[] = [];
  let headBytes = 0;
  while (headBytes < 2) {
    const next = await it.next();
    if (next.done === true) break;
    head.push(next.value);
    headBytes += next.value.byteLength;
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* head;
    for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
  }
  const first = Buffer.concat(head);
  if (!isGzip(first)) {
    yield* all();
    return;
  }
  const gunzip = createGunzip();
  // pipeline() destroys every stage on an error or an early return, and the error surfaces here.
  const out = pipelineCb(Readable.from(all()), gunzip, () => {});
  for await (const c of out as AsyncIterable<Buffer>) yield c;
}

/** Reads a .tar or .tar.gz as it streams in; stops reading at the first problem. Does not verify. */
export async function readBundleArchiveStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  limits: ArchiveLimits = {},
  name = 'the archive',
): Promise<Result<BundleContents>> {
  const reader = new ArchiveReader(limits);
  let sinceYield = 0;
  try {
    for await (const chunk of plainTar(source, limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes)) {
      reader.write(chunk);
      if (reader.failed) break;
      // Parsing is synchronous: give other requests a turn every YIELD_EVERY bytes.
      sinceYield += chunk.byteLength;
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await setImmediate();
      }
    }
  } catch (err) {
    if (err instanceof InputTooLarge) return tooLarge(err.message);
    if (typeof (err as { code?: unknown }).code === 'string' && /^Z_/.test((err as { code: string }).code))
      return bad(`gzip stream is corrupt: ${errText(err)}`);
    return fail('EDGELOOP_ERR_INPUT_READ', `cannot read ${name}: ${errText(err)}`);
  }
  return reader.finish();
}

/** Reads a .tar or .tar.gz bundle file, streaming. */
export async function readBundleArchiveFile(
  file: string,
  limits: ArchiveLimits = {},
): Promise<Result<BundleContents>> {
  return readBundleArchiveStream(createReadStream(file), limits, file);
}

/** Writes a .tar, or a .tar.gz when the name ends in .gz/.tgz, streaming. Refuses to overwrite. */
export async function writeBundleArchiveFile(
  file: string,
  contents: BundleContents,
  options: { readonly mtimeSec?: number } = {},
): Promise<Result<void>> {
  const gzip = /\.(gz|tgz)$/i.test(file);
  try {
    await mkdir(dirname(file), { recursive: true });
    await pipeline(
      Readable.from(packBundleArchive(contents, { gzip, ...options })),
      createWriteStream(file, { flags: 'wx' }),
    );
  } catch (err) {
    return fail('EDGELOOP_ERR_BUNDLE_WRITE', `cannot write ${file}: ${errText(err)}`);
  }
  return ok(undefined);
}
