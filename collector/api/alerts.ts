// The alerts HTTP API (issue #9 §6 "the HTTP API: alerts listed, filtered, acknowledged"; docs/alerts.md
// §HTTP API), a plugin on the collector's Fastify app (collector/adapters/http.ts):
//
//   GET  /api/v1/alerts?state=&deviceId=&kind=&severity=&limit=   newest first
//   GET  /api/v1/alerts/:id
//   POST /api/v1/alerts/:id/ack  {"by": "<who>"}                  → the alert, acknowledged
//
// Acknowledging goes through the alert manager, so the channels hear about it. Errors are the app's
// `{ error: { code, message } }`: 400 EDGELOOP_ERR_HTTP_BAD_REQUEST for a bad query or body (schema
// validation), 404 EDGELOOP_ERR_HTTP_NOT_FOUND for an unknown alert id.

import type { WallClock } from '../../shared/platform/clock.ts';
import { acceptJsonBodies, sendError, type HttpPlugin, refuseUnknownQuery } from '../adapters/http.ts';
import { alertKinds } from '../alerts/details.ts';
import type { AlertManager } from '../alerts/manager.ts';
import { alertView } from '../alerts/payload.ts';
import type { AlertRecord, AlertState, TelemetryStore } from '../storage/types.ts';

export interface AlertRouteOptions {
  readonly manager: Pick<AlertManager, 'acknowledge' | 'liveById'>;
  readonly store: Pick<TelemetryStore, 'alerts'>;
  readonly clock: WallClock;
}

/** Rows read from the store when filtering by severity (the store filters state, device and kind only). */
const SEVERITY_SCAN_LIMIT = 10_000;
/** Rows scanned to find a resolved alert by id (the store has no lookup by id). */
const ID_SCAN_LIMIT = 1_000_000;

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] },
    deviceId: { type: 'string', minLength: 1, maxLength: 64 },
    // An enum, so a typo (`?kind=drfit`) is a 400 and never an empty list that reads as "no drift alerts".
    kind: { type: 'string', enum: [...alertKinds] },
    severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
} as const;

const ackBody = {
  type: 'object',
  properties: { by: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['by'],
  additionalProperties: false,
} as const;

interface ListQuery {
  readonly state?: AlertState;
  readonly deviceId?: string;
  readonly kind?: string;
  readonly severity?: AlertRecord['severity'];
  readonly limit: number;
}

/** An alert by id: a live one from the manager, else a stored one (the store has no lookup by id). */
export function findAlert(
  manager: Pick<AlertManager, 'liveById'>,
  store: Pick<TelemetryStore, 'alerts'>,
  id: number,
): AlertRecord | undefined {
  return manager.liveById(id) ?? store.alerts({ limit: ID_SCAN_LIMIT }).find((r) => r.id === id);
}

const notFound = (id: number): [number, 'EDGELOOP_ERR_HTTP_NOT_FOUND', string] => [
  404,
  'EDGELOOP_ERR_HTTP_NOT_FOUND',
  `no alert with id ${id}: list them with GET /api/v1/alerts`,
];

export const alertRoutes: HttpPlugin<AlertRouteOptions> = (app, o) => {
  // curl -d and fetch with a string body send text/plain: read every body as JSON.
  acceptJsonBodies(app);

  app.get(
    '/api/v1/alerts',
    {
      schema: { querystring: listQuery },
      preValidation: refuseUnknownQuery(Object.keys(listQuery.properties)),
    },
    (req) => {
      const q = req.query as ListQuery;
      const filter = {
        ...(q.state === undefined ? {} : { state: q.state }),
        ...(q.deviceId === undefined ? {} : { deviceId: q.deviceId }),
        ...(q.kind === undefined ? {} : { kind: q.kind }),
      };
      const rows =
        q.severity === undefined
          ? o.store.alerts({ ...filter, limit: q.limit })
          : o.store
              .alerts({ ...filter, limit: SEVERITY_SCAN_LIMIT })
              .filter((a) => a.severity === q.severity)
              .slice(0, q.limit);
      return { alerts: rows.map(alertView) };
    },
  );

  app.get('/api/v1/alerts/:id', { schema: { params: idParams } }, (req, reply) => {
    const { id } = req.params as { id: number };
    const a = findAlert(o.manager, o.store, id);
    if (a === undefined) return sendError(reply, ...notFound(id));
    return { alert: alertView(a) };
  });

  app.post('/api/v1/alerts/:id/ack', { schema: { params: idParams, body: ackBody } }, (req, reply) => {
    const { id } = req.params as { id: number };
    const { by } = req.body as { by: string };
    const a = o.manager.acknowledge(id, by, o.clock.nowMs());
    if (a === undefined) return sendError(reply, ...notFound(id));
    return { alert: alertView(a) };
  });
  return Promise.resolve();
};
