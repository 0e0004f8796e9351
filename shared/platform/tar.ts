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
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Header, PackSync, Parser, ReadEntry } from 'tar';
import { fail, ok, type Result } from '../errors.ts';
import { bundlePathProblem, MANIFEST_FILE, SIGNATURE_FILE } from '../bundle/manifest.ts';
import type { BundleContents } from '../bundle/verify.ts';

const BLOCK = 512;
/** Compressed bytes fed to the parser at a time: bounds how far gzip inflates before a limit can stop it. */
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
 * One archive being read: write chunks in, then finish(). node-tar's Parser does the tar and gzip work;
 * this checks every entry against the bundle rules and the limits, and stops the parser at the first
 * problem (so a bomb is not inflated further).
 */
class ArchiveReader {
  private readonly maxFiles: number;
  private readonly maxBytes: number;
  private readonly parser: Parser;
  private readonly files = new Map<string, Uint8Array>();
  private problem: Result<never> | undefined;
  private sawEnd = false;
  private inputBytes = 0;
  private tarBytes = 0;

  constructor(limits: ArchiveLimits) {
    this.maxFiles = limits.maxFiles ?? DEFAULT_ARCHIVE_LIMITS.maxFiles;
    this.maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes;
    this.parser = new Parser({
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
    this.parser.on('error', (err: Error & { code?: string; tarCode?: string }) => {
      if (/decompression ratio/.test(err.message))
        this.stop(tooLarge(`archive expands past its limit: ${err.message}`));
      else if (err.code?.startsWith('Z_') === true) this.stop(bad(`gzip stream is corrupt: ${err.message}`));
      else this.stop(bad(`${err.message}${err.tarCode === undefined ? '' : ` (${err.tarCode})`}`));
    });
  }

  get failed(): boolean {
    return this.problem !== undefined;
  }

  private stop(problem: Result<never>): void {
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

  write(chunk: Uint8Array): void {
    if (this.problem !== undefined) return;
    this.inputBytes += chunk.byteLength;
    if (this.inputBytes > this.maxBytes) {
      this.stop(tooLarge(`archive is larger than ${this.maxBytes} bytes`));
      return;
    }
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let off = 0; off < buf.length && !this.failed; off += FEED_CHUNK)
      this.parser.write(buf.subarray(off, off + FEED_CHUNK));
  }

  finish(): Result<BundleContents> {
    if (this.problem === undefined) this.parser.end();
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
  reader.write(bytes);
  return reader.finish();
}

/** Reads a .tar or .tar.gz as it streams in; stops reading at the first problem. Does not verify. */
export async function readBundleArchiveStream(
  source: AsyncIterable<Uint8Array>,
  limits: ArchiveLimits = {},
  name = 'the archive',
): Promise<Result<BundleContents>> {
  const reader = new ArchiveReader(limits);
  try {
    for await (const chunk of source) {
      reader.write(chunk);
      if (reader.failed) break;
    }
  } catch (err) {
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
