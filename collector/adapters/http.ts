// The only importer of Fastify (STYLE.md: one adapter per I/O library). It builds the collector's one HTTP
// server: routes come as Fastify plugins (the registry's today; the collector API and dashboard next), and
// this file owns what every route shares:
// - every error is JSON `{ error: { code, message } }` with a stable EDGELOOP_ERR_* code (error handler,
//   not-found handler with 405 + Allow, bad URLs, schema validation, client errors such as timeouts), so
//   clients branch on the code, never the text;
// - bounded bodies (1 MiB default, per-route bodyLimit), 413 before reading when Content-Length says so;
// - timeouts against slow or idle clients (HTTP_TIMEOUTS below);
// - a listen error (port in use, not permitted) as an EdgeloopError with the address and a hint.

import fastifyStatic from '@fastify/static';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Socket } from 'node:net';
import { EdgeloopError, errorCatalogue, type ErrorCode } from '../../shared/errors.ts';

// Route code takes these types from here, so fastify stays imported in this one file.
export type {
  FastifyInstance as HttpApp,
  FastifyPluginAsync as HttpPlugin,
  FastifyReply as HttpReply,
  FastifyRequest as HttpRequest,
};

/**
 * Server timeouts, ms. Chosen for a registry that takes bundles of up to 256 MiB from CI over a WAN and
 * serves model files to gateways:
 * - headersTimeoutMs 30 s: the whole request head must arrive within it (slowloris);
 * - requestTimeoutMs 10 min: head and body; a 256 MiB push at ~0.5 MB/s still fits (408 past it);
 * - connectionTimeoutMs 2 min: a socket with no traffic at all is closed (a stalled upload or download);
 * - keepAliveTimeoutMs 72 s: idle keep-alive sockets close after it; longer than the 60 s idle timeout
 *   of common proxies and load balancers, so the proxy closes first and never reuses a dead socket.
 */
export const HTTP_TIMEOUTS = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 600_000,
  connectionTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
} as const;

export type HttpTimeouts = { readonly [K in keyof typeof HTTP_TIMEOUTS]: number };

export interface HttpAppOptions {
  /** Default bound on request bodies, bytes (routes may set their own bodyLimit). Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Overrides of HTTP_TIMEOUTS. */
  readonly timeouts?: Partial<HttpTimeouts>;
  /** Told about handler exceptions (bugs), which become 500 replies. Default: silent. */
  readonly onError?: (err: unknown, req: { readonly method: string; readonly path: string }) => void;
}

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly [k: string]: unknown };
}

/** The JSON body of every error reply; the message defaults to the catalogue's. */
export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? errorCatalogue[code] } };
}

/** Sends an error reply; returns the reply so hooks and handlers can `return sendError(...)`. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message?: string,
  headers?: Readonly<Record<string, string>>,
): FastifyReply {
  if (headers) reply.headers(headers);
  return reply.code(status).send(errorBody(code, message));
}

/**
 * A preValidation hook that names an unknown query parameter (`?form=`, `?status=open`) with 400
 * EDGELOOP_ERR_HTTP_BAD_REQUEST: Fastify's Ajv drops additional properties silently, so a misspelled
 * filter would otherwise be ignored and read as "no filter" (STYLE.md habit 8).
 */
export function refuseUnknownQuery(allowed: readonly string[]) {
  return (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const unknown = Object.keys(req.query as Record<string, unknown>).filter((k) => !allowed.includes(k));
    if (unknown.length === 0) {
      done();
      return;
    }
    void sendError(
      reply,
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      `unknown query parameter ${unknown.join(', ')} (this route takes ${allowed.join(', ') || 'none'})`,
    );
  };
}

/**
 * Declared body bytes at or below which a refused request is drained to keep its keep-alive connection;
 * above it (or chunked) the reply carries `Connection: close`, so a refused 256 MiB upload is cut off
 * instead of read and thrown away.
 */
