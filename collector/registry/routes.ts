// The registry's HTTP API (docs/registry-api.md) as a Fastify plugin, mounted under /api/v1 by
// `edgeloop registry serve` (./server.ts) and, later, by the collector next to its own API. Handlers only
// translate: auth, request parsing, and result codes to statuses; the operations live in ./registry.ts.
// Auth runs in onRequest hooks, before any body byte is read: a refused push is answered at once, not
// after buffering up to the push limit. JSON schemas validate params, queries and JSON bodies; a schema
// failure is a 400 EDGELOOP_ERR_HTTP_BAD_REQUEST from the app's error handler (../adapters/http.ts).

import type { ErrorCode } from '../../shared/errors.ts';
import {
  acceptJsonBodies,
  acceptRawBodies,
  closeIfLargeBody,
  sendError,
  type HttpApp,
  type HttpPlugin,
  type HttpReply,
  type HttpRequest,
} from '../adapters/http.ts';
import type { RegistryAuth } from './auth.ts';
import { etagMatches, sendFile } from './files.ts';
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

export function sendFailure(reply: HttpReply, f: RegistryFailure): HttpReply {
  return reply.code(statusFor(f.code)).send({
    error: { code: f.code, message: f.message, ...(f.reasons ? { reasons: f.reasons } : {}) },
  });
}

function send<T>(reply: HttpReply, r: RegistryResult<T>, status = 200): HttpReply {
  return r.ok ? reply.code(status).send(r.value) : sendFailure(reply, r);
}

export interface RegistryRouteOptions {
  readonly registry: Registry;
  readonly auth: RegistryAuth;
  /** Largest push body in bytes (413 past it, before reading when Content-Length says so). Default 256 MiB. */
  readonly maxBundleBytes?: number;
}

// Route schemas. Names, versions and aliases stay plain strings here: the registry checks them and
// answers its own EDGELOOP_ERR_REGISTRY_BAD_NAME, which clients already branch on.
const str = { type: 'string' } as const;
const modelParams = { type: 'object', properties: { name: str }, required: ['name'] } as const;
const versionParams = {
  type: 'object',
  properties: { name: str, version: str },
  required: ['name', 'version'],
} as const;
const aliasParams = {
  type: 'object',
  properties: { name: str, alias: str },
  required: ['name', 'alias'],
} as const;

const aliasBody = {
  type: 'object',
  required: ['version', 'reason'],
  properties: {
    version: { type: 'string', minLength: 1 },
    expectedVersion: { type: ['string', 'null'] },
    // The history records why: at least one non-space character.
    reason: { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S' },
  },
} as const;

const auditQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { type: 'integer', minimum: 1 },
    model: str,
  },
} as const;

interface Params {
  readonly name: string;
  readonly version: string;
  readonly alias: string;
  readonly '*': string;
}

const params = (req: HttpRequest): Params => req.params as Params;
const query = (req: HttpRequest): Readonly<Record<string, unknown>> => req.query as Record<string, unknown>;

