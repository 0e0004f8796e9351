// The agent's only node:http import (STYLE.md: one adapter per I/O library): a tiny server for
// `GET /metrics` (Prometheus text) and `GET /healthz` (JSON), docs/agent.md §Health and metrics.
// It reads no request bodies (nothing to bound), answers 404/405 as JSON with a stable code, and close()
// is idempotent and drops idle keep-alive sockets so shutdown never waits for a scraper.
//
// The agent's data path must not depend on this listener (issue #8 §2): with `retryListen`, a port in use
// (or an interface not up yet) is logged with its codes and retried in the background with backoff, while
// the agent keeps reading, inferring and sending its backlog.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Backoff, type BackoffOptions } from '../../shared/backoff.ts';
import { errorCatalogue, fail, ok, type ErrorCode, type Result } from '../../shared/errors.ts';

export interface HealthReport {
  /** false → HTTP 503. The agent reports unhealthy only for states a restart might fix. */
  readonly healthy: boolean;
  readonly [detail: string]: unknown;
}

export interface AgentHttpOptions {
  /** TCP port; 0 picks a free one (tests). */
  readonly port: number;
  /** Interface to bind. Default 127.0.0.1 (metrics stay on the gateway unless configured otherwise). */
  readonly host?: string;
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  readonly health: () => HealthReport;
  /**
   * Never fail on a listen error: log it and retry in the background with backoff (default 0.5 s doubling
   * to 30 s, jittered). Without it, a listen error is returned as EDGELOOP_ERR_HTTP_LISTEN.
   */
  readonly retryListen?: { readonly log: ListenLog; readonly backoff?: BackoffOptions };
}

/** The part of shared/platform/logger.ts's Logger this server uses. */
export interface ListenLog {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface AgentHttpServer {
  /** The bound port; the configured one while a retried listen has not bound yet. */
  readonly port: number;
  readonly url: string;
  /** false while a retried listen is still waiting for its address. */
  readonly listening: boolean;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

function sendError(
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  head: boolean,
  extra?: Record<string, string>,
): void {
  for (const [k, v] of Object.entries(extra ?? {})) res.setHeader(k, v);
  sendJson(res, status, { error: { code, message: errorCatalogue[code] } }, head);
}

/** Starts listening. A port in use is an expected failure (EDGELOOP_ERR_HTTP_LISTEN), not a throw. */
export function startAgentHttpServer(options: AgentHttpOptions): Promise<Result<AgentHttpServer>> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    if (path !== '/metrics' && path !== '/healthz') {
      sendError(res, 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND', head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      sendError(res, 405, 'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED', head, { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') {
      const h = options.health();
      sendJson(res, h.healthy ? 200 : 503, { status: h.healthy ? 'ok' : 'unhealthy', ...h }, head);
      return;
    }
    const m = await options.metrics();
    res.writeHead(200, {
      'content-type': m.contentType,
      'content-length': Buffer.byteLength(m.body),
      'cache-control': 'no-store',
    });
    res.end(head ? undefined : m.body);
  };

  const server = createServer((req, res) => {
    // Drain (and ignore) any body so the connection can be reused.
    req.resume();
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'EDGELOOP_ERR_HTTP_INTERNAL', false);
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  const host = options.host ?? '127.0.0.1';
  let bound: AddressInfo | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const urlOf = (address: string, port: number): string =>
    `http://${address.includes(':') ? `[${address}]` : address}:${String(port)}`;
  const api: AgentHttpServer = {
    get port() {
      return bound?.port ?? options.port;
    },
    get url() {
      return bound === undefined ? urlOf(host, options.port) : urlOf(bound.address, bound.port);
    },
    get listening() {
      return bound !== undefined;
    },
    close: () => {
      closing ??= new Promise<void>((done) => {
        clearTimeout(retryTimer);
        if (!server.listening) {
          done();
          return;
        }
        server.close(() => {
          done();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };

  type Attempt =
    { readonly ok: true; readonly address: AddressInfo } | { readonly ok: false; readonly err: Error };
  /** One listen attempt: the bound address, or the error. */
  const attempt = (): Promise<Attempt> =>
    new Promise((resolve) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        resolve({ ok: false, err });
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve({ ok: true, address: server.address() as AddressInfo });
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(options.port, host);
    });
  const address = `${host}:${String(options.port)}`;

  const retry = options.retryListen;
  if (retry === undefined)
    return attempt().then((r) => {
      if (!r.ok) return fail('EDGELOOP_ERR_HTTP_LISTEN', `${address}: ${r.err.message}`);
      bound = r.address;
      return ok(api);
    });

  const backoff = new Backoff({ baseMs: 500, capMs: 30_000, ...retry.backoff });
  let lastErrno: string | undefined;
  const tryListen = async (): Promise<void> => {
    const r = await attempt();
    if (closing !== undefined) {
      // close() ran during the attempt: release a port we just bound.
      if (r.ok) server.close();
      return;
    }
    if (r.ok) {
      bound = r.address;
      if (backoff.attempts > 0)
        retry.log.info('metrics listener bound', { url: api.url, failedAttempts: backoff.attempts });
      return;
    }
    const delayMs = backoff.next();
    const errno = (r.err as NodeJS.ErrnoException).code;
    // The first failure, then each doubling of attempts or a new error: a port taken for days logs a few
    // dozen lines, not one per retry.
    const n = backoff.attempts;
    if ((n & (n - 1)) === 0 || errno !== lastErrno)
      retry.log.warn('metrics listener failed; retrying, the agent keeps running', {
        code: 'EDGELOOP_ERR_HTTP_LISTEN' satisfies ErrorCode,
        errno,
        address,
        error: r.err.message,
        attempt: n,
        retryInMs: delayMs,
      });
    lastErrno = errno;
    retryTimer = setTimeout(() => {
      void tryListen();
    }, delayMs);
    // The retry alone never keeps the process alive.
    retryTimer.unref();
  };
  return tryListen().then(() => ok(api));
}