const DRAIN_BODY_BYTES = 64 * 1024;

/** For replies that refuse a request before its body was read (auth, limits): see DRAIN_BODY_BYTES. */
export function closeIfLargeBody(req: FastifyRequest, reply: FastifyReply): void {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (req.headers['transfer-encoding'] !== undefined || !(declared <= DRAIN_BODY_BYTES))
    reply.header('connection', 'close');
}

/** Makes a (child) context parse every body as raw bytes: a Buffer, bounded by the route's bodyLimit. */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });
}

/**
 * Makes a (child) context parse every body as JSON whatever its Content-Type (curl and fetch send
 * text/plain for a string body), with Fastify's parser: prototype poisoning refused, errors are 400.
 */
export function acceptJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, parse);
}

interface RoutePattern {
  readonly method: string;
  readonly regex: RegExp;
}

/** find-my-way's `/a/:param/*` as a regex over a raw path, to answer 405 for a known path. */
function patternRegex(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

// Fastify's framework errors that are the client's fault, by code: status and our stable code.
const clientErrors: Readonly<Record<string, readonly [number, ErrorCode]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'EDGELOOP_ERR_HTTP_BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_BAD_URL: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
  FST_ERR_MAX_PARAM_LENGTH: [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'],
};

function rawClientError(socket: Socket, status: number, code: ErrorCode, message: string): void {
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[
    status as 400 | 408 | 431
  ];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** A Fastify app with edgeloop's errors, limits and timeouts. Register plugins, then listenHttp(). */
export function createHttpApp(options: HttpAppOptions = {}): FastifyInstance {
  const t = { ...HTTP_TIMEOUTS, ...options.timeouts };
  const onError = options.onError ?? (() => undefined);
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout: t.requestTimeoutMs,
    connectionTimeout: t.connectionTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    // Model names are <= 64 characters, versions <= 94: well under this. `/models/` and `//models` route
    // like `/models`, as the hand-written router before Fastify did.
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    frameworkErrors: (err, _req, reply) => {
      const [status, code] = clientErrors[err.code] ?? [400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST'];
      void sendError(reply, status, code, err.code === 'FST_ERR_BAD_URL' ? 'malformed path' : err.message);
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) {
        if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
          rawClientError(socket, 408, 'EDGELOOP_ERR_HTTP_TIMEOUT', 'the request did not arrive in time');
        else if (err.code === 'HPE_HEADER_OVERFLOW')
          rawClientError(socket, 431, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'request headers too large');
        else rawClientError(socket, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'malformed HTTP request');
      }
      socket.destroy();
    },
  });
  app.server.headersTimeout = t.headersTimeoutMs;

  const patterns: RoutePattern[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // Auto-created HEAD siblings of GET routes are implied; Allow lists the declared methods.
      if (method !== 'HEAD') patterns.push({ method, regex: patternRegex(route.url) });
    }
  });

  app.setNotFoundHandler((req, reply) => {
    const path = (req.url.split('?')[0] ?? '/').replace(/\/{2,}/g, '/');
    const allowed = [...new Set(patterns.filter((p) => p.regex.test(path)).map((p) => p.method))];
    if (allowed.length > 0 && !allowed.includes(req.method))
      return sendError(reply, 405, 'EDGELOOP_ERR_HTTP_METHOD_NOT_ALLOWED', undefined, {
        allow: allowed.join(', '),
      });
    return sendError(reply, 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND', `no route for ${req.method} ${path}`);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation !== undefined) {
      return sendError(reply, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', err.message);
    }
    const known = clientErrors[err.code];
    if (known !== undefined) {
      const [status, code] = known;
      // Close rather than drain an oversized body we will never use.
      const headers = status === 413 ? { connection: 'close' } : undefined;
      const message =
        status === 413 ? `request body exceeds ${reply.routeOptions.bodyLimit} bytes` : err.message;
      return sendError(reply, status, code, message, headers);
    }
    if (err instanceof EdgeloopError) return sendError(reply, 400, err.code, err.message);
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
      return sendError(reply, err.statusCode, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', err.message);
    onError(err, { method: req.method, path: req.url });
    return sendError(reply, 500, 'EDGELOOP_ERR_HTTP_INTERNAL');
  });
  return app;
}

export interface HttpServerHandle {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly port: number;
  /** Idempotent: stops accepting, closes idle keep-alive sockets, resolves when the server is closed. */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** TCP port; 0 picks a free one (tests always use 0). Default 0. */
  readonly port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
}

const listenHints: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is in use (another process holds the port)',
  EACCES: 'not permitted (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'this machine has no such address (check --host)',
};

