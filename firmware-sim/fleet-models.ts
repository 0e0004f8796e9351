// The bundles fleet devices install by command (fleet-updates.ts): the checks of VERIFYING, done per
// device as the agent does them (docs/agent-models.md "VERIFYING"), and one loaded session per distinct
// bundle, shared by every device that serves it (a process of hundreds of simulated devices cannot load
// hundreds of sessions; the agent's per-device session load, I/O check and golden replay happen once per
// bundle here, in stageFleetBundle).

import { sha256Hex, type TrustedKey } from '../shared/bundle/signing.ts';
import type { Manifest } from '../shared/bundle/manifest.ts';
import { decodeManifestBytes, verifyBundle, type BundleContents } from '../shared/bundle/verify.ts';
import { fail, ok, type Result } from '../shared/errors.ts';
import type { ModelCommandPayload } from '../shared/mqtt/schemas.ts';
import { decodeBundleArchive } from '../shared/platform/tar.ts';
import type { FleetModel } from './fleet-model.ts';

export type InstallCommand = Extract<ModelCommandPayload, { action: 'install' }>;

export interface CheckedBundle {
  readonly contents: BundleContents;
  readonly manifest: Manifest;
  /** Manifest digest, hex. */
  readonly digest: string;
  /** SHA-256 of the archive as downloaded, hex. */
  readonly archiveDigest: string;
  readonly keyId: string;
}

/**
 * VERIFYING, as the agent (agent/models/stage.ts decodeArchive and stageBundle): the command's digest must
 * name the archive's SHA-256 or the manifest digest (EDGELOOP_ERR_MODEL_DIGEST_MISMATCH); the bundle must
 * verify against the pinned keys only (EDGELOOP_ERR_BUNDLE_*); and it must be the commanded model and
 * version (EDGELOOP_ERR_MODEL_NAME_MISMATCH).
 */
export function checkCommandedBundle(
  bytes: Uint8Array,
  cmd: InstallCommand,
  keys: ReadonlyMap<string, TrustedKey>,
  maxBytes: number,
): Result<CheckedBundle> {
  const want = cmd.digest.slice('sha256:'.length);
  const archiveDigest = sha256Hex(bytes);
  const decoded = decodeBundleArchive(bytes, { maxBytes });
  if (!decoded.ok)
    return archiveDigest === want
      ? decoded
      : fail(
          'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH',
          `archive SHA-256 ${archiveDigest.slice(0, 12)}…, command says ${want.slice(0, 12)}…`,
        );
  if (archiveDigest !== want) {
    const m = decodeManifestBytes(decoded.value.manifest);
    if (!m.ok || m.value.digest !== want)
      return fail(
        'EDGELOOP_ERR_MODEL_DIGEST_MISMATCH',
        `archive SHA-256 ${archiveDigest.slice(0, 12)}… and manifest digest ${m.ok ? m.value.digest.slice(0, 12) + '…' : '(unreadable)'} both differ from the command's ${want.slice(0, 12)}…`,
      );
  }
  const verified = verifyBundle({ ...decoded.value, trustedKeys: keys });
  if (!verified.ok) return verified;
  const manifest = verified.value.manifest;
  if (manifest.name !== cmd.model.name || manifest.version !== cmd.model.version)
    return fail(
      'EDGELOOP_ERR_MODEL_NAME_MISMATCH',
      `bundle is ${manifest.name}@${manifest.version}, the command installs ${cmd.model.name}@${cmd.model.version}`,
    );
  return ok({
    contents: decoded.value,
    manifest,
    digest: verified.value.digest,
    archiveDigest,
    keyId: verified.value.keyId,
  });
}

/** Loads a verified bundle into a model (adapters/fleet-bundle.ts stageFleetBundle in production). */
export type FleetModelLoader = (contents: BundleContents) => Promise<Result<FleetModel>>;

interface Entry {
  readonly loading: Promise<Result<FleetModel>>;
  users: number;
  /** Held by the process (the --model bundle): never closed before close(). */
  readonly pinned: boolean;
}

/** One session per bundle (manifest digest), reference-counted by the devices that serve it. */
export class FleetModelCache {
  readonly #load: FleetModelLoader;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(load: FleetModelLoader) {
    this.#load = load;
  }

  /** Registers a model already loaded (the --model bundle); it stays loaded until close(). */
  adopt(model: FleetModel): void {
    this.#entries.set(model.digest, { loading: Promise.resolve(ok(model)), users: 0, pinned: true });
  }

  /** Distinct bundles loaded now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The model of this bundle, loaded once; each successful acquire needs one release. */
  async acquire(digest: string, contents: BundleContents): Promise<Result<FleetModel>> {
    if (this.#closed) return fail('EDGELOOP_ERR_MODEL_CLOSED', 'the fleet is shutting down');
    let e = this.#entries.get(digest);
    if (e === undefined) {
      e = { loading: this.#load(contents), users: 0, pinned: false };
      this.#entries.set(digest, e);
    }
    e.users++;
    const r = await e.loading;
    if (!r.ok) {
      e.users--;
      // A refusal is not cached: the next command for it is checked again.
      if (this.#entries.get(digest) === e && e.users === 0) this.#entries.delete(digest);
    }
    return r;
  }

  /** A device no longer serves this model; the session closes when nobody does (unless pinned). */
  async release(model: FleetModel): Promise<void> {
    const e = this.#entries.get(model.digest);
    if (e === undefined) return;
    e.users = Math.max(0, e.users - 1);
    if (e.users > 0 || e.pinned) return;
    this.#entries.delete(model.digest);
    await model.close();
  }

  /** Closes every session. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(
      entries.map(async (e) => {
        const r = await e.loading;
        if (r.ok) await r.value.close();
      }),
    );
  }
}
