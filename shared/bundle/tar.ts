// A minimal ustar codec for bundle tarballs (POSIX.1-1988 ustar, as in POSIX pax(1) "ustar Interchange
// Format"), bytes in and bytes out, so the registry and the agent can take a tarball from an HTTP body
// without touching the disk. We write regular files only, sorted, with fixed metadata (mode 0644, uid 0,
// mtime given), so the same bundle always gives the same tar bytes. We read regular files and
// directories, pax `x` headers' `path`/`size`, and GNU `L` long names; links, devices and FIFOs are
// refused, as are unsafe paths: a bundle is data, never a way to write outside its directory.

import { gunzipSync, gzipSync } from 'node:zlib';
import { fail, ok, type Result } from '../errors.ts';
import { bundlePathProblem, MANIFEST_FILE, SIGNATURE_FILE } from './manifest.ts';
import type { BundleContents } from './verify.ts';

const BLOCK = 512;

export interface ArchiveLimits {
  /** Most entries accepted. Default 1000. */
  readonly maxFiles?: number;
  /** Most bytes accepted, after gunzip, for the whole tar. Default 1 GiB. */
  readonly maxBytes?: number;
}
export const DEFAULT_ARCHIVE_LIMITS = { maxFiles: 1000, maxBytes: 1024 * 1024 * 1024 } as const;

const enc = new TextEncoder();

function writeString(h: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new TypeError(`tar: "${s}" does not fit in ${len} bytes`);
  h.set(b, off);
}

function writeOctal(h: Uint8Array, off: number, len: number, n: number): void {
  // len-1 octal digits then NUL; 11 digits hold sizes up to 8 GiB.
  writeString(h, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

function header(name: string, size: number, mtimeSec: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtimeSec);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h[156] = 0x30; // '0' regular file
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** A tar of the given files, sorted by path, ending with two zero blocks. */
export function encodeTar(entries: ReadonlyMap<string, Uint8Array>, mtimeSec = 0): Uint8Array {
  const names = [...entries.keys()].sort();
  let total = 2 * BLOCK;
  for (const n of names)
    total += BLOCK + Math.ceil((entries.get(n) as Uint8Array).byteLength / BLOCK) * BLOCK;
  const out = new Uint8Array(total);
  let off = 0;
  for (const n of names) {
    const data = entries.get(n) as Uint8Array;
    out.set(header(n, data.byteLength, mtimeSec), off);
    off += BLOCK;
    out.set(data, off);
    off += Math.ceil(data.byteLength / BLOCK) * BLOCK;
  }
  return out;
}

function readString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(off, end));
}

function readOctal(b: Uint8Array, off: number, len: number): number {
  const s = readString(b, off, len).trim();
  if (!/^[0-7]*$/.test(s)) return NaN;
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(data: Uint8Array): Map<string, string> {
  // Records are "<len> <key>=<value>\n" (POSIX pax extended header).
  const out = new Map<string, string>();
  const text = new TextDecoder().decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    const len = parseInt(text.slice(i, sp), 10);
    if (sp < 0 || !Number.isFinite(len) || len <= 0) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

const bad = (detail: string): Result<never> => fail('EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID', detail);

/** Reads a tar into path -> bytes. Leading "./" is dropped; directories are skipped. */
export function decodeTar(tar: Uint8Array, limits: ArchiveLimits = {}): Result<Map<string, Uint8Array>> {
  const maxFiles = limits.maxFiles ?? DEFAULT_ARCHIVE_LIMITS.maxFiles;
  const out = new Map<string, Uint8Array>();
  let off = 0;
  let pendingName: string | undefined;
  let pendingSize: number | undefined;
  while (off + BLOCK <= tar.byteLength) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return ok(out);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    if (readOctal(h, 148, 8) !== sum) return bad(`tar header checksum mismatch at byte ${off}`);
    const type = String.fromCharCode(h[156] as number);
    let size = readOctal(h, 124, 12);
    if (!Number.isSafeInteger(size)) return bad(`tar entry size unreadable at byte ${off}`);
    if (pendingSize !== undefined) size = pendingSize;
    const dataStart = off + BLOCK;
    if (dataStart + size > tar.byteLength)
      return bad(`tar entry at byte ${off} runs past the end of the archive`);
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      const pax = parsePax(data);
      pendingName = pax.get('path');
      const s = pax.get('size');
      pendingSize = s === undefined ? undefined : Number(s);
      continue;
    }
    if (type === 'L') {
      pendingName = readString(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue; // global pax header: nothing we use
    const prefix = readString(h, 345, 155);
    let name = pendingName ?? (prefix === '' ? readString(h, 0, 100) : `${prefix}/${readString(h, 0, 100)}`);
    pendingName = undefined;
    pendingSize = undefined;
    while (name.startsWith('./')) name = name.slice(2);
    if (type === '5' || name === '' || name === '.') continue;
    if (type !== '0' && type !== '\0' && type !== '7')
      return bad(`tar entry "${name}" is not a regular file (type ${JSON.stringify(type)})`);
    if (name.endsWith('/')) return bad(`tar entry "${name}" is a file named like a directory`);
    if (name !== MANIFEST_FILE && name !== SIGNATURE_FILE) {
      const why = bundlePathProblem(name);
      if (why !== undefined) return bad(`tar entry "${name}" has an unsafe path: ${why}`);
    }
    if (out.has(name)) return bad(`tar entry "${name}" appears twice`);
    if (out.size >= maxFiles)
      return fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', `archive holds more than ${maxFiles} files`);
    out.set(name, data.slice());
  }
  return bad('tar archive ends without its end-of-archive blocks');
}

function isGzip(b: Uint8Array): boolean {
  return b.byteLength >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** A bundle as a .tar (or .tar.gz with gzip: true): manifest.json, manifest.sig, then files. */
export function encodeBundleArchive(
  contents: BundleContents,
  options: { gzip?: boolean; mtimeSec?: number } = {},
): Uint8Array {
  const entries = new Map(contents.files);
  entries.set(MANIFEST_FILE, contents.manifest);
  if (contents.signature !== null) entries.set(SIGNATURE_FILE, contents.signature);
  const tar = encodeTar(entries, options.mtimeSec ?? 0);
  return options.gzip === true ? new Uint8Array(gzipSync(tar, { level: 9 })) : tar;
}

/** Reads a .tar or .tar.gz (detected by magic bytes) into bundle contents. Does not verify. */
export function decodeBundleArchive(bytes: Uint8Array, limits: ArchiveLimits = {}): Result<BundleContents> {
  const maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes;
  let tar = bytes;
  if (isGzip(bytes)) {
    try {
      tar = new Uint8Array(gunzipSync(bytes, { maxOutputLength: maxBytes }));
    } catch (err) {
      const tooBig = err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      return tooBig
        ? fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', `archive expands past ${maxBytes} bytes`)
        : bad('gzip stream is corrupt');
    }
  }
  if (tar.byteLength > maxBytes)
    return fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', `archive is larger than ${maxBytes} bytes`);
  const entries = decodeTar(tar, limits);
  if (!entries.ok) return entries;
  const manifest = entries.value.get(MANIFEST_FILE);
  if (manifest === undefined)
    return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `archive has no ${MANIFEST_FILE}`);
  const signature = entries.value.get(SIGNATURE_FILE) ?? null;
  entries.value.delete(MANIFEST_FILE);
  entries.value.delete(SIGNATURE_FILE);
  return ok({ manifest, signature, files: entries.value });
}
