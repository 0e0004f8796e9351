// The agent's only import of better-sqlite3 (STYLE.md: one adapter file per I/O library). The rest of the
// agent sees the tiny SqliteDatabase interface below, which is exactly the subset of better-sqlite3 we use.
//
// better-sqlite3 ships no TypeScript types and we add no @types package for it, so the module is loaded
// through createRequire and typed here by hand; the interface is small enough to check against its API
// documentation (node_modules/better-sqlite3/docs/api.md upstream).

import { createRequire } from 'node:module';

export type SqlValue = number | bigint | string | Uint8Array | null;

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
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  /**
   * Wraps fn in BEGIN/COMMIT (ROLLBACK when it throws). fn must be synchronous: an `await` inside would
   * commit at the first await and run the rest outside the transaction.
   */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  /** Runs `PRAGMA <source>`; with simple, returns the first column of the first row. */
  pragma(source: string, options?: { readonly simple?: boolean }): unknown;
  close(): void;
  readonly open: boolean;
}

export interface OpenSqliteOptions {
  readonly readonly?: boolean;
  /** How long a statement waits for a lock held by another connection, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
}

type DatabaseCtor = new (
  filename: string,
  options?: { readonly?: boolean; timeout?: number },
) => SqliteDatabase;

const require = createRequire(import.meta.url);
let ctor: DatabaseCtor | undefined;

/** Opens (creating if needed) an SQLite database file. Throws on failure; callers map it to their code. */
export function openSqliteDatabase(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  ctor ??= require('better-sqlite3') as DatabaseCtor;
  return new ctor(path, { readonly: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 });
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
