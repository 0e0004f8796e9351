// Bundles on disk (docs/model-bundle.md): a directory, a .tar or a .tar.gz. The format logic (canonical
// manifest, signature, tar codec, verification) is pure code in shared/bundle/; this file only moves bytes
// between it and the file system, and refuses links so a bundle can never read or write outside itself.

import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { encodeManifest } from '../../shared/bundle/build.ts';
import {
  bundlePathProblem,
  MANIFEST_FILE,
  SIGNATURE_FILE,
  type Manifest,
} from '../../shared/bundle/manifest.ts';
import { encodeSignature, trustedKeySet, type BundleSignature } from '../../shared/bundle/signing.ts';
import {
  DEFAULT_ARCHIVE_LIMITS,
  readBundleArchiveFile,
  writeBundleArchiveFile,
  type ArchiveLimits,
} from '../../shared/platform/tar.ts';
import {
  checkFiles,
  verifyBundle,
  type BundleContents,
  type VerifiedBundle,
} from '../../shared/bundle/verify.ts';

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when the path names a tarball by extension (.tar, .tar.gz, .tgz). */
export function isArchivePath(path: string): boolean {
  return /\.(tar|tar\.gz|tgz)$/i.test(path);
}

/** Reads every regular file under dir (recursively), refusing links and special files. */
export async function readBundleDir(
  dir: string,
  limits: ArchiveLimits = {},
): Promise<Result<BundleContents>> {
  const maxFiles = limits.maxFiles ?? DEFAULT_ARCHIVE_LIMITS.maxFiles;
  const maxBytes = limits.maxBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes;
  const files = new Map<string, Uint8Array>();
  let total = 0;
  const walk = async (rel: string): Promise<Result<void>> => {
    let names: string[];
    try {
      names = (await readdir(rel === '' ? dir : join(dir, rel))).sort();
    } catch (err) {
      return fail(
        'EDGELOOP_ERR_INPUT_READ',
        `cannot read bundle directory ${join(dir, rel)}: ${errText(err)}`,
      );
    }
    for (const name of names) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(dir, relPath));
      if (st.isDirectory()) {
        const r = await walk(relPath);
        if (!r.ok) return r;
        continue;
      }
      if (!st.isFile())
        return fail(
          'EDGELOOP_ERR_BUNDLE_ARCHIVE_INVALID',
          `${relPath} in the bundle is a link or special file`,
        );
      if (relPath !== MANIFEST_FILE && relPath !== SIGNATURE_FILE) {
        const why = bundlePathProblem(relPath);
        // An unlisted oddly named file is still an extra file; say so precisely.
        if (why !== undefined)
          return fail('EDGELOOP_ERR_BUNDLE_EXTRA_FILE', `file ${relPath} cannot be a bundle file: ${why}`);
      }
      if (files.size >= maxFiles)
        return fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', `bundle directory holds more than ${maxFiles} files`);
      total += st.size;
      if (total > maxBytes)
        return fail('EDGELOOP_ERR_BUNDLE_TOO_LARGE', `bundle directory is larger than ${maxBytes} bytes`);
      files.set(relPath, new Uint8Array(await readFile(join(dir, relPath))));
    }
    return ok(undefined);
  };
  try {
    const r = await walk('');
    if (!r.ok) return r;
  } catch (err) {
    return fail('EDGELOOP_ERR_INPUT_READ', `cannot read bundle directory ${dir}: ${errText(err)}`);
  }
  const manifest = files.get(MANIFEST_FILE);
  if (manifest === undefined)
    return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `${dir} has no ${MANIFEST_FILE}`);
  const signature = files.get(SIGNATURE_FILE) ?? null;
  files.delete(MANIFEST_FILE);
  files.delete(SIGNATURE_FILE);
  return ok({ manifest, signature, files });
}

async function ensureEmptyDir(dir: string): Promise<Result<void>> {
  try {
    await mkdir(dir, { recursive: true });
    const existing = await readdir(dir);
    if (existing.length > 0) return fail('EDGELOOP_ERR_BUNDLE_WRITE', `${dir} is not empty`);
    return ok(undefined);
  } catch (err) {
    return fail('EDGELOOP_ERR_BUNDLE_WRITE', `cannot create ${dir}: ${errText(err)}`);
  }
}

