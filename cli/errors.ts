// What the user sees when a command throws something that is not an EdgeloopError (issue #7 §3). Known
// system errors get a stable code and one line; anything else is a bug in edgeloop: one line that says so
// and how to report it, the stack only with --debug. Node's own error codes (err.code, err.syscall,
// err.path) are the API we read here, never the message text.

import { EdgeloopError, errorCatalogue, type ErrorCode, type Failure } from '../shared/errors.ts';

/** How main() reports an unexpected exception. */
export type Unexpected =
  /** The reader went away (`edgeloop decode ... | head`): a normal end, nothing to print. */
  | { readonly kind: 'epipe' }
  /** A known system error: one line with a stable code. */
  | { readonly kind: 'known'; readonly code: ErrorCode; readonly message: string }
  /** Anything else: a bug. */
  | { readonly kind: 'bug'; readonly message: string };

interface SystemError {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly path?: unknown;
  readonly dest?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
}

const pathErrors: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
};

const listenErrors: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such interface on this machine',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Sorts an exception that is not an EdgeloopError into what the CLI prints for it. */
export function classifyUnexpected(err: unknown): Unexpected {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SystemError;
  const code = str(e.code);
  const syscall = str(e.syscall);
  if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') return { kind: 'epipe' };
  if (code !== undefined && syscall === 'listen' && code in listenErrors) {
    const where =
      str(e.address) === undefined
        ? ''
        : ` ${str(e.address) ?? ''}${typeof e.port === 'number' ? `:${e.port}` : ''}`;
    return {
      kind: 'known',
      code: 'EDGELOOP_ERR_HTTP_LISTEN',
      message: `cannot listen on${where}: ${listenErrors[code] ?? code} (${code})`,
    };
  }
  const path = str(e.path);
  if (code !== undefined && path !== undefined && code in pathErrors) {
    const dest = str(e.dest);
    return {
      kind: 'known',
      code: 'EDGELOOP_ERR_PATH',
      message: `${path}${dest === undefined ? '' : ` -> ${dest}`}: ${pathErrors[code] ?? code} (${code}${syscall === undefined ? '' : `, ${syscall}`})`,
    };
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'bug', message: text.split('\n')[0] ?? text };
}

/** The hint printed after an unexpected error, so the report carries what we need. */
export const REPORT_HINT =
  'this is a bug in edgeloop: rerun with --debug for the stack trace and report it with the command line';

/** True when `s` is a code of the catalogue (e.g. one a registry reply or a subcommand's output carried). */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(errorCatalogue, s);
}

/**
 * The codes that mean "the user's setup": a bad option, a path or port that cannot be used. They exit 2,
 * like the dispatcher's own usage errors (edgeloop --help, "Exit codes"); every other code is a real failure
 * (a refused push, a failed verify) and exits 1.
 */
const setupCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'EDGELOOP_ERR_USAGE',
  'EDGELOOP_ERR_CONFIG_INVALID',
  'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION',
  'EDGELOOP_ERR_PATH',
  'EDGELOOP_ERR_HTTP_LISTEN',
  'EDGELOOP_ERR_BROKER_LISTEN',
]);

/** The exit code for a failure with this code: 2 for usage, configuration, path or port, else 1. */
export function exitCodeFor(code: ErrorCode): 1 | 2 {
  return setupCodes.has(code) ? 2 : 1;
}

/** A failure as an EdgeloopError, without repeating the catalogue text its message already ends with. */
export function thrown(f: Failure, prefix = ''): EdgeloopError {
  const base = errorCatalogue[f.code];
  const detail = f.message.endsWith(`. ${base}`) ? f.message.slice(0, -(base.length + 2)) : f.message;
  return new EdgeloopError(f.code, `${prefix}${detail}`);
}
