// A small HTTP(S) GET on node:http and node:https for the model download (./download.ts), in place of the
// global fetch. fetch loads Node's bundled undici on first use, which keeps about 15 MiB resident for the
// life of the process; the agent's peak RSS with a model must stay under 150 MB (issue #8 §6,
// docs/benchmarks.md "Whole agent"). It follows redirects, honours an AbortSignal, and offers the few
// Response members the downloader reads (status, headers.get, an async-iterable body with cancel()).

import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpGetResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** The body; cancel() drops the connection without reading the rest. Never null here (fetch's type). */
  readonly body: (AsyncIterable<Uint8Array> & { cancel(): Promise<void> }) | null;
}

export interface HttpGetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Redirects followed before giving up. Default 5 (undici's fetch follows up to 20). */
  readonly maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function once(url: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const o: RequestOptions = {
    method: 'GET',
    headers: { 'user-agent': 'edgeloop-agent', ...options.headers },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  return new Promise((resolve, reject) => {
    const req = request(url, o, resolve);
    req.once('error', reject);
    req.end();
  });
}

/** GET `url`; rejects on network errors, abort, a bad URL or too many redirects (as fetch would). */
export async function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpGetResponse> {
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new Error(`unsupported protocol ${target.protocol}`);
    const res = await once(target, options);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location !== undefined) {
      res.resume();
      if (redirects >= (options.maxRedirects ?? 5)) throw new Error('too many redirects');
      target = new URL(location, target);
      continue;
    }
    return {
      status,
      headers: {
        get: (name) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        },
      },
      body: Object.assign(res as AsyncIterable<Uint8Array>, {
        cancel: (): Promise<void> => {
          res.destroy();
          return Promise.resolve();
        },
      }),
    };
  }
}
