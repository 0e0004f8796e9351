// The agent's only node:http import (STYLE.md: one adapter per I/O library): a tiny server for
// `GET /metrics` (Prometheus text) and `GET /healthz` (JSON), docs/agent.md §Health and metrics.
// It reads no request bodies (nothing to bound), answers 404/405 as JSON with a stable code, and close()
// is idempotent and drops idle keep-alive sockets so shutdown never waits for a scraper.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
}

export interface AgentHttpServer {
  readonly port: number;
  readonly url: string;
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

  return new Promise((resolve) => {
    const onError = (err: Error): void => {
      resolve(
        fail('EDGELOOP_ERR_HTTP_LISTEN', `${options.host ?? '127.0.0.1'}:${options.port}: ${err.message}`),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', onError);
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      let closing: Promise<void> | undefined;
      resolve(
        ok({
          port: addr.port,
          url: `http://${host}:${addr.port}`,
          close: () => {
            closing ??= new Promise<void>((done) => {
              server.close(() => {
                done();
              });
              server.closeIdleConnections();
            });
            return closing;
          },
        }),
      );
    });
  });
}
