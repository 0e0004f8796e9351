// The only importer of node:http on the collector side (STYLE.md: one adapter per I/O library). A small
// router and server: request bodies are bounded per route (413 past the limit, habit 4), replies are plain
// values (JSON, bytes, or a file streamed from disk with backpressure), and every error is JSON
// `{ error: { code, message } }` so clients branch on the stable code, never the text.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { errorCatalogue, type ErrorCode } from '../../shared/errors.ts';

export interface HttpRequest {
  /** Upper-case method. HEAD requests reach the GET handler; the server drops the body. */
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Route parameters, percent-decoded. A `*rest` parameter keeps its inner slashes. */
  readonly params: Readonly<Record<string, string>>;
  /** Lower-case header lookup; repeated headers are joined with ', '. */
  header(name: string): string | undefined;
  /** The whole request body, already read and bounded by the route's maxBodyBytes. */
  readonly body: Buffer;
}

export type HttpHeaders = Readonly<Record<string, string>>;

export type HttpReply =
  | { readonly status: number; readonly headers?: HttpHeaders; readonly json: unknown }
  | { readonly status: number; readonly headers?: HttpHeaders; readonly body?: Buffer | string }
  | {
      readonly status: number;
      readonly headers?: HttpHeaders;
      /** Streams bytes [start, end] (inclusive, like a Range header) of a file. */
      readonly file: { readonly path: string; readonly start?: number; readonly end?: number };
    };

export type HttpHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

export interface RouteOptions {
  /** Largest accepted request body in bytes; larger gets 413. Default: the router's maxBodyBytes. */
  readonly maxBodyBytes?: number;
}

export interface HttpRouter {
  /**
   * Registers a handler. Pattern segments: literal, `:name` (one segment) or `*name` (the rest of the
   * path, at least one segment). Example: `/api/v1/models/:name/versions/:version/files/*path`.
   */
  add(method: string, pattern: string, handler: HttpHandler, options?: RouteOptions): void;
  /** Dispatches one node:http request; exported so a server can host several routers. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface RouterOptions {
  /** Default bound on request bodies, bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Told about handler exceptions (bugs), which become 500 replies. Default: silent. */
  readonly onError?: (err: unknown, req: { method: string; path: string }) => void;
}

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: HttpHandler;
  readonly maxBodyBytes: number;
}

/** Builds the JSON error reply every endpoint uses. */
export function errorReply(
  status: number,
  code: ErrorCode,
  message?: string,
  headers?: HttpHeaders,
): HttpReply {
  return {
    status,
    json: { error: { code, message: message ?? errorCatalogue[code] } },
    ...(headers ? { headers } : {}),
  };
}

function match(segments: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (seg.startsWith('*')) {
      if (i >= parts.length) return undefined;
      params[seg.slice(1)] = parts.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(part);
    else if (seg !== part) return undefined;
  }
  return parts.length === segments.length ? params : undefined;
}

type BodyResult = { ok: true; body: Buffer } | { ok: false };

async function readBody(req: IncomingMessage, max: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > max) return { ok: false };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return { ok: false };
    chunks.push(chunk);
  }
  return { ok: true, body: Buffer.concat(chunks, size) };
}

async function send(res: ServerResponse, reply: HttpReply, head: boolean): Promise<void> {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if ('json' in reply) {
    const text = JSON.stringify(reply.json);
    headers['content-type'] ??= 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : text);
    return;
  }
  if ('file' in reply) {
    res.writeHead(reply.status, headers);
    if (head) {
      res.end();
      return;
    }
    const { path, start, end } = reply.file;
    // pipeline() honours backpressure and destroys both ends on error (STYLE.md habit 3). 1 MiB reads
    // make 16 times fewer read calls and event-loop turns than the 64 KiB default.
    try {
      await pipeline(
        createReadStream(path, {
          highWaterMark: 1024 * 1024,
          ...(start === undefined ? {} : { start }),
          ...(end === undefined ? {} : { end }),
        }),
        res,
      );
    } catch (err) {
      // The client hung up (or read every byte and closed before 'finish' fired): nothing to report.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    }
    return;
  }
  const body = reply.body ?? '';
  headers['content-length'] ??= String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : body);
}

export function createRouter(options: RouterOptions = {}): HttpRouter {
  const routes: Route[] = [];
  const defaultMax = options.maxBodyBytes ?? 1024 * 1024;

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const head = method === 'HEAD';
    const lookup = head ? 'GET' : method;
    let parts: string[];
    let found: { route: Route; params: Record<string, string> } | undefined;
    const allowed = new Set<string>();
    try {
      parts = url.pathname.split('/').filter((p) => p !== '');
      for (const route of routes) {
        const params = match(route.segments, parts);
        if (params === undefined) continue;
        allowed.add(route.method);
        if (route.method === lookup && found === undefined) found = { route, params };
      }
    } catch {
      // decodeURIComponent throws on malformed escapes such as "%zz".
      await send(
        res,
        errorReply(400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'malformed percent-encoding in the path'),
        head,
      );
      return;
    }
    if (found === undefined) {
      const reply =
        allowed.size > 0
          ? errorReply(405, 'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED', undefined, {
              allow: [...allowed].join(', '),
            })
          : errorReply(404, 'EDGELOOP_ERR_HTTP_NOT_FOUND', `no route for ${method} ${url.pathname}`);
      await send(res, reply, head);
      return;
    }
    const body = await readBody(req, found.route.maxBodyBytes);
    if (!body.ok) {
      // Close the connection rather than drain an oversized body we will never use.
      await send(
        res,
        errorReply(
          413,
          'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE',
          `request body exceeds ${found.route.maxBodyBytes} bytes`,
          {
            connection: 'close',
          },
        ),
        head,
      );
      return;
    }
    const request: HttpRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      params: found.params,
      header: (name) => {
        const v = req.headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(', ') : v;
      },
      body: body.body,
    };
    let reply: HttpReply;
    try {
      reply = await found.route.handler(request);
    } catch (err) {
      options.onError?.(err, { method, path: url.pathname });
      reply = errorReply(500, 'EDGELOOP_ERR_HTTP_INTERNAL');
    }
    await send(res, reply, head);
  }

  return {
    add(method, pattern, handler, routeOptions = {}) {
      routes.push({
        method: method.toUpperCase(),
        segments: pattern.split('/').filter((p) => p !== ''),
        handler,
        maxBodyBytes: routeOptions.maxBodyBytes ?? defaultMax,
      });
    },
    async handle(req, res) {
      try {
        await dispatch(req, res);
      } catch (err) {
        // A client that hangs up mid-stream lands here; the socket is already gone.
        options.onError?.(err, { method: req.method ?? '', path: req.url ?? '' });
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          res.end(
            JSON.stringify({
              error: {
                code: 'EDGELOOP_ERR_HTTP_INTERNAL',
                message: errorCatalogue.EDGELOOP_ERR_HTTP_INTERNAL,
              },
            }),
          );
        } else res.destroy();
      }
    },
  };
}

export interface HttpServerHandle {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly port: number;
  /** Idempotent: stops accepting, closes idle keep-alive sockets, resolves when the server is closed. */
  close(): Promise<void>;
}

export interface StartHttpOptions {
  /** TCP port; 0 picks a free one (tests always use 0). Default 0. */
  readonly port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
}

export async function startHttpServer(
  router: HttpRouter,
  options: StartHttpOptions = {},
): Promise<HttpServerHandle> {
  const server = createServer((req, res) => {
    void router.handle(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
