// Stream and file outputs (`--out -`, `--out <file>`), and the backpressure helper every output uses.

import { createWriteStream, openSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import type { SimOutput } from '../output.ts';

/** Writes and, when write() returns false, waits for 'drain' (or an error, or the abort signal). */
export async function writeWithBackpressure(
  stream: NodeJS.WritableStream,
  bytes: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  if (stream.write(bytes)) return;
  await once(stream, 'drain', signal === undefined ? {} : { signal });
}

/**
 * Ends a writable and waits until every byte has been handed to the OS ('finish'), for at most timeoutMs:
 * a serial peer that never reads must not hang shutdown (the unsent bytes are then lost).
 */
export async function endAndFinish(stream: Writable, timeoutMs = 5000): Promise<void> {
  if (stream.writableFinished || stream.destroyed) return;
  const done = once(stream, 'finish');
  stream.end();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Any writable (stdout, or a test's PassThrough). The stream is not ended on close unless `end` is set. */
export function streamOutput(stream: NodeJS.WritableStream, target = '-', end = false): SimOutput {
  let closed = false;
  return {
    kind: 'stream',
    target,
    write: (bytes, signal) => writeWithBackpressure(stream, bytes, signal),
    async close() {
      if (closed) return;
      closed = true;
      if (!end) return;
      const done = once(stream, 'finish');
      stream.end();
      await done;
    },
  };
}

/** Why a file could not be opened or written, in words a user can act on. */
function fileProblem(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'ENOENT'
      ? 'its directory does not exist'
      : e.code === 'ENOTDIR'
        ? 'a part of the path is not a directory'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'it is a directory'
            : e.message;
  return `--out ${path}: cannot write the capture: ${why}${e.code === undefined ? '' : ` (${e.code})`}`;
}

/**
 * A regular file (created or truncated), opened before the run starts so a missing directory or a
 * permission problem is an EDGELOOP_ERR_PATH failure, not an unhandled 'error' event mid-run.
 */
export function openFileOutput(path: string): Result<SimOutput> {
  try {
    // A plain descriptor (not a FileHandle, which would close it again when garbage-collected).
    return ok(fileOutput(path, openSync(path, 'w')));
  } catch (err) {
    return fail('EDGELOOP_ERR_PATH', fileProblem(path, err));
  }
}

/** A regular file (created or truncated): a capture for `edgeloop decode` or a test fixture. */
export function fileOutput(path: string, fd?: number): SimOutput {
  const stream = fd === undefined ? createWriteStream(path) : createWriteStream(path, { fd });
  // A write error (disk full) fails the next write instead of crashing the process with an 'error' event.
  let failed: EdgeloopError | undefined;
  stream.on('error', (err) => {
    failed ??= new EdgeloopError('EDGELOOP_ERR_PATH', fileProblem(path, err));
  });
  let closed: Promise<void> | null = null;
  return {
    kind: 'file',
    target: path,
    write: (bytes, signal) =>
      failed === undefined ? writeWithBackpressure(stream, bytes, signal) : Promise.reject(failed),
    close() {
      closed ??= endAndFinish(stream);
      return closed;
    },
  };
}
