// The training API (issue 10 §2; docs/retraining.md §HTTP API), a plugin on the collector's Fastify app:
//
//   GET  /api/v1/training-jobs?state=&limit=        newest first
//   POST /api/v1/training-jobs                      {model:{name,version}, devices, fromMs, toMs, ...} → 202
//   GET  /api/v1/training-jobs/:id
//   POST /api/v1/training-jobs/:id/cancel
//   GET  /api/v1/labels?deviceId=&from=&to=&limit=  operator labels, oldest first
//   POST /api/v1/labels                             {deviceId, state, fromMs, toMs, note?} → 201
//   DELETE /api/v1/labels/:id
//
// Writes go through `authorize` (the registry's write-token check in the collector); it returns the
// actor, or undefined once it has sent the refusal. Errors are `{error:{code,message}}`: 400
// EDGELOOP_ERR_HTTP_BAD_REQUEST (schema, unknown query parameter), 404 EDGELOOP_ERR_HTTP_NOT_FOUND, 409
// EDGELOOP_ERR_TRAINING_JOB_STATE (cancel of an ended job), 422 EDGELOOP_ERR_TRAINING_JOB_INVALID and
// EDGELOOP_ERR_LABEL_INVALID, 503 EDGELOOP_ERR_TRAINING_INTERRUPTED (the collector is stopping).

import type { ErrorCode } from '../../shared/errors.ts';
import {
  acceptJsonBodies,
  sendError,
  type HttpPlugin,
  type HttpReply,
  type HttpRequest,
  refuseUnknownQuery,
} from '../adapters/http.ts';
import type { LabelStore } from '../retrain/labels.ts';
import {
  trainingJobStates,
  type RetrainInput,
  type Retraining,
  type TrainingJobState,
} from '../retrain/types.ts';
import type { WriteAuthorizer } from './write-auth.ts';

export interface TrainingRouteOptions {
  readonly retraining: Retraining;
  readonly labels: LabelStore;
  /** The write check (the registry's write token in the collector). */
  readonly authorize: WriteAuthorizer;
  /** Collector clock, ms (label creation time). Default Date.now. */
  readonly nowMs?: () => number;
}

const int = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const deviceId = { type: 'string', minLength: 1, maxLength: 64 } as const;

function strictQuery(properties: Readonly<Record<string, unknown>>) {
  const names = Object.keys(properties);
  return {
    schema: { querystring: { type: 'object', properties } },
    preValidation: refuseUnknownQuery(names),
  };
}

type Schema = { readonly type?: unknown; readonly properties?: Readonly<Record<string, Schema>> };

/** Names of body fields the schema does not know, at any depth (`sources.pseudolabels`). */
function unknownFields(value: unknown, schema: Schema, path = ''): string[] {
  if (schema.properties === undefined || typeof value !== 'object' || value === null || Array.isArray(value))
    return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const sub = schema.properties[k];
    if (sub === undefined) out.push(`${path}${k}`);
    else out.push(...unknownFields(v, sub, `${path}${k}.`));
  }
  return out;
}

/**
 * Body schema plus a check that names unknown fields: Fastify's Ajv removes additional properties
 * silently, so `{"pseudolabels": true}` would quietly train without pseudo-labels (STYLE.md habit 8).
 */
function strictBody(body: Schema & Readonly<Record<string, unknown>>) {
  return {
    schema: { body },
    preValidation: (req: HttpRequest, reply: HttpReply, done: () => void): void => {
      const unknown = unknownFields(req.body, body);
      if (unknown.length > 0) {
        void sendError(
          reply,
          400,
          'EDGELOOP_ERR_HTTP_BAD_REQUEST',
          `unknown field ${unknown.join(', ')} (known: ${Object.keys(body.properties ?? {}).join(', ')})`,
        );
        return;
      }
      done();
    },
  };
}

const jobBody = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'devices', 'fromMs', 'toMs'],
  properties: {
    requestId: { type: ['string', 'null'], maxLength: 64 },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 128 },
        version: { type: 'string', minLength: 1, maxLength: 64 },
      },
    },
    devices: { type: 'array', minItems: 1, maxItems: 1000, items: deviceId },
    fromMs: int,
    toMs: int,
    sources: {
      type: 'object',
      additionalProperties: false,
      properties: {
        original: { type: 'boolean' },
        captured: { type: 'boolean' },
        operatorLabels: { type: 'boolean' },
        labUnderConditions: { type: 'boolean' },
        pseudoLabels: { type: 'boolean' },
      },
    },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    version: { type: 'string', minLength: 5, maxLength: 64 },
    trials: { type: 'integer', minimum: 1, maximum: 100 },
    conditionsLab: {
      type: 'object',
      additionalProperties: false,
      properties: {
        devicesPerState: { type: 'integer', minimum: 1, maximum: 100 },
        secondsPerDevice: { type: 'integer', minimum: 1, maximum: 3600 },
      },
    },
    shuffleLabels: { type: 'boolean' },
  },
} as const;

