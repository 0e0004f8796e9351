// The registry's HTTP API under /api/v1 (docs/registry-api.md). Handlers only translate: auth, request
// parsing, and result codes to statuses; the operations live in ./registry.ts. The collector mounts these
// on its own router; `edgeloop registry serve` mounts them on a router of its own (./server.ts).

import type { ErrorCode } from '../../shared/errors.ts';
import {
  errorReply,
  type HttpHandler,
  type HttpReply,
  type HttpRequest,
  type HttpRouter,
} from '../adapters/http.ts';
import type { RegistryAuth } from './auth.ts';
import type { Registry, RegistryFailure, RegistryResult } from './registry.ts';

const statusByCode: Partial<Record<ErrorCode, number>> = {
  EDGELOOP_ERR_REGISTRY_NOT_FOUND: 404,
  EDGELOOP_ERR_REGISTRY_BAD_NAME: 400,
  EDGELOOP_ERR_HTTP_BAD_REQUEST: 400,
  EDGELOOP_ERR_REGISTRY_UNAUTHORIZED: 401,
  EDGELOOP_ERR_REGISTRY_FORBIDDEN: 403,
  EDGELOOP_ERR_REGISTRY_VERSION_EXISTS: 409,
  EDGELOOP_ERR_REGISTRY_ALIAS_CONFLICT: 409,
  EDGELOOP_ERR_REGISTRY_GATE_FAILED: 412,
  EDGELOOP_ERR_BUNDLE_TOO_LARGE: 413,
  EDGELOOP_ERR_REGISTRY_RANGE: 416,
  EDGELOOP_ERR_REGISTRY_STORAGE: 507,
};

/** HTTP status for a registry failure: bundle and certification failures are 422. */
export function statusFor(code: ErrorCode): number {
  return statusByCode[code] ?? 422;
}

function failureReply(f: RegistryFailure): HttpReply {
  const status = statusFor(f.code);
  return {
    status,
    json: { error: { code: f.code, message: f.message, ...(f.reasons ? { reasons: f.reasons } : {}) } },
  };
}

function reply<T>(r: RegistryResult<T>, status = 200): HttpReply {
  return r.ok ? { status, json: r.value } : failureReply(r);
}

function parseJson(
  req: HttpRequest,
): { ok: true; value: Record<string, unknown> } | { ok: false; reply: HttpReply } {
  try {
    const v: unknown = JSON.parse(req.body.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      return { ok: true, value: v as Record<string, unknown> };
  } catch {
    // fall through
  }
  return {
    ok: false,
    reply: errorReply(400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'the body must be a JSON object'),
  };
}

/** Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 section 14.1.2); multi-range is not served. */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined; // unparseable or multi-range: ignore and send the whole file (RFC 9110 14.2)
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || (b !== '' && Number(b) < start)) return 'unsatisfiable';
  return { start, end };
}

/** true when an If-None-Match header names the etag (or is `*`). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v === etag;
  });
}

export interface RegistryRouteOptions {
  /** Largest push body in bytes (413 past it). Default 256 MiB. */
  readonly maxBundleBytes?: number;
  /** Path prefix. Default '/api/v1'. */
  readonly prefix?: string;
}

