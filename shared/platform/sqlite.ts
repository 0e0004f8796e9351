// The only import of better-sqlite3 (STYLE.md: one adapter file per I/O library), shared by both runtimes
// (issue #7 §1): the agent's outbox and the collector's registry store take the `SqliteDatabase`
// interface below, so a store can be tested against a real file or ':memory:' alike.
//
// One interface, two styles, because the two stores need both: the outbox prepares its statements once
// and wraps its hot paths in reusable transaction functions (prepare / transaction / pragma), while the
// registry store runs one-off SQL by text (run / get / all) through a bounded statement cache.
//
// Durability is the caller's choice, stated at open: the opener sets no journal mode, sync level or
// foreign-key rule unless asked, so the outbox keeps synchronous=FULL and the registry WAL with NORMAL.
//
// better-sqlite3 ships no TypeScript types and we add no @types package for it, so the module is loaded
// through createRequire and typed here by hand; the interface is small enough to check against its API
// documentation (docs/api.md in the better-sqlite3 repository).

import { createRequire } from 'node:module';

export type SqlValue = number | bigint | string | Uint8Array | null;
/** Positional (`?`) or named (`@name`, `:name`, `$name`) parameters. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: SqlValue[]): RunResult;
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

export interface SqliteDatabase {
  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): void;
  /** A statement to keep and reuse on a hot path. */
  prepare(sql: string): SqliteStatement;
  /** Runs one statement by its text, prepared once and kept in the bounded cache. */
  run(sql: string, params?: SqlParams): RunResult;
  // The caller names the row shape, as better-sqlite3's own typings do; SQLite cannot check it.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  get<T>(sql: string, params?: SqlParams): T | undefined;
  all<T>(sql: string, params?: SqlParams): T[];
  /**
   * Wraps fn in a transaction: BEGIN (BEGIN IMMEDIATE with `immediate`, which takes the write lock up front
   * so a read-then-write cannot fail half way with SQLITE_BUSY), COMMIT when fn returns, ROLLBACK when it
   * throws. Returns a function to call, once or many times. fn must be synchronous: an `await` inside
   * would commit at the first await and run the rest outside the transaction (STYLE.md habit 12).
   */
  transaction<A extends unknown[], R>(
    fn: (...args: A) => R,
    options?: { readonly immediate?: boolean },
  ): (...args: A) => R;
  /** Runs `PRAGMA <source>`; with simple, returns the first column of the first row. */
  pragma(source: string, options?: { readonly simple?: boolean }): unknown;
  /** Idempotent. */
  close(): void;
  readonly open: boolean;
}

export interface OpenSqliteOptions {
  readonly readonly?: boolean;
  /** How long a statement waits for a lock held by another connection, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Statements kept by run/get/all; the oldest is dropped past this (STYLE.md habit 4). Default 256. */
  readonly maxCachedStatements?: number;
  /**
   * 'wal' lets readers run while one writer commits (https://sqlite.org/wal.html); it is stored in the
   * file. Default: unset, the file keeps its mode (SQLite's default is a rollback journal).
   */
  readonly journalMode?: 'wal';
  /**
   * PRAGMA synchronous, per connection. FULL fsyncs every commit; NORMAL in WAL mode fsyncs at
   * checkpoints only (survives a process crash, may lose the last commits on power loss). Default: unset,
   * SQLite's own (FULL).
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * PRAGMA foreign_keys, per connection. Default: unset, the build's own, which for better-sqlite3 is ON
   * (it compiles SQLite with SQLITE_DEFAULT_FOREIGN_KEYS=1); pass it when a store depends on either.
   */
  readonly foreignKeys?: boolean;
}

interface NativeStatement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

type NativeTransaction<F> = F & { readonly immediate: F };

interface NativeDatabase {
  exec(sql: string): void;
  prepare(sql: string): NativeStatement;
  transaction<F extends (...args: never[]) => unknown>(fn: F): NativeTransaction<F>;
  pragma(source: string, options?: { readonly simple?: boolean }): unknown;
  close(): void;
  readonly open: boolean;
}

type DatabaseCtor = new (path: string, options?: { readonly?: boolean; timeout?: number }) => NativeDatabase;

const require = createRequire(import.meta.url);
let ctor: DatabaseCtor | undefined;

/**
 * Opens (creating if needed) an SQLite database file; ':memory:' works too. Throws on failure; callers
 * map it to their own code.
 */
export function openSqliteDatabase(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  ctor ??= require('better-sqlite3') as DatabaseCtor;
  const db = new ctor(path, { readonly: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 });
  try {
    if (options.journalMode !== undefined) db.pragma(`journal_mode = ${options.journalMode}`);
    if (options.synchronous !== undefined) db.pragma(`synchronous = ${options.synchronous}`);
    if (options.foreignKeys !== undefined) db.pragma(`foreign_keys = ${options.foreignKeys ? 'ON' : 'OFF'}`);
  } catch (err) {
    db.close();
    throw err;
  }
  const maxCached = options.maxCachedStatements ?? 256;
  const cache = new Map<string, NativeStatement>();

  function cached(sql: string): NativeStatement {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      // A Map iterates in insertion order, so the first key is the oldest.
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
    prepare: (sql) => db.prepare(sql),
    run: (sql, params) => cached(sql).run(...args(params)),
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
    get: <T>(sql: string, params?: SqlParams) => cached(sql).get(...args(params)) as T | undefined,
    all: <T>(sql: string, params?: SqlParams) => cached(sql).all(...args(params)) as T[],
    transaction: <A extends unknown[], R>(
      fn: (...args: A) => R,
      o: { readonly immediate?: boolean } = {},
    ): ((...args: A) => R) => {
      const tx = db.transaction(fn);
      return o.immediate === true ? tx.immediate : tx;
    },
    pragma: (source, o) => db.pragma(source, o),
    close: () => {
      if (!db.open) return;
      cache.clear();
      db.close();
    },
    get open() {
      return db.open;
    },
  };
}

/**
 * The SQLite result code of an error thrown by better-sqlite3 (e.g. 'SQLITE_FULL', 'SQLITE_IOERR_WRITE'),
 * or undefined when the error did not come from SQLite.
 */
export function sqliteErrorCode(err: unknown): string | undefined {
  if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    err.code.startsWith('SQLITE_')
  ) {
    return err.code;
  }
  return undefined;
}
