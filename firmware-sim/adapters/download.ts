// firmware-sim's HTTP GET of a model bundle (fleet-updates.ts), on node:http(s), with the agent's retry
// rules (docs/agent-models.md "DOWNLOADING"): network errors, timeouts, 408, 429 and 5xx are retried with
// full-jitter capped exponential backoff (shared/backoff.ts) until a deadline; every other non-200 answer,
// and a body over the byte limit, is final (EDGELOOP_ERR_MODEL_DOWNLOAD). The runtimes never import each
// other, so this is the agent's rule rebuilt, not agent/adapters/download.ts. Unlike the agent it keeps the
// body in memory (bundles are small and a simulated device has no disk) and so does not resume.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Backoff } from '../../shared/backoff.ts';
import { fail, ok, type ErrorCode, type Result } from '../../shared/errors.ts';

export interface BundleGetRetry {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface BundleGetOptions {
  readonly url: string;
  /** Give up retrying after this long in total, ms. */
  readonly deadlineMs: number;
  /** One attempt (connect and whole body), ms. */
  readonly attemptTimeoutMs: number;
  /** Largest body accepted, bytes. */
  readonly maxBytes: number;
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  /** Jitter source in [0, 1) (the device's seeded stream, so a seed gives the same delays). */
  readonly random: () => number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (r: BundleGetRetry) => void;
  readonly headers?: Readonly<Record<string, string>>;
}

type Attempt =
  | { readonly done: true; readonly body: Uint8Array }
  | { readonly done: false; readonly retry: boolean; readonly code: ErrorCode; readonly message: string };

const text = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve(); // aborted already: addEventListener would never fire
      return;
    }
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

/** One GET: the whole body, or why not. Redirects are followed (up to 5). */
function getOnce(url: string, o: BundleGetOptions, signal: AbortSignal, hops = 0): Promise<Attempt> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve({ done: false, retry: false, code: 'EDGELOOP_ERR_MODEL_DOWNLOAD', message: `bad url ${url}` });
      return;
    }
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const unreachable = (m: string): void => {
      resolve({ done: false, retry: true, code: 'EDGELOOP_ERR_REGISTRY_UNREACHABLE', message: m });
    };
    const req = request(
      u,
      { method: 'GET', headers: { 'user-agent': 'edgeloop-sim-fleet', ...o.headers }, signal },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && location !== undefined && hops < 5) {
          res.resume();
          void getOnce(new URL(location, u).toString(), o, signal, hops + 1).then(resolve);
          return;
        }
        if (status !== 200) {
          res.resume();
          const retry = status === 408 || status === 429 || status >= 500;
          resolve({
            done: false,
            retry,
            code: retry ? 'EDGELOOP_ERR_REGISTRY_UNREACHABLE' : 'EDGELOOP_ERR_MODEL_DOWNLOAD',
            message: `GET ${url} answered ${status}`,
          });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.byteLength;
          if (size > o.maxBytes) {
            res.destroy();
            resolve({
              done: false,
              retry: false,
              code: 'EDGELOOP_ERR_MODEL_DOWNLOAD',
              message: `body exceeds the ${o.maxBytes}-byte limit`,
            });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if (!res.complete) unreachable(`GET ${url}: body interrupted after ${size} bytes`);
          else resolve({ done: true, body: new Uint8Array(Buffer.concat(chunks)) });
        });
        res.on('error', (err) => {
          unreachable(`GET ${url}: body interrupted after ${size} bytes: ${text(err)}`);
        });
      },
    );
    req.on('error', (err) => {
      unreachable(`GET ${url}: ${text(err)}`);
    });
    req.end();
  });
}

/** Downloads url into memory, retrying while the server is unreachable, until the deadline. */
export async function getBundle(o: BundleGetOptions): Promise<Result<Uint8Array>> {
  const deadline = Date.now() + o.deadlineMs;
  const backoff = new Backoff({ baseMs: o.retryBaseMs, capMs: o.retryCapMs, random: o.random });
  for (let attempts = 1; ; attempts++) {
    if (o.signal?.aborted === true) return fail('EDGELOOP_ERR_MODEL_DOWNLOAD', 'download aborted');
    const timeout = AbortSignal.timeout(Math.max(1, Math.min(o.attemptTimeoutMs, deadline - Date.now())));
    const signal = o.signal === undefined ? timeout : AbortSignal.any([o.signal, timeout]);
    const r = await getOnce(o.url, o, signal);
    if (r.done) return ok(r.body);
    if (!r.retry) return fail(r.code, r.message);
    const delayMs = backoff.next();
    if (Date.now() + delayMs >= deadline)
      return fail(
        r.code,
        `${r.message}; gave up after ${attempts} attempt(s) at the ${o.deadlineMs} ms deadline`,
      );
    o.onRetry?.({ attempt: attempts, delayMs, code: r.code, message: r.message });
    await sleep(delayMs, o.signal);
  }
}
