// The dashboard (docs/dashboard.md): the page at `/`, its assets under /ui/ (collector/dashboard/public,
// shipped in the package), the vendored libraries it imports (preact, htm, uPlot, resolved from
// node_modules, so nothing comes from a CDN), the fleet table's rows and the live feed.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEventStream, serveStatic, type HttpPlugin } from '../adapters/http.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import { createChangeFeed, type FeedChannel } from './feed.ts';
import { fleetRows, type FleetSources } from './fleet.ts';
import { distribution } from './distribution.ts';
import type { ReferenceSource } from '../monitor/types.ts';
import type { TelemetryStore } from '../storage/types.ts';
import { sendError } from '../adapters/http.ts';

/** Windows behind the "current" side of a distribution: the drift monitor's ring holds 300. */
const CURRENT_WINDOWS = 300;
/** Device time searched for them: 30 min holds 300 windows at one every 6 s. */
const CURRENT_SPAN_MS = 30 * 60_000;

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const require = createRequire(import.meta.url);

/** The files the page imports by name (its import map), and where each package keeps its ES module. */
function vendorFiles(): ReadonlyMap<string, { readonly path: string; readonly type: string }> {
  const js = 'text/javascript; charset=utf-8';
  return new Map([
    ['preact.mjs', { path: require.resolve('preact'), type: js }],
    ['hooks.mjs', { path: require.resolve('preact/hooks'), type: js }],
    // htm's `require` entry is CommonJS; its ES module sits next to it.
    ['htm.mjs', { path: join(dirname(require.resolve('htm')), 'htm.mjs'), type: js }],
    ['uPlot.esm.js', { path: require.resolve('uplot/dist/uPlot.esm.js'), type: js }],
    ['uPlot.min.css', { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

export interface DashboardRouteOptions {
  readonly fleet: FleetSources;
  /** What the live feed follows (channels.ts). */
  readonly channels: readonly FeedChannel[];
  readonly clock: Clock;
  readonly store: TelemetryStore;
  readonly references: ReferenceSource;
  /** Feed pass period, ms. Default 1000. */
  readonly feedIntervalMs?: number;
  readonly onError?: (err: unknown) => void;
  /** Which optional parts are mounted, so the page asks only for APIs that exist. */
  readonly mounted: { readonly registry: boolean; readonly loop: boolean; readonly retraining: boolean };
}

export const dashboardRoutes: HttpPlugin<DashboardRouteOptions> = async (app, o) => {
  const index = readFileSync(join(PUBLIC_DIR, 'index.html'));
  const vendor = vendorFiles();
  const cache = new Map<string, Buffer>();
  const feed = createChangeFeed({
    channels: o.channels,
    clock: o.clock,
    lastSeen: () => Object.fromEntries(o.fleet.devices().map((d) => [d.deviceId, d.lastSeenMs])),
    ...(o.feedIntervalMs === undefined ? {} : { intervalMs: o.feedIntervalMs }),
    ...(o.onError === undefined ? {} : { onError: o.onError }),
  });
  // Hijacked event streams are not Fastify's to close: end them first, or app.close() waits for them.
  app.addHook('preClose', (done) => {
    feed.close();
    done();
  });

  // The views are client-side routes after `#`, so `/` is the only page.
  app.get('/', (_req, reply) =>
    reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index),
  );
  await serveStatic(app, { root: PUBLIC_DIR, prefix: '/ui/' });
  app.get('/vendor/:file', (req, reply) => {
    const name = (req.params as { file: string }).file;
    const f = vendor.get(name);
    if (f === undefined) {
      reply.callNotFound();
      return reply;
    }
    let body = cache.get(name);
    if (body === undefined) {
      body = readFileSync(f.path);
      cache.set(name, body);
    }
    return reply.header('cache-control', 'public, max-age=86400').type(f.type).send(body);
  });

  app.get('/api/v1/fleet', () => ({
    atMs: o.clock.nowMs(),
    mounted: o.mounted,
    devices: fleetRows(o.fleet),
  }));

  app.get(
    '/api/v1/devices/:deviceId/distribution',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { feature: { type: 'string', minLength: 1, maxLength: 128 } },
          required: ['feature'],
          additionalProperties: false,
        },
      },
    },
    (req, reply) => {
      const { deviceId } = req.params as { deviceId: string };
      const { feature } = req.query as { feature: string };
      const device = o.store.device(deviceId);
      if (device === undefined)
        return sendError(
          reply,
          404,
          'EDGELOOP_ERR_HTTP_NOT_FOUND',
          `no device ${deviceId} (GET /api/v1/fleet)`,
        );
      // The store lists oldest first: read the span before the device's newest window, keep the last ones.
      const newest = o.store.latestWindows().find((w) => w.deviceId === deviceId)?.tsMs ?? o.clock.nowMs();
      const rows = o.store
        .windows({ deviceId, fromMs: newest - CURRENT_SPAN_MS, toMs: newest + 1 })
        .slice(-CURRENT_WINDOWS);
      const values = rows.flatMap((w) => {
        const i = w.featureNames.indexOf(feature);
        return i < 0 ? [] : [w.values[i] as number];
      });
      const profile = device.model === null ? undefined : o.references.reference(device.model);
      if (values.length === 0 && profile?.features.some((f) => f.name === feature) !== true)
        return sendError(reply, 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', `no feature ${feature} on ${deviceId}`);
      return { deviceId, model: device.model, ...distribution(feature, profile, values) };
    },
  );

  app.get('/api/v1/events', (_req, reply) => {
    const stream = openEventStream(reply, () => undefined);
    feed.add(stream);
  });
};
