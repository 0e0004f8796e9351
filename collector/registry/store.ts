// Registry metadata over the platform's SqliteDatabase interface (shared/platform/sqlite.ts). Every method
// is synchronous and every multi-statement write is one transaction, so a version and its files appear
// together or not at all, and an alias move and its history row commit together (STYLE.md habit 12:
// never await inside a transaction).

import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OpenSqliteOptions, SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { REGISTRY_SCHEMA_VERSION, registrySchemaSql } from './schema.ts';

/**
 * How the registry opens its database. WAL lets readers run while one writer commits; NORMAL sync is
 * durable across process crashes in WAL mode and only risks the last transactions on power loss
 * (https://sqlite.org/wal.html): a lost push is pushed again, unlike an outbox message. Foreign keys keep
 * files and aliases tied to existing versions.
 */
export const registrySqliteOptions: OpenSqliteOptions = {
  journalMode: 'wal',
  synchronous: 'NORMAL',
  foreignKeys: true,
};

export const aliasNames = ['staging', 'canary', 'production'] as const;
export type AliasName = (typeof aliasNames)[number];

export interface FileRow {
  readonly path: string;
  readonly role: string;
  readonly sha256: string;
  readonly size: number;
}

export interface VersionRow {
  readonly model: string;
  readonly version: string;
  readonly manifestJson: string;
  readonly manifestSha256: string;
  readonly signatureSha256: string;
  readonly createdAt: string;
  readonly pushedBy: string;
}

export interface VersionRecord extends VersionRow {
  readonly files: readonly FileRow[];
}