/**
 * Writes a bundle into dir, which must be absent or empty. The files are checked against the manifest
 * first, so a bundle that would not verify is never written.
 */
export async function writeBundleDir(
  dir: string,
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  signature: BundleSignature | null,
): Promise<Result<void>> {
  return writeBundleContents(
    dir,
    {
      manifest: encodeManifest(manifest),
      signature: signature === null ? null : encodeSignature(signature),
      files,
    },
    manifest,
  );
}

/** Writes raw contents (e.g. as pulled from the registry) into an absent or empty dir. */
export async function writeBundleContents(
  dir: string,
  contents: BundleContents,
  manifest?: Manifest,
): Promise<Result<void>> {
  if (manifest !== undefined) {
    const r = checkFiles(manifest, contents.files);
    if (!r.ok) return r;
  }
  for (const path of contents.files.keys()) {
    const why = bundlePathProblem(path);
    if (why !== undefined) return fail('EDGELOOP_ERR_BUNDLE_WRITE', `refusing to write ${path}: ${why}`);
  }
  const empty = await ensureEmptyDir(dir);
  if (!empty.ok) return empty;
  try {
    for (const [path, bytes] of [...contents.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const target = join(dir, ...path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes, { flag: 'wx' });
    }
    await writeFile(join(dir, MANIFEST_FILE), contents.manifest, { flag: 'wx' });
    if (contents.signature !== null)
      await writeFile(join(dir, SIGNATURE_FILE), contents.signature, { flag: 'wx' });
  } catch (err) {
    return fail('EDGELOOP_ERR_BUNDLE_WRITE', `cannot write bundle into ${dir}: ${errText(err)}`);
  }
  return ok(undefined);
}

/** Writes a .tar, or a .tar.gz when the name ends in .gz/.tgz. Refuses to overwrite. */
export async function writeBundleArchive(
  file: string,
  contents: BundleContents,
  options: { mtimeSec?: number } = {},
): Promise<Result<void>> {
  // Streamed entry by entry through node-tar (shared/platform/tar.ts).
  return writeBundleArchiveFile(file, contents, options);
}

/** Reads a .tar or .tar.gz bundle file. */
export async function readBundleArchive(
  file: string,
  limits: ArchiveLimits = {},
): Promise<Result<BundleContents>> {
  // Streamed: the limits stop an oversized or bomb archive at its first bad header.
  return readBundleArchiveFile(file, limits);
}

/** Reads a bundle from a directory or a tarball, whichever the path is. */
export async function readBundle(path: string, limits: ArchiveLimits = {}): Promise<Result<BundleContents>> {
  let isDir: boolean;
  try {
    isDir = (await lstat(path)).isDirectory();
  } catch (err) {
    return fail('EDGELOOP_ERR_INPUT_READ', `cannot read ${path}: ${errText(err)}`);
  }
  return isDir ? readBundleDir(path, limits) : readBundleArchive(path, limits);
}

/** Reads PEM public keys from files (a trusted-keys list on disk). Throws EDGELOOP_ERR_KEY_INVALID on a bad key. */
export async function readTrustedKeys(paths: readonly string[]): Promise<Result<string[]>> {
  const out: string[] = [];
  for (const p of paths) {
    try {
      out.push(await readFile(p, 'utf8'));
    } catch (err) {
      return fail('EDGELOOP_ERR_INPUT_READ', `cannot read public key ${p}: ${errText(err)}`);
    }
  }
  trustedKeySet(out); // fail fast on a bad key: it is config
  return ok(out);
}

/** Reads and verifies a bundle directory or tarball against pinned PEM public keys. */
export async function verifyBundleDir(
  path: string,
  trustedKeys: readonly string[],
  limits: ArchiveLimits = {},
): Promise<Result<VerifiedBundle & { contents: BundleContents }>> {
  const contents = await readBundle(path, limits);
  if (!contents.ok) return contents;
  const v = verifyBundle({ ...contents.value, trustedKeys });
  if (!v.ok) return v;
  return ok({ ...v.value, contents: contents.value });
}