const labelBody = {
  type: 'object',
  additionalProperties: false,
  required: ['deviceId', 'state', 'fromMs', 'toMs'],
  properties: {
    deviceId,
    state: { type: 'string', minLength: 1, maxLength: 64 },
    fromMs: int,
    toMs: int,
    note: { type: 'string', maxLength: 1000 },
  },
} as const;

const jobParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^tj-[1-9][0-9]{0,14}$' } },
  required: ['id'],
} as const;
const labelParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^lb-[1-9][0-9]{0,14}$' } },
  required: ['id'],
} as const;

const statusOf = (code: ErrorCode): number =>
  code === 'EDGELOOP_ERR_HTTP_NOT_FOUND'
    ? 404
    : code === 'EDGELOOP_ERR_TRAINING_JOB_STATE'
      ? 409
      : code === 'EDGELOOP_ERR_TRAINING_INTERRUPTED'
        ? 503
        : 422;

export const trainingRoutes: HttpPlugin<TrainingRouteOptions> = (app, o) => {
  acceptJsonBodies(app);
  const nowMs = o.nowMs ?? Date.now;

  app.get(
    '/api/v1/training-jobs',
    strictQuery({
      state: { type: 'string', enum: [...trainingJobStates] },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    }),
    (req) => {
      const q = req.query as { state?: TrainingJobState; limit: number };
      return {
        jobs: o.retraining.list({ limit: q.limit, ...(q.state === undefined ? {} : { state: q.state }) }),
      };
    },
  );

  app.post('/api/v1/training-jobs', strictBody(jobBody), async (req, reply) => {
    const actor = await o.authorize(req, reply);
    if (actor === undefined) return reply;
    const body = req.body as RetrainInput & { requestId?: string | null };
    const r = o.retraining.open({ ...body, requestId: body.requestId ?? null }, actor);
    if (!r.ok) return sendError(reply, statusOf(r.code), r.code, r.message);
    return reply.code(202).send({ job: r.value });
  });

  app.get('/api/v1/training-jobs/:id', { schema: { params: jobParams } }, (req, reply) => {
    const { id } = req.params as { id: string };
    const j = o.retraining.get(id);
    if (j === undefined)
      return sendError(
        reply,
        404,
        'EDGELOOP_ERR_HTTP_NOT_FOUND',
        `no training job ${id}: list them with GET /api/v1/training-jobs`,
      );
    return { job: j };
  });

  app.post('/api/v1/training-jobs/:id/cancel', { schema: { params: jobParams } }, async (req, reply) => {
    const actor = await o.authorize(req, reply);
    if (actor === undefined) return reply;
    const { id } = req.params as { id: string };
    const r = o.retraining.cancel(id, actor);
    if (!r.ok) return sendError(reply, statusOf(r.code), r.code, r.message);
    return { job: r.value };
  });

  app.get(
    '/api/v1/labels',
    strictQuery({
      deviceId,
      from: int,
      to: int,
      limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
    }),
    (req) => {
      const q = req.query as { deviceId?: string; from?: number; to?: number; limit: number };
      return {
        labels: o.labels.list({
          limit: q.limit,
          ...(q.deviceId === undefined ? {} : { deviceId: q.deviceId }),
          ...(q.from === undefined ? {} : { fromMs: q.from }),
          ...(q.to === undefined ? {} : { toMs: q.to }),
        }),
      };
    },
  );

  app.post('/api/v1/labels', strictBody(labelBody), async (req, reply) => {
    const actor = await o.authorize(req, reply);
    if (actor === undefined) return reply;
    const r = o.labels.add(req.body as Parameters<LabelStore['add']>[0], actor, nowMs());
    if (!r.ok) return sendError(reply, 422, r.code, r.message);
    return reply.code(201).send({ label: r.value });
  });

  app.delete('/api/v1/labels/:id', { schema: { params: labelParams } }, async (req, reply) => {
    const actor = await o.authorize(req, reply);
    if (actor === undefined) return reply;
    const { id } = req.params as { id: string };
    if (!o.labels.remove(id)) return sendError(reply, 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND', `no label ${id}`);
    return { deleted: id };
  });
  return Promise.resolve();
};
