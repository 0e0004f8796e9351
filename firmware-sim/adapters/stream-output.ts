// Stream and file outputs (`--out -`, `--out <file>`), and the backpressure helper every output uses.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
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

/** A regular file (created or truncated): a capture for `edgeloop decode` or a test fixture. */
export function fileOutput(path: string): SimOutput {
  const stream = createWriteStream(path);
  let closed: Promise<void> | null = null;
  return {
    kind: 'file',
    target: path,
    write: (bytes, signal) => writeWithBackpressure(stream, bytes, signal),
    close() {
      closed ??= endAndFinish(stream);
      return closed;
    },
  };
}