export interface AliasRow {
  readonly alias: AliasName;
  readonly version: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export interface AliasHistoryRow {
  readonly id: number;
  readonly alias: AliasName;
  readonly from: string | null;
  readonly to: string;
  readonly actor: string;
  readonly reason: string;
  readonly at: string;
}

export interface AuditRow {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly result: 'ok' | 'rejected';
  readonly code: string | null;
  readonly detail: string | null;
}

export interface ModelSummary {
  readonly name: string;
  readonly createdAt: string;
  readonly versions: number;
  readonly latestVersion: string | null;
  readonly aliases: Readonly<Partial<Record<AliasName, string>>>;
}

export type InsertOutcome = 'created' | 'identical' | 'conflict';

export interface AliasMove {
  readonly model: string;
  readonly alias: AliasName;
  readonly version: string;
  /** Compare-and-set: undefined skips the check, null means "the alias must not exist yet". */
  readonly expectedVersion?: string | null;
  readonly actor: string;
  readonly reason: string;
  readonly at: string;
}

export interface RegistryStore {
  listModels(): ModelSummary[];
  hasModel(name: string): boolean;
  listVersions(model: string): VersionRow[];
  getVersion(model: string, version: string): VersionRecord | undefined;
  /** Inserts a version and its files atomically; same manifest digest again is 'identical'. */
  insertVersion(row: VersionRow, files: readonly FileRow[]): InsertOutcome;
  listAliases(model: string): AliasRow[];
  getAlias(model: string, alias: AliasName): AliasRow | undefined;
  /** Moves an alias by compare-and-set; the history row is written in the same transaction. */
  moveAlias(
    move: AliasMove,
  ): Result<{ readonly from: string | null; readonly to: string; readonly changed: boolean }>;
  aliasHistory(model: string, alias?: AliasName): AliasHistoryRow[];
  getPolicy(
    model: string,
  ): { readonly policy: unknown; readonly updatedAt: string; readonly updatedBy: string } | undefined;
  setPolicy(model: string, policy: unknown, actor: string, at: string): void;
  audit(entry: Omit<AuditRow, 'id'>): void;
  /** Newest first; `beforeId` pages backwards. */
  listAudit(options: {
    readonly limit: number;
    readonly beforeId?: number;
    readonly target?: string;
  }): AuditRow[];
  close(): void;
}

interface RawVersion {
  model: string;
  version: string;
  manifest_json: string;
  manifest_sha256: string;
  signature_sha256: string;
  created_at: string;
  pushed_by: string;
}

const toVersion = (r: RawVersion): VersionRow => ({
  model: r.model,
  version: r.version,
  manifestJson: r.manifest_json,
  manifestSha256: r.manifest_sha256,
  signatureSha256: r.signature_sha256,
  createdAt: r.created_at,
  pushedBy: r.pushed_by,
});

// Every write transaction takes the write lock at BEGIN, so its read-then-write cannot meet SQLITE_BUSY
// half way when another connection (a second registry process on the same file) writes too.
const immediate = { immediate: true } as const;

export function openRegistryStore(db: SqliteDatabase): RegistryStore {
  db.exec(registrySchemaSql);
  const found = db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
  if (found === undefined)
    db.run("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [String(REGISTRY_SCHEMA_VERSION)]);
  else if (Number(found.value) > REGISTRY_SCHEMA_VERSION) {
    throw new Error(
      `registry database schema ${found.value} is newer than this edgeloop (${REGISTRY_SCHEMA_VERSION})`,
    );
  }

  const versionCols =
    'model, version, manifest_json, manifest_sha256, signature_sha256, created_at, pushed_by';

  function getAlias(model: string, alias: AliasName): AliasRow | undefined {
    const r = db.get<{ version: string; updated_at: string; updated_by: string }>(
      'SELECT version, updated_at, updated_by FROM aliases WHERE model = ? AND alias = ?',
      [model, alias],
    );
    return r === undefined
      ? undefined
      : { alias, version: r.version, updatedAt: r.updated_at, updatedBy: r.updated_by };
  }

  function listAliases(model: string): AliasRow[] {
    return db
      .all<{ alias: AliasName; version: string; updated_at: string; updated_by: string }>(
        "SELECT alias, version, updated_at, updated_by FROM aliases WHERE model = ? ORDER BY CASE alias WHEN 'staging' THEN 0 WHEN 'canary' THEN 1 ELSE 2 END",
        [model],
      )
      .map((r) => ({ alias: r.alias, version: r.version, updatedAt: r.updated_at, updatedBy: r.updated_by }));
  }

  return {
    listModels() {
      const rows = db.all<{ name: string; created_at: string; n: number; latest: string | null }>(
        `SELECT m.name, m.created_at, COUNT(v.seq) AS n,
           (SELECT version FROM versions WHERE model = m.name ORDER BY seq DESC LIMIT 1) AS latest
         FROM models m LEFT JOIN versions v ON v.model = m.name GROUP BY m.name ORDER BY m.name`,
      );
      return rows.map((r) => ({
        name: r.name,
        createdAt: r.created_at,
        versions: r.n,
        latestVersion: r.latest,
        aliases: Object.fromEntries(listAliases(r.name).map((a) => [a.alias, a.version])),
      }));
    },
    hasModel: (name) => db.get('SELECT 1 AS x FROM models WHERE name = ?', [name]) !== undefined,
    listVersions: (model) =>
      db
        .all<RawVersion>(`SELECT ${versionCols} FROM versions WHERE model = ? ORDER BY seq`, [model])
        .map(toVersion),
    getVersion(model, version) {
      const r = db.get<RawVersion>(`SELECT ${versionCols} FROM versions WHERE model = ? AND version = ?`, [
        model,
        version,
      ]);
      if (r === undefined) return undefined;
      const files = db.all<FileRow>(
        'SELECT path, role, sha256, size FROM files WHERE model = ? AND version = ? ORDER BY path',
        [model, version],
      );
      return { ...toVersion(r), files };
    },
    insertVersion(row, files) {
      return db.transaction((): InsertOutcome => {
        const existing = db.get<{ manifest_sha256: string }>(
          'SELECT manifest_sha256 FROM versions WHERE model = ? AND version = ?',
          [row.model, row.version],
        );
        if (existing !== undefined)
          return existing.manifest_sha256 === row.manifestSha256 ? 'identical' : 'conflict';
        db.run('INSERT OR IGNORE INTO models (name, created_at, created_by) VALUES (?, ?, ?)', [
          row.model,
          row.createdAt,
          row.pushedBy,
        ]);
        db.run(`INSERT INTO versions (${versionCols}) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
          row.model,
          row.version,
          row.manifestJson,
          row.manifestSha256,
          row.signatureSha256,
          row.createdAt,
          row.pushedBy,
        ]);
        for (const f of files) {
          db.run('INSERT INTO files (model, version, path, role, sha256, size) VALUES (?, ?, ?, ?, ?, ?)', [
            row.model,
            row.version,
            f.path,
            f.role,
            f.sha256,
            f.size,
          ]);
        }
        return 'created';
      }, immediate)();
    },
    listAliases,
    getAlias,
    moveAlias(move) {
      return db.transaction(() => {
        const current = getAlias(move.model, move.alias);
        const from = current?.version ?? null;
        // Already there: a retried request succeeds without a second history row.
        if (from === move.version) return ok({ from, to: move.version, changed: false });
        if (move.expectedVersion !== undefined && move.expectedVersion !== from) {
          return fail(
            'EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT',
            `${move.alias} points at ${from ?? 'nothing'}, not ${move.expectedVersion ?? 'nothing'} as expected`,
          );
        }
        db.run(
          `INSERT INTO aliases (model, alias, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
          [move.model, move.alias, move.version, move.at, move.actor],
        );
        db.run(
          'INSERT INTO alias_history (model, alias, from_version, to_version, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [move.model, move.alias, from, move.version, move.actor, move.reason, move.at],
        );
        return ok({ from, to: move.version, changed: true });
      }, immediate)();
    },
    aliasHistory(model, alias) {
      const rows =
        alias === undefined
          ? db.all<RawHistory>('SELECT * FROM alias_history WHERE model = ? ORDER BY id', [model])
          : db.all<RawHistory>('SELECT * FROM alias_history WHERE model = ? AND alias = ? ORDER BY id', [
              model,
              alias,
            ]);
      return rows.map((r) => ({
        id: r.id,
        alias: r.alias,
        from: r.from_version,
        to: r.to_version,
        actor: r.actor,
        reason: r.reason,
        at: r.at,
      }));
    },
    getPolicy(model) {
      const r = db.get<{ policy_json: string; updated_at: string; updated_by: string }>(
        'SELECT policy_json, updated_at, updated_by FROM policies WHERE model = ?',
        [model],
      );
      return r === undefined
        ? undefined
        : { policy: JSON.parse(r.policy_json) as unknown, updatedAt: r.updated_at, updatedBy: r.updated_by };
    },
    setPolicy(model, policy, actor, at) {
      db.run(
        `INSERT INTO policies (model, policy_json, updated_at, updated_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (model) DO UPDATE SET policy_json = excluded.policy_json, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [model, JSON.stringify(policy), at, actor],
      );
    },
    audit(e) {
      db.run(
        'INSERT INTO audit (at, actor, action, target, result, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [e.at, e.actor, e.action, e.target, e.result, e.code, e.detail],
      );
    },
    listAudit({ limit, beforeId, target }) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (beforeId !== undefined) {
        where.push('id < ?');
        params.push(beforeId);
      }
      if (target !== undefined) {
        // Targets look like "model", "model@1.2.0" or "model/alias"; a model filter matches all three.
        where.push("(target = ? OR target LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\')");
        const esc = target.replace(/[\\%_]/g, (c) => `\\${c}`);
        params.push(target, `${esc}@%`, `${esc}/%`);
      }
      params.push(limit);
      return db.all<AuditRow>(
        `SELECT id, at, actor, action, target, result, code, detail FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        params,
      );
    },
    close: () => {
      db.close();
    },
  };
}

interface RawHistory {
  id: number;
  alias: AliasName;
  from_version: string | null;
  to_version: string;
  actor: string;
  reason: string;
  at: string;
}
