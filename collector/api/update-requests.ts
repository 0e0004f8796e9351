// The model-update requests' HTTP API (issue #10 §1 "Update requests ... appear in the API";
// docs/update-requests.md §HTTP API), a plugin on the collector's Fastify app:
//
//   GET  /api/v1/update-requests?state=&model=&limit=     newest first
//   GET  /api/v1/update-requests/:id                      one request with its decision and history
//   POST /api/v1/update-requests/:id/dismiss  {"reason"}  ends it (authorize)
//   POST /api/v1/update-requests/:id/approve  {}          starts the rollout it proposed (authorize)
//
// Errors are the app's `{ error: { code, message } }`: 400 EDGELOOP_ERR_HTTP_BAD_REQUEST for a bad query
// (an unknown parameter included) or body, 404 EDGELOOP_ERR_HTTP_NOT_FOUND for an unknown id, 409 with the
// request's own code when its state does not allow the write, and what `authorize` sends when it refuses.

import type { ErrorCode } from '../../shared/errors.ts';
import {
  acceptJsonBodies,
  sendError,
  type HttpPlugin,
  type HttpReply,
  refuseUnknownQuery,
} from '../adapters/http.ts';
import type { UpdateRequests } from '../updates/requests.ts';
import { updateRequestStates } from '../updates/types.ts';
import type { WriteAuthorizer } from './write-auth.ts';

export interface UpdateRequestRouteOptions {
  readonly requests: Pick<UpdateRequests, 'list' | 'get' | 'dismiss' | 'approve'>;
  /** The write check (the registry's write token in the collector). */
  readonly authorize: WriteAuthorizer;
}

const listQuery = {
  type: 'object',
  properties: {
    // An enum, so a typo (`?state=opne`) is a 400, never an empty list that reads as "no requests".
    state: { type: 'string', enum: [...updateRequestStates] },
    model: { type: 'string', minLength: 1, maxLength: 128 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['id'],
} as const;

const dismissBody = {
  type: 'object',
  properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } },
  required: ['reason'],
  additionalProperties: false,
} as const;

const approveBody = {
  type: ['object', 'null'],
  properties: {},
  additionalProperties: false,
} as const;

const notFound = (id: string): [number, 'EDGELOOP_ERR_HTTP_NOT_FOUND', string] => [
  404,
  'EDGELOOP_ERR_HTTP_NOT_FOUND',
  `no update request with id ${id}: list them with GET /api/v1/update-requests`,
];

function failure(reply: HttpReply, id: string, r: { code: ErrorCode; message: string }): HttpReply {
  if (r.code === 'EDGELOOP_ERR_UPDATE_NOT_FOUND') return sendError(reply, ...notFound(id));
  return sendError(reply, 409, r.code, r.message);
}

export const updateRequestRoutes: HttpPlugin<UpdateRequestRouteOptions> = (app, o) => {
  acceptJsonBodies(app);

  app.get(
    '/api/v1/update-requests',
    {
      schema: { querystring: listQuery },
      preValidation: refuseUnknownQuery(Object.keys(listQuery.properties)),
    },
    (req) => {
      const q = req.query as { state?: string; model?: string; limit: number };
      return { updateRequests: o.requests.list(q) };
    },
  );

  app.get('/api/v1/update-requests/:id', { schema: { params: idParams } }, (req, reply) => {
    const { id } = req.params as { id: string };
    const r = o.requests.get(id);
    if (r === undefined) return sendError(reply, ...notFound(id));
    return { updateRequest: r };
  });

  app.post(
    '/api/v1/update-requests/:id/dismiss',
    { schema: { params: idParams, body: dismissBody } },
    async (req, reply) => {
      const actor = await o.authorize(req, reply);
      if (actor === undefined) return reply;
      const { id } = req.params as { id: string };
      const { reason } = req.body as { reason: string };
      const r = o.requests.dismiss(id, actor, reason);
      if (!r.ok) return failure(reply, id, r);
      return { updateRequest: r.value };
    },
  );

  app.post(
    '/api/v1/update-requests/:id/approve',
    { schema: { params: idParams, body: approveBody } },
    async (req, reply) => {
      const actor = await o.authorize(req, reply);
      if (actor === undefined) return reply;
      const { id } = req.params as { id: string };
      const r = o.requests.approve(id, actor);
      if (!r.ok) return failure(reply, id, r);
      return { updateRequest: r.value };
    },
  );
  return Promise.resolve();
};
