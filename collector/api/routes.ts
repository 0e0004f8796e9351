// The collector's own HTTP routes (docs/collector.md §HTTP API), a plugin on the one Fastify app the
// registry shares (collector/adapters/http.ts): probes, metrics, and the first read API. Monitors, alerts
// and drift results join here as more plugins; handlers only translate, the data comes from the store and
// ingest.

import type { HttpPlugin } from '../adapters/http.ts';
import type { DeadLetterRing } from '../ingest/dead-letters.ts';
import type { TelemetryStore } from '../storage/types.ts';
import type { CollectorMetrics } from './metrics.ts';

export interface ReadinessCheck {
  readonly name: string;
  readonly ok: () => boolean;
}

export interface CollectorRouteOptions {
  readonly store: TelemetryStore;
  readonly deadLetters: DeadLetterRing;
  readonly metrics: CollectorMetrics;
  /** /readyz answers 200 when every check passes (store open, subscriber connected). */
  readonly readiness: readonly ReadinessCheck[];
  /** Per-device sequence counts since start (Ingest.sequenceStats). */
  readonly sequenceStats: () => ReadonlyMap<string, { readonly received: number; readonly missing: number }>;
}

const deadLetterQuery = {
  type: 'object',
  properties: {
    after: { type: 'integer', minimum: 0, default: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

export const collectorRoutes: HttpPlugin<CollectorRouteOptions> = (app, o) => {
  // Liveness: the process answers. Nothing it depends on is checked, so a broker outage never makes an
  // orchestrator restart a healthy collector.
  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', (_req, reply) => {
    const checks = Object.fromEntries(o.readiness.map((c) => [c.name, c.ok()]));
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await o.metrics.text();
    return reply.header('content-type', o.metrics.contentType).send(text);
  });

  // `sequence`: since this collector started (the trackers are in memory); null for a device not heard
  // from since then.
  app.get('/api/v1/devices', () => {
    const seq = o.sequenceStats();
    return { devices: o.store.devices().map((d) => ({ ...d, sequence: seq.get(d.deviceId) ?? null })) };
  });

  app.get('/api/v1/dead-letters', { schema: { querystring: deadLetterQuery } }, (req) => {
    const q = req.query as { after: number; limit: number };
    return {
      deadLetters: o.deadLetters.list(q.after, q.limit),
      kept: o.deadLetters.size(),
      droppedFromRing: o.deadLetters.dropped(),
    };
  });
  return Promise.resolve();
};