/**
 * Starts listening. A port in use, a privileged port or a foreign address throws EdgeloopError
 * EDGELOOP_ERR_HTTP_LISTEN naming the address and what to do; the caller still owns (and closes) the app.
 */
export async function listenHttp(
  app: FastifyInstance,
  options: ListenOptions = {},
): Promise<HttpServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const shown = host.includes(':') ? `[${host}]` : host;
  try {
    await app.listen({ port, host });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = listenHints[e.code ?? ''] ?? e.message;
    throw new EdgeloopError('EDGELOOP_ERR_HTTP_LISTEN', `cannot listen on ${shown}:${port}: ${hint}`, {
      cause: err,
    });
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${bound}`,
    port: bound,
    close() {
      closing ??= app.close();
      return closing;
    },
  };
}

/**
 * Serves the files under `root` at `prefix` (the dashboard's assets) through @fastify/static: ETag and
 * Last-Modified, 304s, HEAD, no directory listing, nothing outside root. `maxAgeS` sets Cache-Control.
 */
export async function serveStatic(
  app: FastifyInstance,
  options: { readonly root: string; readonly prefix: string; readonly maxAgeS?: number },
): Promise<void> {
  await app.register(fastifyStatic, {
    root: options.root,
    prefix: options.prefix,
    // Several static roots share the one app: only the first may decorate the reply.
    decorateReply: false,
    index: false,
    list: false,
    wildcard: true,
    cacheControl: true,
    maxAge: (options.maxAgeS ?? 0) * 1000,
  });
}

/** Unsent bytes an event stream may hold for a slow client before it is closed. */
export const MAX_EVENT_BACKLOG_BYTES = 4 * 1024 * 1024;

/** One open server-sent-events stream (text/event-stream). */
export interface EventStream {
  /** Sends `event: <name>` with JSON data; false once the client has gone. */
  send(event: string, data: unknown, id?: string): boolean;
  /** A comment line: keeps proxies and the idle timeout from closing a quiet stream. */
  heartbeat(): void;
  /** Ends the stream (idempotent). */
  end(): void;
  readonly closed: boolean;
}

/**
 * Takes the reply over as an SSE stream. `onClose` runs once when the client goes or end() is called.
 * Fastify no longer manages the reply, so the caller must end open streams before the app closes (see
 * the dashboard's preClose hook): a hijacked stream would otherwise hold app.close() open.
 */
export function openEventStream(reply: FastifyReply, onClose: () => void, retryMs = 3000): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx buffers responses unless told not to.
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${retryMs}\n\n`);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    onClose();
  };
  res.on('close', close);
  return {
    send(event, data, id) {
      if (closed) return false;
      // A client that stopped reading would make the server buffer without bound: cut it off; a browser
      // reconnects by itself and reads the state afresh.
      if (res.writableLength > MAX_EVENT_BACKLOG_BYTES) {
        res.destroy();
        close();
        return false;
      }
      const lines = JSON.stringify(data);
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${lines}\n\n`);
      return true;
    },
    heartbeat() {
      if (!closed) res.write(`: ${Date.now()}\n\n`);
    },
    end() {
      if (!closed) res.end();
      close();
    },
    get closed() {
      return closed;
    },
  };
}
