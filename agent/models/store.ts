// The agent's model store on disk (docs/agent-models.md "Store"):
//
//   <dataDir>/models/<name>/<version>/   manifest.json, manifest.sig and the bundle files
//   <dataDir>/models/active.json         which model serves, the last known good one, the last deploySeq
//   <dataDir>/models/.downloads/         partial and finished downloads (resumable)
//
// A bundle directory is written under a temporary name, fsync'd and renamed, so it is complete or absent.
// active.json is written to a temp file, fsync'd, renamed and the directory fsync'd: after a power cut the
// file holds the old state or the new one, never a mix. What is read back is verified again by the caller.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { z } from 'zod';
import { MANIFEST_FILE, SIGNATURE_FILE } from '../../shared/bundle/manifest.ts';
import type { BundleContents } from '../../shared/bundle/verify.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';

/** A stored model: its name, version and manifest digest (what active.json records). */
export interface StoredModel {
  readonly name: string;
  readonly version: string;
  readonly manifestDigest: string;
}

export interface ActiveState {
  /** The committed model that serves, or null. */
  readonly active: StoredModel | null;
  /** The model to roll back to (the previous committed one), or null. */
  readonly lastKnownGood: StoredModel | null;
  /** The highest deploySeq this agent accepted, or null when it never took a command. */
  readonly lastDeploySeq: number | null;
}

export const emptyActiveState: ActiveState = Object.freeze({
  active: null,
  lastKnownGood: null,
  lastDeploySeq: null,
});

// Same rules as the manifest's name and version (shared/bundle/manifest.ts), so a path segment can never
// be "..", contain "/" or be empty.
const nameRe = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const versionRe = /^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.+-]{1,64})?$/;
const storedModelSchema = z.strictObject({
  name: z.string().regex(nameRe),
  version: z.string().regex(versionRe),
  manifestDigest: z.string().regex(/^[0-9a-f]{64}$/),
});
const activeFileSchema = z.strictObject({
  schemaVersion: z.literal(1),
  active: storedModelSchema.nullable(),
  lastKnownGood: storedModelSchema.nullable(),
  lastDeploySeq: z.number().int().nonnegative().nullable(),
  updatedAt: z.string(),
});

export const ACTIVE_FILE = 'active.json';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const storeFail = (detail: string, err?: unknown) =>
  fail('EDGELOOP_ERR_MODEL_STORE', err === undefined ? detail : `${detail}: ${message(err)}`);

async function writeDurable(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'w', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(root, p)));
    else if (e.isFile()) out.push(p);
    // Links and special files are never written by the store; ignoring them makes verification fail
    // with a missing file rather than follow a link out of the directory.
  }
  return out;
}

export class ModelStore {
  readonly root: string;
  readonly downloadsDir: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'models');
    this.downloadsDir = join(this.root, '.downloads');
  }

  async init(): Promise<Result<void>> {
    try {
      await mkdir(this.downloadsDir, { recursive: true });
      return ok(undefined);
    } catch (err) {
      return storeFail(`cannot create ${this.downloadsDir}`, err);
    }
  }

  /** The directory of one version, or undefined when name or version are not safe path segments. */
  versionDir(name: string, version: string): string | undefined {
    if (!nameRe.test(name) || !versionRe.test(version)) return undefined;
    return join(this.root, name, version);
  }

  async has(name: string, version: string): Promise<boolean> {
    const dir = this.versionDir(name, version);
    if (dir === undefined) return false;
    return stat(join(dir, MANIFEST_FILE)).then(
      () => true,
      () => false,
    );
  }

  /** Writes a bundle directory atomically; an existing directory for the version is replaced. */
  async writeBundle(name: string, version: string, contents: BundleContents): Promise<Result<string>> {
    const dir = this.versionDir(name, version);
    if (dir === undefined) return storeFail(`unsafe model name or version ${name}@${version}`);
    const tmp = join(this.root, name, `.tmp-${version}-${randomBytes(4).toString('hex')}`);
    try {
      const entries = new Map(contents.files);
      entries.set(MANIFEST_FILE, contents.manifest);
      if (contents.signature !== null) entries.set(SIGNATURE_FILE, contents.signature);
      for (const [rel, bytes] of entries) {
        // Paths were checked by the tar reader and the manifest schema; this guards the store on its own.
        const target = join(tmp, rel);
        if (!target.startsWith(tmp + sep)) return storeFail(`unsafe bundle path ${rel}`);
        await mkdir(dirname(target), { recursive: true });
        await writeDurable(target, bytes);
      }
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      await syncDir(join(this.root, name));
      return ok(dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      return storeFail(`cannot write ${dir}`, err);
    }
  }

  /** Reads a stored bundle's bytes (unverified: the caller verifies against its pinned keys). */
  async readBundle(name: string, version: string): Promise<Result<BundleContents>> {
    const dir = this.versionDir(name, version);
    if (dir === undefined) return storeFail(`unsafe model name or version ${name}@${version}`);
    try {
      const files = new Map<string, Uint8Array>();
      let manifest: Uint8Array | undefined;
      let signature: Uint8Array | null = null;
      for (const rel of await listFiles(dir)) {
        const bytes = new Uint8Array(await readFile(join(dir, rel)));
        if (rel === MANIFEST_FILE) manifest = bytes;
        else if (rel === SIGNATURE_FILE) signature = bytes;
        else files.set(rel, bytes);
      }
      if (manifest === undefined) return storeFail(`${dir} has no ${MANIFEST_FILE}`);
      return ok({ manifest, signature, files });
    } catch (err) {
      return storeFail(`cannot read ${dir}`, err);
    }
  }

  async removeVersion(name: string, version: string): Promise<void> {
    const dir = this.versionDir(name, version);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Removes every stored version except `keep` (and empty model directories). */
  async prune(keep: readonly (StoredModel | null)[]): Promise<void> {
    const wanted = new Set(keep.filter((k) => k !== null).map((k) => `${k.name}/${k.version}`));
    let names: string[];
    try {
      names = (await readdir(this.root, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && nameRe.test(e.name))
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const name of names) {
      const versions = await readdir(join(this.root, name)).catch(() => [] as string[]);
      let left = 0;
      for (const v of versions) {
        if (wanted.has(`${name}/${v}`)) left++;
        else await rm(join(this.root, name, v), { recursive: true, force: true }).catch(() => undefined);
      }
      if (left === 0)
        await rm(join(this.root, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** active.json, or the empty state when it does not exist yet. A corrupt file is a failure. */
  async readState(): Promise<Result<ActiveState>> {
    const path = join(this.root, ACTIVE_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return ok(emptyActiveState);
      return storeFail(`cannot read ${path}`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return storeFail(`${path} is not JSON`, err);
    }
    const r = activeFileSchema.safeParse(parsed);
    if (!r.success)
      return storeFail(`${path} is not a valid active-model file (${r.error.issues[0]?.message ?? ''})`);
    return ok({
      active: r.data.active,
      lastKnownGood: r.data.lastKnownGood,
      lastDeploySeq: r.data.lastDeploySeq,
    });
  }

  /** Replaces active.json atomically and durably. */
  async writeState(state: ActiveState): Promise<Result<void>> {
    const path = join(this.root, ACTIVE_FILE);
    const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    const body = JSON.stringify({ schemaVersion: 1, ...state, updatedAt: new Date().toISOString() }, null, 2);
    try {
      await writeDurable(tmp, new TextEncoder().encode(body + '\n'));
      await rename(tmp, path);
      await syncDir(this.root);
      return ok(undefined);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      return storeFail(`cannot write ${path}`, err);
    }
  }
}
