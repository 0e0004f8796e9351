// Content-addressed blob store: a file's bytes live at blobs/sha256/<2 hex>/<62 hex>, so identical files
// in many versions are stored once and a blob's name proves its content. Writes go to a temp file, are
// fsync'd, then renamed into place (rename is atomic on POSIX), and the directory is fsync'd so the new
// name survives power loss. A crash leaves at worst a stray temp file, which openBlobStore() sweeps.

import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface BlobInfo {
  /** Lower-case hex SHA-256 of the bytes. */
  readonly sha256: string;
  readonly size: number;
  /** true when the blob was already stored (deduplicated). */
  readonly existed: boolean;
}

export interface BlobStore {
  /** Stores bytes (async: the write and fsync stay off the event loop). */
  put(bytes: Uint8Array): Promise<BlobInfo>;
  has(sha256: string): boolean;
  /** Absolute path of a stored blob, for streaming; undefined when absent. */
  pathOf(sha256: string): string | undefined;
  read(sha256: string): Buffer | undefined;
  /** Size in bytes, undefined when absent. */
  size(sha256: string): number | undefined;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function openBlobStore(root: string): BlobStore {
  const base = join(root, 'sha256');
  const tmp = join(root, 'tmp');
  mkdirSync(base, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  // Temp files left by a crash mid-write are garbage: their blob was never renamed into place.
  for (const name of readdirSync(tmp)) rmSync(join(tmp, name), { force: true });

  const pathFor = (sha: string): string => join(base, sha.slice(0, 2), sha.slice(2));

  function exists(sha: string): boolean {
    if (!HEX64.test(sha)) return false;
    try {
      return statSync(pathFor(sha)).isFile();
    } catch {
      return false;
    }
  }

  return {
    async put(bytes) {
      const sha = sha256Hex(bytes);
      if (exists(sha)) return { sha256: sha, size: bytes.length, existed: true };
      const dir = join(base, sha.slice(0, 2));
      await mkdir(dir, { recursive: true });
      const tmpPath = join(tmp, `${sha}.${randomBytes(6).toString('hex')}`);
      const fh = await open(tmpPath, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } catch (err) {
        await fh.close();
        await rm(tmpPath, { force: true });
        throw err;
      }
      await fh.close();
      // Two pushes of the same content may race here; both renames carry identical bytes.
      await rename(tmpPath, pathFor(sha));
      fsyncDir(dir);
      return { sha256: sha, size: bytes.length, existed: false };
    },
    has: exists,
    pathOf: (sha) => (exists(sha) ? pathFor(sha) : undefined),
    read: (sha) => (exists(sha) ? readFileSync(pathFor(sha)) : undefined),
    size(sha) {
      if (!HEX64.test(sha)) return undefined;
      try {
        return statSync(pathFor(sha)).size;
      } catch {
        return undefined;
      }
    },
  };
}
