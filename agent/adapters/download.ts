// HTTP(S) download with retry and resume (issue #4 §4 "download (with retry and resume)"), on node:http(s)
// through ./http-get.ts (the global fetch would keep undici's ~15 MiB resident). Bytes stream to
// `<dest>.part`; a retry asks for the rest with `Range: bytes=<have>-`
// (RFC 9110 §14.2) and appends on 206, or starts over on 200 (a server that ignores ranges). On success the
// part file is renamed to `dest`. Network errors, timeouts, 408, 429 and 5xx are retried with jittered,
// capped exponential backoff (shared/backoff.ts) until the deadline; other 4xx answers are final.
//
// Integrity is not this file's job: the model manager checks the digest and the bundle signature.

import { open, rename, rm, stat } from 'node:fs/promises';
import { Backoff } from '../../shared/backoff.ts';
import { fail, ok, type ErrorCode, type Result } from '../../shared/errors.ts';
import { httpGet, type HttpGetResponse } from './http-get.ts';

export interface DownloadRetry {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly code: ErrorCode;
  readonly message: string;
  /** Bytes already on disk (what the next attempt resumes from). */
  readonly haveBytes: number;
}

export interface DownloadOptions {
  readonly url: string;
  /** Final path; the partial file is `${dest}.part`. */
  readonly dest: string;
  /** Give up after this long in total, ms. Default 1_800_000 (30 min). */
  readonly deadlineMs?: number;
  /** One attempt (connect + whole body) may take this long, ms. Default 60_000. */
  readonly attemptTimeoutMs?: number;
  /** Refuse bodies larger than this, bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Expected size, when the command says it; a longer body is refused. */
  readonly expectedBytes?: number;
  /** Backoff between attempts, ms. Defaults 500 and 30_000. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborts the download (agent shutdown, a newer command). */
  readonly signal?: AbortSignal;
  readonly onRetry?: (info: DownloadRetry) => void;
  /** Injected for tests. */
  readonly random?: () => number;
  readonly now?: () => number;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly attempts: number;
  /** True when some attempt continued a partial file with a Range request. */
  readonly resumed: boolean;
}

type Attempt =
  | { readonly done: true }
  | { readonly done: false; readonly retry: boolean; readonly code: ErrorCode; readonly message: string };

const message = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
};

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    t.unref();
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Downloads `url` to `dest`, retrying and resuming. Expected failures are values. */
export async function download(options: DownloadOptions): Promise<Result<DownloadResult>> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.deadlineMs ?? 1_800_000);
  const maxBytes = Math.min(options.maxBytes ?? 64 * 1024 * 1024, options.expectedBytes ?? Infinity);
  const part = `${options.dest}.part`;
  const backoff = new Backoff({
    baseMs: options.retryBaseMs ?? 500,
    capMs: options.retryCapMs ?? 30_000,
    ...(options.random ? { random: options.random } : {}),
  });
  let attempts = 0;
  let resumed = false;

  const attempt = async (): Promise<Attempt> => {
    const have = await sizeOf(part);
    const headers: Record<string, string> = { ...options.headers };
    if (have > 0) headers.range = `bytes=${have}-`;
    const timeout = AbortSignal.timeout(
      Math.max(1, Math.min(options.attemptTimeoutMs ?? 60_000, deadline - now())),
    );
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let res: HttpGetResponse;
    try {
      res = await httpGet(options.url, { headers, signal });
    } catch (err) {
      return {
        done: false,
        retry: true,
        code: 'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
        message: `GET ${options.url}: ${message(err)}`,
      };
    }
    const status = res.status;
    if (status === 416 && have > 0) {
      // Our part file is not a prefix the server recognises (the file changed, or it is complete and
      // the server refuses an empty range): start over.
      await res.body?.cancel();
      await rm(part, { force: true });
      return {
        done: false,
        retry: true,
        code: 'EDGELOOP_ERR_MODEL_DOWNLOAD',
        message: 'server refused the resume range; restarting',
      };
    }
    if (status !== 200 && status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      const retry = status === 408 || status === 429 || status >= 500;
      return {
        done: false,
        retry,
        code: retry ? 'EDGELOOP_ERR_REGISTRY_UNREACHABLE' : 'EDGELOOP_ERR_MODEL_DOWNLOAD',
        message: `GET ${options.url} answered ${status}`,
      };
    }
    let offset = 0;
    if (status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (m === null || Number(m[1]) !== have) {
        await res.body?.cancel().catch(() => undefined);
        await rm(part, { force: true });
        return {
          done: false,
          retry: true,
          code: 'EDGELOOP_ERR_MODEL_DOWNLOAD',
          message: '206 with an unexpected Content-Range; restarting',
        };
      }
      offset = have;
      resumed = true;
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && offset + length > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      return {
        done: false,
        retry: false,
        code: 'EDGELOOP_ERR_MODEL_DOWNLOAD',
        message: `body of ${offset + length} bytes exceeds the ${maxBytes}-byte limit`,
      };
    }
    const fh = await open(part, offset === 0 ? 'w' : 'a');
    let written = offset;
    try {
      if (res.body !== null) {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          written += chunk.byteLength;
          if (written > maxBytes) {
            return {
              done: false,
              retry: false,
              code: 'EDGELOOP_ERR_MODEL_DOWNLOAD',
              message: `body exceeds the ${maxBytes}-byte limit`,
            };
          }
          await fh.write(chunk);
        }
      }
      await fh.sync();
    } catch (err) {
      // A cut connection or a timeout mid-body: what was written stays for the next attempt to resume.
      return {
        done: false,
        retry: true,
        code: 'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
        message: `GET ${options.url}: body interrupted after ${written} bytes: ${message(err)}`,
      };
    } finally {
      await fh.close();
    }
    if (Number.isFinite(length) && written !== offset + length) {
      return {
        done: false,
        retry: true,
        code: 'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
        message: `body ended at ${written} of ${offset + length} bytes`,
      };
    }
    await rename(part, options.dest);
    return { done: true };
  };

  for (;;) {
    if (options.signal?.aborted === true) return fail('EDGELOOP_ERR_MODEL_DOWNLOAD', 'download aborted');
    attempts++;
    let r: Attempt;
    try {
      r = await attempt();
    } catch (err) {
      return fail('EDGELOOP_ERR_MODEL_STORE', `cannot write ${part}: ${message(err)}`);
    }
    if (r.done) return ok({ path: options.dest, bytes: await sizeOf(options.dest), attempts, resumed });
    if (!r.retry) {
      await rm(part, { force: true });
      return fail(r.code, r.message);
    }
    const delayMs = backoff.next();
    if (now() + delayMs >= deadline)
      return fail(
        r.code,
        `${r.message}; gave up after ${attempts} attempt(s) at the ${options.deadlineMs ?? 1_800_000} ms deadline`,
      );
    options.onRetry?.({
      attempt: attempts,
      delayMs,
      code: r.code,
      message: r.message,
      haveBytes: await sizeOf(part),
    });
    await sleep(delayMs, options.signal);
  }
}
