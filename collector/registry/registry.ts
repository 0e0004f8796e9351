// The model registry's operations, independent of HTTP: push (certify then store), read, alias moves by
// compare-and-set behind the promotion gate, policies, lineage and the audit log. Every write, accepted
// or rejected, lands in the audit log with its actor, action, target, result and code.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { MANIFEST_FILE, SIGNATURE_FILE } from '../../shared/bundle/manifest.ts';
import { trustedKeySet, type TrustedKey } from '../../shared/bundle/signing.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { fail, ok, type Failure } from '../../shared/errors.ts';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { openBlobStore, type BlobStore } from './blob-store.ts';
import { promotionPolicySchema, type PromotionPolicy } from './gate.ts';
import { productionGateReasons } from './gate-check.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import {
  checkNames,
  pushBundle,
  type PushOutcome,
  type RegistryFailure,
  type RegistryResult,
  type VersionView,
} from './push.ts';
import {
  aliasNames,
  openRegistryStore,
  registrySqliteOptions,
  type AliasHistoryRow,
  type AliasName,
  type AliasRow,
  type AuditRow,
  type ModelSummary,
  type RegistryStore,
  type VersionRecord,
} from './store.ts';

export type { PushOutcome, RegistryFailure, RegistryResult, VersionView };

export interface RegistryOptions {
  /** Directory for registry.sqlite and blobs/. Created if missing. */
  readonly dataDir: string;
  /** Pinned Ed25519 public keys (PEM); a pushed bundle must be signed by one of them. */
  readonly trustedKeys: readonly string[];
  /** Largest bundle accepted, bytes, after gunzip. Default 256 MiB. */
  readonly maxBundleBytes?: number;
  /** Loads ONNX bytes for certification (the onnxruntime adapter in production). */
  readonly loadModel: OnnxSessionLoader;
  /** Clock; default () => new Date(). */
  readonly now?: () => Date;
}

export interface StoredFile {
  readonly path: string;
  readonly role: string;
  readonly sha256: string;
  readonly size: number;
  /** Where the bytes are on disk (content-addressed blob). */
  readonly diskPath: string;
}

export interface AliasMoveRequest {
  readonly model: string;
  readonly alias: string;
  readonly version: string;
  readonly expectedVersion?: string | null;
  readonly reason: string;
  readonly actor: string;
}

export interface Registry {
  /** Certifies and stores a bundle archive; `version` (optional) must match the manifest's. */
  push(
    model: string,
    body: Uint8Array,
    actor: string,
    version?: string,
  ): Promise<RegistryResult<PushOutcome>>;
  listModels(): ModelSummary[];
  listVersions(model: string): RegistryResult<VersionView[]>;
  getVersion(model: string, version: string): RegistryResult<VersionView>;
  /** A bundle file, or manifest.json / manifest.sig themselves. */
  file(model: string, version: string, path: string): RegistryResult<StoredFile>;
  /** The version's bundle as a deterministic tarball (gzip optional). */
  bundle(
    model: string,
    version: string,
    gzip: boolean,
  ): RegistryResult<{ readonly bytes: Uint8Array; readonly digest: string }>;
  listAliases(model: string): RegistryResult<AliasRow[]>;
  aliasHistory(model: string, alias?: string): RegistryResult<AliasHistoryRow[]>;
  moveAlias(req: AliasMoveRequest): RegistryResult<{
    readonly alias: AliasName;
    readonly from: string | null;
    readonly to: string;
    readonly changed: boolean;
  }>;
  getPolicy(model: string): RegistryResult<{
    readonly policy: PromotionPolicy | null;
    readonly updatedAt: string | null;
    readonly updatedBy: string | null;
  }>;
  setPolicy(model: string, policy: unknown, actor: string): RegistryResult<PromotionPolicy>;
  lineage(model: string, version: string): RegistryResult<Record<string, unknown>>;
  listAudit(options: {
    readonly limit: number;
    readonly beforeId?: number;
    readonly model?: string;
  }): AuditRow[];
  /** Records a write refused before it reached an operation (401/403, bad request). */
  auditRejected(actor: string, action: string, target: string, code: string, detail: string): void;
  close(): void;
}

export function isAliasName(s: string): s is AliasName {
  return (aliasNames as readonly string[]).includes(s);
}

