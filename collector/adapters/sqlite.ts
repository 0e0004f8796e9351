// The only importer of better-sqlite3 on the collector side (STYLE.md: one adapter per I/O library).
// The rest of the collector depends on the small SqliteDb interface below, so a store can be tested
// against a real file or an in-memory database alike. better-sqlite3 ships no type declarations and
// @types/better-sqlite3 is not a dependency, so the few members we use are typed here.

import { createRequire } from 'node:module';

export type SqlValue = string | number | bigint | Buffer | null;
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

export interface SqliteDb {
  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): void;
  run(sql: string, params?: SqlParams): RunResult;
  // The caller names the row shape, as better-sqlite3's own typings do; SQLite cannot check it.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  get<T>(sql: string, params?: SqlParams): T | undefined;
  all<T>(sql: string, params?: SqlParams): T[];
  /**
   * Runs fn in one transaction (BEGIN IMMEDIATE). fn must be synchronous: never await inside it
   * (STYLE.md habit 12), better-sqlite3 commits when fn returns and rolls back when it throws.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
}

interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  pragma(sql: string): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): { immediate: F };
  close(): void;
  readonly open: boolean;
}

type DatabaseCtor = new (path: string, options?: { readonly?: boolean; timeout?: number }) => Database;

const require = createRequire(import.meta.url);

export interface OpenSqliteOptions {
  /** Milliseconds to wait on a locked database before SQLITE_BUSY. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Prepared statements kept in the cache; older ones are dropped. Default 256. */
  readonly maxCachedStatements?: number;
}

/** Opens (creating if needed) a SQLite file in WAL mode with foreign keys on. ':memory:' works too. */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): SqliteDb {
  const Ctor = require('better-sqlite3') as DatabaseCtor;
  const db = new Ctor(path, { timeout: options.busyTimeoutMs ?? 5000 });
  // WAL lets readers run while one writer commits; NORMAL sync is durable across process crashes in WAL
  // mode and only risks the last transactions on power loss (https://sqlite.org/wal.html).
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  const maxCached = options.maxCachedStatements ?? 256;
  const cache = new Map<string, Statement>();
  let closed = false;

  function stmt(sql: string): Statement {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      // Bounded cache (STYLE.md habit 4): a Map iterates in insertion order, so the first key is oldest.
      if (cache.size >= maxCached) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(sql, s);
    }
    return s;
  }
  const args = (params: SqlParams | undefined): unknown[] =>
    params === undefined ? [] : Array.isArray(params) ? params : [params];

  return {
    exec: (sql) => {
      db.exec(sql);
    },
    run: (sql, params) => stmt(sql).run(...args(params)),
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
    get: <T>(sql: string, params?: SqlParams) => stmt(sql).get(...args(params)) as T | undefined,
    all: <T>(sql: string, params?: SqlParams) => stmt(sql).all(...args(params)) as T[],
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => {
      if (closed) return;
      closed = true;
      cache.clear();
      db.close();
    },
  };
}
