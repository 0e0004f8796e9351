// The first step of an install (issue #4 §4): download the bundle a command names, with retry and resume,
// into the store's downloads folder, then read it and check it against the command's digest. A bundle
// already fully downloaded (same digest) is reused. Everything after that (hashes, signature, I/O,
// golden) is stage.ts. While this runs the serving model keeps serving, and every report says so.

import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleContents } from '../../shared/bundle/verify.ts';
import { fail, ok, type ErrorCode, type Result } from '../../shared/errors.ts';
import type { ModelCommandPayload } from '../../shared/mqtt/schemas.ts';
import { download } from '../adapters/download.ts';
import type { ModelManagerConfig } from './config.ts';
import { decodeArchive } from './stage.ts';

export type InstallCommand = Extract<ModelCommandPayload, { action: 'install' }>;

/** A DOWNLOADING or VERIFYING transition for the manager to report. */
export interface FetchProgress {
  readonly state: 'DOWNLOADING' | 'VERIFYING';
  readonly reason: string;
  readonly code?: ErrorCode;
}

export interface FetchBundleOptions {
  readonly cmd: InstallCommand;
  readonly config: ModelManagerConfig;
  /** Where downloads land, as `<hex digest>.bundle` (ModelStore.downloadsDir). */
  readonly downloadsDir: string;
  /** Aborts the download (the manager's close()). */
  readonly signal: AbortSignal;
  /** 'name@version keeps serving' or 'no model serving', appended to retry and failure reasons. */
  readonly serving: () => string;
  readonly report: (p: FetchProgress) => void;
}

export interface FetchedBundle {
  readonly contents: BundleContents;
  /**
   * Deletes the downloaded file. Call it once the bundle is stored or refused: a refused download must
   * not be re-read by a later command, which fetches it again instead.
   */
  readonly discard: () => Promise<void>;
}

/** Downloads (or reuses) the bundle, then reads and decodes it against the command's digest. */
export async function fetchBundle(options: FetchBundleOptions): Promise<Result<FetchedBundle>> {
  const { cmd, config } = options;
  const hex = cmd.digest.slice('sha256:'.length);
  const dest = join(options.downloadsDir, `${hex}.bundle`);
  const have = await stat(dest).then(
    () => true,
    () => false,
  );
  options.report({
    state: 'DOWNLOADING',
    reason: have ? `bundle already downloaded` : `downloading ${cmd.url}`,
  });
  if (!have) {
    const serving = options.serving();
    const dl = await download({
      url: cmd.url,
      dest,
      deadlineMs: config.downloadDeadlineMs,
      attemptTimeoutMs: config.downloadAttemptTimeoutMs,
      maxBytes: config.maxBundleBytes,
      ...(cmd.sizeBytes === undefined ? {} : { expectedBytes: cmd.sizeBytes }),
      retryBaseMs: config.retryBaseMs,
      retryCapMs: config.retryCapMs,
      ...(config.registryToken === ''
        ? {}
        : { headers: { authorization: `Bearer ${config.registryToken}` } }),
      signal: options.signal,
      onRetry: (r) => {
        options.report({
          state: 'DOWNLOADING',
          reason: `${r.message}; retry ${r.attempt} in ${r.delayMs} ms (${r.haveBytes} bytes kept for resume); ${serving}`,
          code: r.code,
        });
      },
    });
    if (!dl.ok) return fail(dl.code, `${dl.message}; ${serving}`);
  }

  options.report({
    state: 'VERIFYING',
    reason: 'checking digest, file hashes, signature, I/O and golden outputs',
  });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(dest));
  } catch (err) {
    return fail('EDGELOOP_ERR_MODEL_STORE', `cannot read ${dest}: ${String(err)}`);
  }
  const discard = (): Promise<void> => rm(dest, { force: true }).catch(() => undefined);
  const contents = decodeArchive(bytes, cmd.digest, config.maxBundleBytes);
  if (!contents.ok) {
    await discard();
    return fail(contents.code, `${contents.message}; ${options.serving()}`);
  }
  return ok({ contents: contents.value, discard });
}
