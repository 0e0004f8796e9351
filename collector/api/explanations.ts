// The explanations HTTP API (docs/explanations.md §HTTP API), a plugin on the collector's Fastify app.
// Everything is computed on request from stored windows through the model in the registry:
//
//   GET /api/v1/devices/:id/windows/:tsMs/explanation?top=5       one window
//   GET /api/v1/devices/:id/contributions?from=&to=&limit=120      group contributions over time
//   GET /api/v1/alerts/impact                                      open drift alerts, highest impact first
//   GET /api/v1/alerts/:id/explanation                             an alert's windows, top features, impact
//   GET /api/v1/devices/:id/performance?from=&to=&bucketMs=        estimated (CBPE) and realised
//   GET /api/v1/performance?from=&to=&bucketMs=                    the same over the fleet
//
// Errors: 404 EDGELOOP_ERR_HTTP_NOT_FOUND for an unknown device, window or alert; 422
// EDGELOOP_ERR_EXPLAIN_INPUT when the window cannot be fed to its model; 409
// EDGELOOP_ERR_EXPLAIN_UNAVAILABLE when its model is not in the registry; 400 for a bad query.

import type { WallClock } from '../../shared/platform/clock.ts';
import type { Failure } from '../../shared/errors.ts';
import { refuseUnknownQuery, sendError, type HttpPlugin, type HttpReply } from '../adapters/http.ts';
import type { ExplainService } from '../explain/service.ts';
import type { AlertRecord, TelemetryStore } from '../storage/types.ts';

export interface ExplanationRouteOptions {
  readonly service: ExplainService;
  readonly store: Pick<TelemetryStore, 'device' | 'windows'>;
  readonly alert: (id: number) => AlertRecord | undefined;
  readonly clock: WallClock;
}

const int = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const HOUR_MS = 3_600_000;

function query(properties: Readonly<Record<string, unknown>>) {
  return {
    schema: { querystring: { type: 'object', properties } },
    preValidation: refuseUnknownQuery(Object.keys(properties)),
  };
}

function failed(reply: HttpReply, f: Failure) {
  const status = f.code === 'EDGELOOP_ERR_EXPLAIN_UNAVAILABLE' ? 409 : 422;
  return sendError(reply, status, f.code, f.message);
}

const rangeProps = { from: int, to: int } as const;

export const explanationRoutes: HttpPlugin<ExplanationRouteOptions> = (app, o) => {
  const range = (q: { from?: number; to?: number }, lookbackMs: number) => {
    const toMs = q.to ?? o.clock.nowMs() + 1;
    const fromMs = q.from ?? Math.max(0, toMs - lookbackMs);
    return { fromMs, toMs };
  };
  const unknownDevice = (reply: HttpReply, id: string) =>
    o.store.device(id) === undefined
      ? sendError(
          reply,
          404,
          'EDGELOOP_ERR_HTTP_NOT_FOUND',
          `no device ${id} has been seen (GET /api/v1/devices lists them)`,
        )
      : undefined;

  app.get(
    '/api/v1/devices/:id/windows/:tsMs/explanation',
    {
      preValidation: refuseUnknownQuery(['top']),
      schema: {
        params: {
          type: 'object',
          properties: { id: { type: 'string', minLength: 1, maxLength: 64 }, tsMs: int },
          required: ['id', 'tsMs'],
        },
        querystring: {
          type: 'object',
          properties: { top: { type: 'integer', minimum: 0, maximum: 100, default: 5 } },
        },
      },
    },
    async (req, reply) => {
      const { id, tsMs } = req.params as { id: string; tsMs: number };
      const { top } = req.query as { top: number };
      const gone = unknownDevice(reply, id);
      if (gone !== undefined) return gone;
      if (o.store.windows({ deviceId: id, fromMs: tsMs, toMs: tsMs + 1, limit: 1 }).length === 0)
        return sendError(
          reply,
          404,
          'EDGELOOP_ERR_HTTP_NOT_FOUND',
          `no stored window of ${id} at tsMs ${tsMs} (GET /api/v1/devices/${id}/windows lists them)`,
        );
      const r = await o.service.window(id, tsMs, top);
      return r.ok ? { explanation: r.value } : failed(reply, r);
    },
  );

  app.get(
    '/api/v1/devices/:id/contributions',
    query({ ...rangeProps, limit: { type: 'integer', minimum: 1, maximum: 300, default: 120 } }),
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const q = req.query as { from?: number; to?: number; limit: number };
      const gone = unknownDevice(reply, id);
      if (gone !== undefined) return gone;
      const { fromMs, toMs } = range(q, HOUR_MS);
      if (fromMs >= toMs)
        return sendError(reply, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'from must be before to');
      const r = await o.service.contributions(id, fromMs, toMs, q.limit);
      return r.ok ? { deviceId: id, fromMs, toMs, ...r.value } : failed(reply, r);
    },
  );

  app.get('/api/v1/alerts/impact', query({}), async () => ({
    alerts: await o.service.rankedImpacts(),
  }));

  app.get(
    '/api/v1/alerts/:id/explanation',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: number };
      if (o.alert(id) === undefined)
        return sendError(
          reply,
          404,
          'EDGELOOP_ERR_HTTP_NOT_FOUND',
          `no alert with id ${id}: list them with GET /api/v1/alerts`,
        );
      const r = await o.service.alert(id);
      return r.ok ? { explanation: r.value } : failed(reply, r);
    },
  );

  const perfProps = {
    ...rangeProps,
    bucketMs: { type: 'integer', minimum: 1000, maximum: 7 * 24 * HOUR_MS, default: 5 * 60_000 },
  } as const;
  const perf = async (
    reply: HttpReply,
    id: string | null,
    q: { from?: number; to?: number; bucketMs: number },
  ) => {
    const { fromMs, toMs } = range(q, 6 * HOUR_MS);
    if (fromMs >= toMs)
      return sendError(reply, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', 'from must be before to');
    if ((toMs - fromMs) / q.bucketMs > 10_000)
      return sendError(
        reply,
        400,
        'EDGELOOP_ERR_HTTP_BAD_REQUEST',
        'more than 10,000 buckets: raise bucketMs',
      );
    const r = await o.service.performance(id, fromMs, toMs, q.bucketMs);
    return r.ok ? { fromMs, toMs, ...r.value } : failed(reply, r);
  };
  app.get('/api/v1/devices/:id/performance', query(perfProps), async (req, reply) => {
    const { id } = req.params as { id: string };
    const gone = unknownDevice(reply, id);
    if (gone !== undefined) return gone;
    return perf(reply, id, req.query as { from?: number; to?: number; bucketMs: number });
  });
  app.get('/api/v1/performance', query(perfProps), (req, reply) =>
    perf(reply, null, req.query as { from?: number; to?: number; bucketMs: number }),
  );
  return Promise.resolve();
};