/** Registers the registry routes; mount with `app.register(registryRoutes, { prefix: '/api/v1', ... })`. */
export const registryRoutes: HttpPlugin<RegistryRouteOptions> = async (app, options) => {
  const { registry, auth } = options;
  // Who each authorised write request is, set by its onRequest hook.
  const actors = new WeakMap<HttpRequest, string>();
  const actor = (req: HttpRequest): string => actors.get(req) ?? 'anonymous';

  // onRequest hooks: they run after routing and before the body is read.
  const read = async (req: HttpRequest, reply: HttpReply): Promise<void> => {
    const a = auth.read(req.headers.authorization);
    if (!a.ok) {
      closeIfLargeBody(req, reply);
      await sendError(reply, a.status, a.code, a.message);
    }
  };
  const write =
    (action: string, target: (req: HttpRequest) => string) =>
    async (req: HttpRequest, reply: HttpReply): Promise<void> => {
      const a = auth.write(req.headers.authorization);
      if (a.ok) {
        actors.set(req, a.actor);
        return;
      }
      registry.auditRejected(a.actor, action, target(req), a.code, `HTTP ${a.status}: ${a.message}`);
      closeIfLargeBody(req, reply);
      await sendError(reply, a.status, a.code, a.message);
    };

  app.get('/models', { onRequest: read }, () => ({ models: registry.listModels() }));

  app.get('/models/:name/versions', { onRequest: read, schema: { params: modelParams } }, (req, reply) => {
    const r = registry.listVersions(params(req).name);
    return r.ok
      ? reply.send({ versions: r.value.map(({ manifest: _m, ...rest }) => rest) })
      : sendFailure(reply, r);
  });

  // The push takes raw bytes whatever the Content-Type, in a child context of its own.
  await app.register((raw: HttpApp, _opts, done) => {
    acceptRawBodies(raw);
    raw.post(
      '/models/:name/versions',
      {
        bodyLimit: options.maxBundleBytes ?? 256 * 1024 * 1024,
        schema: { params: modelParams, querystring: { type: 'object', properties: { version: str } } },
        onRequest: write(
          'push',
          (req) => `${params(req).name}@${(req.query as { version?: string }).version ?? '?'}`,
        ),
      },
      async (req, reply) => {
        const name = params(req).name;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        // The version is the bundle manifest's; ?version= makes the push fail unless they agree.
        const wanted = query(req).version as string | undefined;
        const r = await registry.push(name, body, actor(req), wanted);
        if (!r.ok) return sendFailure(reply, r);
        return reply
          .code(r.value.created ? 201 : 200)
          .header('location', `${routePrefix(req)}/models/${name}/versions/${r.value.version.version}`)
          .send({
            created: r.value.created,
            ...r.value.version,
            certification: r.value.certification ?? null,
          });
      },
    );
    done();
  });

  app.get(
    '/models/:name/versions/:version',
    { onRequest: read, schema: { params: versionParams } },
    (req, reply) => send(reply, registry.getVersion(params(req).name, params(req).version)),
  );

  app.get(
    '/models/:name/versions/:version/lineage',
    { onRequest: read, schema: { params: versionParams } },
    (req, reply) => send(reply, registry.lineage(params(req).name, params(req).version)),
  );

  // GET and HEAD declared together: HEAD answers from the file's metadata without opening it.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/models/:name/versions/:version/files/*',
    exposeHeadRoute: false,
    onRequest: read,
    handler: (req, reply) => {
      const p = params(req);
      const r = registry.file(p.name, p.version, p['*']);
      return r.ok ? sendFile(req, reply, r.value) : sendFailure(reply, r);
    },
  });

  app.get(
    '/models/:name/versions/:version/bundle',
    {
      onRequest: read,
      schema: {
        params: versionParams,
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['tar', 'tgz'] } } },
      },
    },
    (req, reply) => {
      const gzip = query(req).format === 'tgz';
      const { name, version } = params(req);
      // The tar is deterministic, so the ETag follows from the manifest digest: answer 304 before building.
      const found = registry.getVersion(name, version);
      if (!found.ok) return sendFailure(reply, found);
      const etag = `"${found.value.manifestDigest}.${gzip ? 'tgz' : 'tar'}"`;
      reply.headers({
        etag,
        'cache-control': 'public, max-age=31536000, immutable',
        'content-type': gzip ? 'application/gzip' : 'application/x-tar',
        'content-disposition': `attachment; filename="${name}-${version}.${gzip ? 'tar.gz' : 'tar'}"`,
      });
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).send();
      const r = registry.bundle(name, version, gzip);
      if (!r.ok) return sendFailure(reply, r);
      const bytes = r.value.bytes;
      // A view on the same memory, not a copy.
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  app.get('/models/:name/aliases', { onRequest: read, schema: { params: modelParams } }, (req, reply) => {
    const r = registry.listAliases(params(req).name);
    return r.ok ? reply.send({ aliases: r.value }) : sendFailure(reply, r);
  });

  app.get(
    '/models/:name/aliases/:alias/history',
    { onRequest: read, schema: { params: aliasParams } },
    (req, reply) => {
      const r = registry.aliasHistory(params(req).name, params(req).alias);
      return r.ok ? reply.send({ history: r.value }) : sendFailure(reply, r);
    },
  );

  app.get('/models/:name/history', { onRequest: read, schema: { params: modelParams } }, (req, reply) => {
    const r = registry.aliasHistory(params(req).name);
    return r.ok ? reply.send({ history: r.value }) : sendFailure(reply, r);
  });

  app.get('/models/:name/policy', { onRequest: read, schema: { params: modelParams } }, (req, reply) =>
    send(reply, registry.getPolicy(params(req).name)),
  );

  // Writes with JSON bodies (any Content-Type: curl and fetch send text/plain for a string body).
  await app.register((json: HttpApp, _opts, done) => {
    acceptJsonBodies(json);
    json.put(
      '/models/:name/aliases/:alias',
      {
        bodyLimit: 64 * 1024,
        schema: { params: aliasParams, body: aliasBody },
        // Validation failures reach the handler, so the refused move is audited like any other.
        attachValidation: true,
        onRequest: write('alias.move', (req) => `${params(req).name}/${params(req).alias}`),
      },
      (req, reply) => {
        const { name, alias } = params(req);
        if (req.validationError !== undefined) {
          const msg = req.validationError.message;
          registry.auditRejected(
            actor(req),
            'alias.move',
            `${name}/${alias}`,
            'EDGELOOP_ERR_HTTP_BAD_REQUEST',
            msg,
          );
          return sendError(reply, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', msg);
        }
        const body = req.body as { version: string; expectedVersion?: string | null; reason: string };
        return send(
          reply,
          registry.moveAlias({
            model: name,
            alias,
            version: body.version,
            ...(body.expectedVersion === undefined ? {} : { expectedVersion: body.expectedVersion }),
            reason: body.reason,
            actor: actor(req),
          }),
        );
      },
    );

    json.put(
      '/models/:name/policy',
      {
        bodyLimit: 64 * 1024,
        // The rules themselves are the registry's schema (gate.ts), which also audits a refusal.
        schema: { params: modelParams, body: { type: 'object' } },
        onRequest: write('policy.set', (req) => params(req).name),
      },
      (req, reply) => {
        const r = registry.setPolicy(params(req).name, req.body, actor(req));
        return r.ok ? reply.send({ policy: r.value }) : sendFailure(reply, r);
      },
    );
    done();
  });

  app.get('/audit', { onRequest: read, schema: { querystring: auditQuery } }, (req) => {
    const q = query(req) as { limit: number; before?: number; model?: string };
    const entries = registry.listAudit({
      limit: q.limit,
      ...(q.before === undefined ? {} : { beforeId: q.before }),
      ...(q.model === undefined ? {} : { model: q.model }),
    });
    const last = entries[entries.length - 1];
    return { entries, next: entries.length === q.limit && last !== undefined ? last.id : null };
  });
};

/** The mount prefix of the matched route (e.g. /api/v1), for Location headers. */
function routePrefix(req: HttpRequest): string {
  const url = req.routeOptions.url ?? '';
  return url.slice(0, url.length - '/models/:name/versions'.length);
}