export function registerRegistryRoutes(
  router: HttpRouter,
  registry: Registry,
  auth: RegistryAuth,
  options: RegistryRouteOptions = {},
): void {
  const p = options.prefix ?? '/api/v1';
  const m = `${p}/models/:name`;
  const v = `${m}/versions/:version`;

  const read =
    (h: HttpHandler): HttpHandler =>
    (req) => {
      const a = auth.read(req.header('authorization'));
      return a.ok ? h(req) : errorReply(a.status, a.code);
    };
  const write =
    (
      action: string,
      target: (req: HttpRequest) => string,
      h: (req: HttpRequest, actor: string) => HttpReply | Promise<HttpReply>,
    ): HttpHandler =>
    (req) => {
      const a = auth.write(req.header('authorization'));
      if (a.ok) return h(req, a.actor);
      registry.auditRejected(a.actor, action, target(req), a.code, `HTTP ${a.status}`);
      return errorReply(a.status, a.code);
    };

  router.add(
    'GET',
    `${p}/models`,
    read(() => ({ status: 200, json: { models: registry.listModels() } })),
  );

  router.add(
    'GET',
    `${m}/versions`,
    read((req) => {
      const r = registry.listVersions(req.params.name ?? '');
      return r.ok
        ? { status: 200, json: { versions: r.value.map(({ manifest: _m, ...rest }) => rest) } }
        : failureReply(r);
    }),
  );

  router.add(
    'POST',
    `${m}/versions`,
    write(
      'push',
      (req) => `${req.params.name ?? ''}@${req.query.get('version') ?? '?'}`,
      async (req, actor) => {
        const name = req.params.name ?? '';
        // The version is the bundle manifest's; ?version= makes the push fail unless they agree.
        const r = await registry.push(name, req.body, actor, req.query.get('version') ?? undefined);
        if (!r.ok) return failureReply(r);
        return {
          status: r.value.created ? 201 : 200,
          headers: { location: `${p}/models/${name}/versions/${r.value.version.version}` },
          json: {
            created: r.value.created,
            ...r.value.version,
            certification: r.value.certification ?? null,
          },
        };
      },
    ),
    { maxBodyBytes: options.maxBundleBytes ?? 256 * 1024 * 1024 },
  );

  router.add(
    'GET',
    v,
    read((req) => reply(registry.getVersion(req.params.name ?? '', req.params.version ?? ''))),
  );

  router.add(
    'GET',
    `${v}/lineage`,
    read((req) => reply(registry.lineage(req.params.name ?? '', req.params.version ?? ''))),
  );

  router.add(
    'GET',
    `${v}/files/*path`,
    read((req) => {
      const r = registry.file(req.params.name ?? '', req.params.version ?? '', req.params.path ?? '');
      if (!r.ok) return failureReply(r);
      const f = r.value;
      const etag = `"${f.sha256}"`;
      // Version files never change, so a client may cache them for good.
      const common = {
        etag,
        'cache-control': 'public, max-age=31536000, immutable',
        'accept-ranges': 'bytes',
        'x-edgeloop-role': f.role,
      };
      if (etagMatches(req.header('if-none-match'), etag)) return { status: 304, headers: common };
      const type =
        f.path.endsWith('.json') || f.role === 'manifest' || f.role === 'signature'
          ? 'application/json'
          : 'application/octet-stream';
      const rangeHeader = req.header('range');
      // If-Range with another validator means the client's partial copy is stale: send it all.
      const ifRange = req.header('if-range');
      const range =
        rangeHeader === undefined || (ifRange !== undefined && ifRange !== etag)
          ? undefined
          : parseRange(rangeHeader, f.size);
      if (range === 'unsatisfiable') {
        return {
          status: 416,
          headers: { ...common, 'content-range': `bytes */${f.size}` },
          json: {
            error: {
              code: 'EDGELOOP_ERR_REGISTRY_RANGE',
              message: `range ${rangeHeader ?? ''} is outside ${f.size} bytes`,
            },
          },
        };
      }
      if (range !== undefined) {
        return {
          status: 206,
          headers: {
            ...common,
            'content-type': type,
            'content-range': `bytes ${range.start}-${range.end}/${f.size}`,
            'content-length': String(range.end - range.start + 1),
          },
          file: { path: f.diskPath, start: range.start, end: range.end },
        };
      }
      if (f.size === 0) return { status: 200, headers: { ...common, 'content-type': type }, body: '' };
      return {
        status: 200,
        headers: { ...common, 'content-type': type, 'content-length': String(f.size) },
        file: { path: f.diskPath },
      };
    }),
  );

  router.add(
    'GET',
    `${v}/bundle`,
    read((req) => {
      const gzip = req.query.get('format') === 'tgz';
      const name = req.params.name ?? '';
      const version = req.params.version ?? '';
      // The tar is deterministic, so the ETag follows from the manifest digest: answer 304 before building.
      const found = registry.getVersion(name, version);
      if (!found.ok) return failureReply(found);
      const etag = `"${found.value.manifestDigest}.${gzip ? 'tgz' : 'tar'}"`;
      const headers = {
        etag,
        'cache-control': 'public, max-age=31536000, immutable',
        'content-type': gzip ? 'application/gzip' : 'application/x-tar',
        'content-disposition': `attachment; filename="${name}-${version}.${gzip ? 'tar.gz' : 'tar'}"`,
      };
      if (etagMatches(req.header('if-none-match'), etag)) return { status: 304, headers };
      const r = registry.bundle(name, version, gzip);
      if (!r.ok) return failureReply(r);
      const bytes = r.value.bytes;
      // A view on the same memory, not a copy.
      return { status: 200, headers, body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }),
  );

  router.add(
    'GET',
    `${m}/aliases`,
    read((req) => {
      const r = registry.listAliases(req.params.name ?? '');
      return r.ok ? { status: 200, json: { aliases: r.value } } : failureReply(r);
    }),
  );

  router.add(
    'GET',
    `${m}/aliases/:alias/history`,
    read((req) => {
      const r = registry.aliasHistory(req.params.name ?? '', req.params.alias ?? '');
      return r.ok ? { status: 200, json: { history: r.value } } : failureReply(r);
    }),
  );

  router.add(
    'GET',
    `${m}/history`,
    read((req) => {
      const r = registry.aliasHistory(req.params.name ?? '');
      return r.ok ? { status: 200, json: { history: r.value } } : failureReply(r);
    }),
  );

  router.add(
    'PUT',
    `${m}/aliases/:alias`,
    write(
      'alias.move',
      (req) => `${req.params.name ?? ''}/${req.params.alias ?? ''}`,
      (req, actor) => {
        const target = `${req.params.name ?? ''}/${req.params.alias ?? ''}`;
        const body = parseJson(req);
        const bad = (msg: string): HttpReply => {
          registry.auditRejected(actor, 'alias.move', target, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', msg);
          return errorReply(400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', msg);
        };
        if (!body.ok) return bad('the body must be a JSON object');
        const { version, expectedVersion, reason } = body.value;
        if (typeof version !== 'string') return bad('"version" (string) is required');
        if (expectedVersion !== undefined && expectedVersion !== null && typeof expectedVersion !== 'string')
          return bad('"expectedVersion" must be a string or null');
        if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000)
          return bad('"reason" (1-1000 characters) is required: the history records why');
        return reply(
          registry.moveAlias({
            model: req.params.name ?? '',
            alias: req.params.alias ?? '',
            version,
            ...(expectedVersion === undefined ? {} : { expectedVersion }),
            reason,
            actor,
          }),
        );
      },
    ),
    { maxBodyBytes: 64 * 1024 },
  );

  router.add(
    'GET',
    `${m}/policy`,
    read((req) => reply(registry.getPolicy(req.params.name ?? ''))),
  );

  router.add(
    'PUT',
    `${m}/policy`,
    write(
      'policy.set',
      (req) => req.params.name ?? '',
      (req, actor) => {
        const body = parseJson(req);
        if (!body.ok) return body.reply;
        const r = registry.setPolicy(req.params.name ?? '', body.value, actor);
        return r.ok ? { status: 200, json: { policy: r.value } } : failureReply(r);
      },
    ),
    { maxBodyBytes: 64 * 1024 },
  );

  router.add(
    'GET',
    `${p}/audit`,
    read((req) => {
      const limit = Math.min(1000, Math.max(1, Number(req.query.get('limit') ?? '100') || 100));
      const before = req.query.get('before');
      const model = req.query.get('model');
      const entries = registry.listAudit({
        limit,
        ...(before === null || !/^\d+$/.test(before) ? {} : { beforeId: Number(before) }),
        ...(model === null ? {} : { model }),
      });
      const last = entries[entries.length - 1];
      return {
        status: 200,
        json: { entries, next: entries.length === limit && last !== undefined ? last.id : null },
      };
    }),
  );
}
