// The rollouts HTTP API (issue #10 §3 "Interfaces"; docs/rollouts.md §HTTP API), a plugin on the collector's
// Fastify app (collector/adapters/http.ts):
//
//   GET  /api/v1/rollouts?state=&model=&limit=     newest first
//   POST /api/v1/rollouts                          a RolloutPlanInput → 201 the rollout
//   GET  /api/v1/rollouts/:id                      plan, phases, devices, analyses, events
//   POST /api/v1/rollouts/:id/pause   {"reason"}
//   POST /api/v1/rollouts/:id/resume
//   POST /api/v1/rollouts/:id/abort   {"reason"}
//   GET  /api/v1/inventory                         which device runs which model now
//
// Writes go through `authorize` (the integrator passes the registry's write-token check); what it returns is
// the actor recorded in the rollout's events. Errors are `{ error: { code, message } }`.

import type { ErrorCode } from '../../shared/errors.ts';
import {
  acceptJsonBodies,
  sendError,
  type HttpPlugin,
  type HttpReply,
  type HttpRequest,
  refuseUnknownQuery,
} from '../adapters/http.ts';
import type { RolloutController, RolloutPlanInput, RolloutState } from '../rollout/types.ts';
import { rolloutStates } from '../rollout/types.ts';
import type { WriteAuthorizer } from './write-auth.ts';

export interface RolloutRouteOptions {
  readonly controller: Pick<
    RolloutController,
    'start' | 'pause' | 'resume' | 'abort' | 'get' | 'list' | 'inventory'
  >;
  readonly authorize: WriteAuthorizer;
}

const statusOf: Partial<Record<ErrorCode, number>> = {
  EDGELOOP_ERR_ROLLOUT_NOT_FOUND: 404,
  EDGELOOP_ERR_ROLLOUT_STATE: 409,
  EDGELOOP_ERR_ROLLOUT_CONFLICT: 409,
  EDGELOOP_ERR_ROLLOUT_INVALID_PLAN: 400,
  EDGELOOP_ERR_ROLLOUT_NO_DEVICES: 400,
};

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...rolloutStates] },
    model: { type: 'string', minLength: 1, maxLength: 128 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

const phase = {
  type: 'object',
  properties: { percent: { type: 'number' }, bakeS: { type: 'number' } },
  required: ['percent', 'bakeS'],
  additionalProperties: false,
} as const;

const planBody = {
  type: 'object',
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 128 },
    toVersion: { type: 'string', minLength: 1, maxLength: 64 },
    fromVersion: { type: 'string', minLength: 1, maxLength: 64 },
    devices: { type: 'array', items: { type: 'string' }, maxItems: 100_000 },
    canary: {
      type: 'object',
      properties: { devices: { type: 'array', items: { type: 'string' } }, percent: { type: 'number' } },
      additionalProperties: false,
    },
    canaryBakeS: { type: 'number' },
    phases: { type: 'array', items: phase, minItems: 1, maxItems: 100 },
    seed: { type: 'integer', minimum: 0 },
    deviceTimeoutS: { type: 'number' },
    analysis: { type: 'object', additionalProperties: { type: 'number' } },
    autoProceed: { type: 'boolean' },
    reason: { type: 'string', maxLength: 2000 },
    updateRequestId: { type: ['string', 'null'] },
  },
  required: ['model', 'toVersion'],
  additionalProperties: false,
} as const;

const reasonBody = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 2000 } },
  additionalProperties: false,
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^ro-[0-9]+$' } },
  required: ['id'],
} as const;

/**
 * Names an unknown field of a plan (`canaryBake`): Fastify's Ajv drops additional properties silently, so
 * a misspelled option would be ignored and its default used (STYLE.md habit 8).
 */
function refuseUnknownPlanFields(req: HttpRequest, reply: HttpReply, done: () => void): void {
  const body = req.body as Record<string, unknown> | null | undefined;
  const allowed = Object.keys(planBody.properties);
  const unknown =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? Object.keys(body).filter((k) => !allowed.includes(k))
      : [];
  const canary = body?.canary;
  if (canary !== null && typeof canary === 'object' && !Array.isArray(canary))
    unknown.push(
      ...Object.keys(canary)
        .filter((k) => k !== 'devices' && k !== 'percent')
        .map((k) => `canary.${k}`),
    );
  if (unknown.length === 0) {
    done();
    return;
  }
  void sendError(
    reply,
    400,
    'EDGELOOP_ERR_HTTP_BAD_REQUEST',
    `unknown plan field ${unknown.join(', ')} (a plan takes ${allowed.join(', ')})`,
  );
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string };

function answer(reply: HttpReply, r: Outcome, okStatus = 200): unknown {
  if (!r.ok) return sendError(reply, statusOf[r.code] ?? 400, r.code, r.message);
  return reply.code(okStatus).send({ rollout: r.value });
}

export const rolloutRoutes: HttpPlugin<RolloutRouteOptions> = (app, o) => {
  acceptJsonBodies(app);
  const c = o.controller;

  app.get(
    '/api/v1/rollouts',
    {
      schema: { querystring: listQuery },
      preValidation: refuseUnknownQuery(Object.keys(listQuery.properties)),
    },
    (req) => {
      const q = req.query as { state?: RolloutState; model?: string; limit: number };
      return { rollouts: c.list(q) };
    },
  );

  const planRoute = { schema: { body: planBody }, preValidation: refuseUnknownPlanFields };
  app.post('/api/v1/rollouts', planRoute, async (req, reply) => {
    const actor = await o.authorize(req, reply);
    if (actor === undefined) return reply;
    return answer(reply, c.start(req.body as RolloutPlanInput, actor), 201);
  });

  app.get('/api/v1/rollouts/:id', { schema: { params: idParams } }, (req, reply) => {
    const { id } = req.params as { id: string };
    const r = c.get(id);
    if (r === undefined)
      return sendError(
        reply,
        404,
        'EDGELOOP_ERR_ROLLOUT_NOT_FOUND',
        `no rollout ${id}: list them with GET /api/v1/rollouts`,
      );
    return { rollout: r };
  });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(
      `/api/v1/rollouts/:id/${action}`,
      { schema: { params: idParams, ...(action === 'resume' ? {} : { body: reasonBody }) } },
      async (req, reply) => {
        const actor = await o.authorize(req, reply);
        if (actor === undefined) return reply;
        const { id } = req.params as { id: string };
        const reason = (req.body as { reason?: string } | undefined)?.reason ?? '';
        const r =
          action === 'pause'
            ? c.pause(id, actor, reason)
            : action === 'resume'
              ? c.resume(id, actor)
              : c.abort(id, actor, reason);
        return answer(reply, r);
      },
    );
  }

  app.get('/api/v1/inventory', () => ({ devices: c.inventory() }));
  return Promise.resolve();
};