export function openRegistry(options: RegistryOptions): Registry {
  mkdirSync(options.dataDir, { recursive: true });
  const now = options.now ?? (() => new Date());
  const maxBundleBytes = options.maxBundleBytes ?? 256 * 1024 * 1024;
  const trusted: ReadonlyMap<string, TrustedKey> = trustedKeySet(options.trustedKeys);
  const blobs: BlobStore = openBlobStore(join(options.dataDir, 'blobs'));
  const store: RegistryStore = openRegistryStore(
    openSqliteDatabase(join(options.dataDir, 'registry.sqlite'), registrySqliteOptions),
  );
  let closed = false;

  const iso = (): string => now().toISOString();
  const notFound = (what: string): Failure => fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', what);

  function audit<T>(
    actor: string,
    action: string,
    target: string,
    r: RegistryResult<T>,
    detail?: string,
  ): RegistryResult<T> {
    store.audit({
      at: iso(),
      actor,
      action,
      target,
      result: r.ok ? 'ok' : 'rejected',
      code: r.ok ? null : r.code,
      detail: r.ok ? (detail ?? null) : r.message.slice(0, 2000),
    });
    return r;
  }

  function view(rec: VersionRecord): VersionView {
    const aliases = store
      .listAliases(rec.model)
      .filter((a) => a.version === rec.version)
      .map((a) => a.alias);
    return {
      model: rec.model,
      version: rec.version,
      manifestDigest: rec.manifestSha256,
      createdAt: rec.createdAt,
      pushedBy: rec.pushedBy,
      aliases,
      files: rec.files,
      manifest: JSON.parse(rec.manifestJson) as Manifest,
    };
  }

  function findVersion(model: string, version: string): RegistryResult<VersionRecord> {
    const bad = checkNames(model, version);
    if (bad) return bad;
    const rec = store.getVersion(model, version);
    if (rec === undefined)
      return notFound(store.hasModel(model) ? `version ${model}@${version}` : `model ${model}`);
    return ok(rec);
  }

  function findModel(model: string): Failure | undefined {
    const bad = checkNames(model);
    if (bad) return bad;
    return store.hasModel(model) ? undefined : notFound(`model ${model}`);
  }

  const pushDeps = {
    store,
    blobs,
    trusted,
    maxBundleBytes,
    loadModel: options.loadModel,
    now: iso,
    view,
    isClosed: () => closed,
  };

  function policyOf(model: string): PromotionPolicy | undefined {
    const p = store.getPolicy(model);
    return p === undefined ? undefined : promotionPolicySchema.parse(p.policy);
  }

  function moveAlias(req: AliasMoveRequest): ReturnType<Registry['moveAlias']> {
    if (!isAliasName(req.alias)) return fail('EDGELOOP_ERR_REGISTRY_BAD_NAME', `alias "${req.alias}"`);
    const alias = req.alias;
    const target = findVersion(req.model, req.version);
    if (!target.ok) return target;
    // Already there: a retried move succeeds as a no-op, without re-judging the gate or adding history.
    if (store.getAlias(req.model, alias)?.version === req.version)
      return ok({ alias, from: req.version, to: req.version, changed: false });
    if (alias === 'production') {
      const policy = policyOf(req.model);
      const reasons = policy === undefined ? [] : productionGateReasons(store, policy, target.value);
      if (reasons.length > 0) {
        const message = `${req.model}@${req.version}: ${reasons.join('; ')}`;
        return { ...fail('EDGELOOP_ERR_REGISTRY_GATE_FAILED', message), reasons };
      }
    }
    const moved = store.moveAlias({
      model: req.model,
      alias,
      version: req.version,
      ...(req.expectedVersion === undefined ? {} : { expectedVersion: req.expectedVersion }),
      actor: req.actor,
      reason: req.reason,
      at: iso(),
    });
    return moved.ok ? ok({ alias, ...moved.value }) : moved;
  }

  return {
    async push(model, body, actor, version) {
      const r = await pushBundle(pushDeps, model, body, actor, version);
      const detail = r.ok
        ? `${r.value.created ? 'created' : 'identical re-push'} manifest ${r.value.version.manifestDigest}`
        : undefined;
      return audit(actor, 'push', `${model}@${r.ok ? r.value.version.version : (version ?? '?')}`, r, detail);
    },
    listModels: () => store.listModels(),
    listVersions(model) {
      const bad = findModel(model);
      if (bad) return bad;
      return ok(
        store
          .listVersions(model)
          .map((v) => view({ ...v, files: (store.getVersion(model, v.version) as VersionRecord).files })),
      );
    },
    getVersion(model, version) {
      const rec = findVersion(model, version);
      return rec.ok ? ok(view(rec.value)) : rec;
    },
    file(model, version, path) {
      const rec = findVersion(model, version);
      if (!rec.ok) return rec;
      let entry: { path: string; role: string; sha256: string } | undefined;
      if (path === MANIFEST_FILE) entry = { path, role: 'manifest', sha256: rec.value.manifestSha256 };
      else if (path === SIGNATURE_FILE)
        entry = { path, role: 'signature', sha256: rec.value.signatureSha256 };
      else entry = rec.value.files.find((f) => f.path === path);
      if (entry === undefined) return notFound(`file ${path} in ${model}@${version}`);
      const diskPath = blobs.pathOf(entry.sha256);
      const size = blobs.size(entry.sha256);
      if (diskPath === undefined || size === undefined)
        return fail(
          'EDGELOOP_ERR_REGISTRY_STORAGE',
          `blob ${entry.sha256} for ${path} is missing from the blob store`,
        );
      return ok({ ...entry, size, diskPath });
    },
    bundle(model, version, gzip) {
      const rec = findVersion(model, version);
      if (!rec.ok) return rec;
      const manifest = blobs.read(rec.value.manifestSha256);
      const signature = blobs.read(rec.value.signatureSha256);
      const files = new Map<string, Uint8Array>();
      for (const f of rec.value.files) {
        const b = blobs.read(f.sha256);
        if (b === undefined)
          return fail(
            'EDGELOOP_ERR_REGISTRY_STORAGE',
            `blob ${f.sha256} for ${f.path} is missing from the blob store`,
          );
        files.set(f.path, b);
      }
      if (manifest === undefined || signature === undefined)
        return fail('EDGELOOP_ERR_REGISTRY_STORAGE', 'manifest or signature blob is missing');
      return ok({
        bytes: encodeBundleArchive({ manifest, signature, files }, { gzip }),
        digest: rec.value.manifestSha256,
      });
    },
    listAliases(model) {
      const bad = findModel(model);
      return bad ?? ok(store.listAliases(model));
    },
    aliasHistory(model, alias) {
      const bad = findModel(model);
      if (bad) return bad;
      if (alias !== undefined && !isAliasName(alias))
        return fail('EDGELOOP_ERR_REGISTRY_BAD_NAME', `alias "${alias}"`);
      return ok(store.aliasHistory(model, alias));
    },
    moveAlias(req) {
      const r = moveAlias(req);
      return audit(
        req.actor,
        'alias.move',
        `${req.model}/${req.alias}`,
        r,
        r.ok ? `${r.value.from ?? 'none'} -> ${r.value.to}: ${req.reason}` : undefined,
      );
    },
    getPolicy(model) {
      const bad = findModel(model);
      if (bad) return bad;
      const p = store.getPolicy(model);
      return ok({
        policy: policyOf(model) ?? null,
        updatedAt: p?.updatedAt ?? null,
        updatedBy: p?.updatedBy ?? null,
      });
    },
    setPolicy(model, policy, actor) {
      const bad = findModel(model);
      let r: RegistryResult<PromotionPolicy>;
      if (bad) r = bad;
      else {
        const parsed = promotionPolicySchema.safeParse(policy);
        if (!parsed.success)
          r = fail(
            'EDGELOOP_ERR_HTTP_BAD_REQUEST',
            `policy: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
          );
        else {
          store.setPolicy(model, parsed.data, actor, iso());
          r = ok(parsed.data);
        }
      }
      return audit(actor, 'policy.set', model, r, r.ok ? JSON.stringify(r.value) : undefined);
    },
    lineage(model, version) {
      const rec = findVersion(model, version);
      if (!rec.ok) return rec;
      const v = view(rec.value);
      const lin = v.manifest.lineage;
      const history = store.aliasHistory(model).filter((h) => h.to === version || h.from === version);
      return ok({
        model,
        version,
        bundle: {
          manifestDigest: v.manifestDigest,
          files: v.files,
          pushedBy: v.pushedBy,
          pushedAt: v.createdAt,
          onnx: v.manifest.onnx,
        },
        pipeline: v.manifest.pipeline,
        datasets: lin.datasets,
        run: {
          origin: lin.origin,
          code: lin.code,
          hyperparameters: lin.hyperparameters,
          search: lin.search ?? null,
          trials: lin.trials,
          startedAt: lin.startedAt,
          endedAt: lin.endedAt,
          libraries: lin.libraries,
        },
        // How the lab data was generated, and what a retraining job used: the update request, the captured
        // data (devices, time range, digests) and the label sources (docs/retraining.md); null when absent.
        labData: lin.labData ?? null,
        retraining: lin.retraining ?? null,
        metrics: v.manifest.metrics,
        aliases: { current: v.aliases, history },
      });
    },
    listAudit: ({ limit, beforeId, model }) =>
      store.listAudit({
        limit,
        ...(beforeId === undefined ? {} : { beforeId }),
        ...(model === undefined ? {} : { target: model }),
      }),
    auditRejected(actor, action, target, code, detail) {
      store.audit({ at: iso(), actor, action, target, result: 'rejected', code, detail });
    },
    close() {
      if (closed) return;
      closed = true;
      store.close();
    },
  };
}
