// The collector's read API over stored telemetry (issue #9 §2, §6; docs/collector.md §Telemetry API): one
// device with its live health and drift, its windows, rollups and integrity events, monitor results, the
// fleet drift snapshot, and raw captures (kept on demand). A Fastify plugin on the one HTTP app
// (collector/adapters/http.ts); handlers only translate: the data comes from the TelemetryStore and from
// the monitors' snapshot functions, which are optional so the API also runs with monitors off.
//
// Time ranges are [from, to) in ms on the sender's clock (telemetry tsMs), as the store takes them; raw
// captures use the collector's receive time (docs/storage.md). Every refusal is `{error:{code,message}}`:
// 400 EDGELOOP_ERR_HTTP_BAD_REQUEST (bad range, unknown query parameter, unknown feature, bad device id),
// 404 EDGELOOP_ERR_HTTP_NOT_FOUND (unknown device or capture).

import { validateDeviceId } from '../../shared/mqtt/topics.ts';
import {
  acceptJsonBodies,
  sendError,
  type HttpPlugin,
  type HttpReply,
  type HttpRequest,
  refuseUnknownQuery,
} from '../adapters/http.ts';
import type { RawBlockRecord, TelemetryStore, WindowRecord } from '../storage/types.ts';

export interface TelemetryApiOptions {
  readonly store: TelemetryStore;
  /** The collector clock, ms: default ranges end or start from it. */
  readonly nowMs: () => number;
  /** Live integrity health of one device (the integrity monitor); absent or undefined: `health: null`. */
  readonly health?: (deviceId: string) => unknown;
  /** Live drift state of one device (the drift monitor); absent or undefined: `drift: null`. */
  readonly drift?: (deviceId: string) => unknown;
  /** Fleet drift snapshot for GET /api/v1/drift; absent: `{"enabled": false, "drift": null}`. */
  readonly fleetDrift?: () => unknown;
  /** Longest capture a client may request, ms. Default 24 h. */
  readonly maxCaptureMs?: number;
}

const HOUR_MS = 3_600_000;
const MAX_LIMIT = 10_000;
// A window with all 192 features is ~8 KB of JSON: 1,000 of them are ~8 MB, stringified in tens of ms on
// the thread ingest runs on (STYLE.md habit 12). Select features for longer spans.
const MAX_WINDOWS = 1_000;
const MAX_BLOCKS_PAGE = 1_000;

type Query = Readonly<Record<string, unknown>>;
type Handler = (req: HttpRequest, reply: HttpReply) => unknown;

/** A refusal thrown inside a handler and turned into an error reply by `handle`. */
class ApiRefusal extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}
const bad = (message: string): ApiRefusal => new ApiRefusal(400, message);

function handle(fn: Handler): Handler {
  return (req, reply) => {
    try {
      return fn(req, reply);
    } catch (err) {
      if (!(err instanceof ApiRefusal)) throw err;
      const code = err.status === 404 ? 'EDGELOOP_ERR_HTTP_NOT_FOUND' : 'EDGELOOP_ERR_HTTP_BAD_REQUEST';
      return sendError(reply, err.status, code, err.message);
    }
  };
}

const int = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const limit = (max: number, dflt: number) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: dflt }) as const;
const deviceParams = {
  type: 'object',
  properties: { deviceId: { type: 'string', maxLength: 256 } },
  required: ['deviceId'],
} as const;

/**
 * Querystring schema plus a check that names unknown parameters: Fastify's Ajv drops additional
 * properties silently, so `?form=` would otherwise quietly mean "no from" (STYLE.md habit 8).
 */
function routeSchema(
  properties: Readonly<Record<string, unknown>>,
  more: Readonly<Record<string, unknown>> = {},
) {
  const names = Object.keys(properties);
  return {
    schema: { querystring: { type: 'object', properties }, ...more },
    preValidation: refuseUnknownQuery(names),
  };
}

/** [from, to) from the query, with defaults; refuses an empty or inverted range. */
function range(q: Query, now: number, lookbackMs: number): { fromMs: number; toMs: number } {
  const toMs = typeof q.to === 'number' ? q.to : Number.MAX_SAFE_INTEGER;
  const fromMs = typeof q.from === 'number' ? q.from : Math.max(0, Math.min(now, toMs) - lookbackMs);
  if (fromMs >= toMs) throw bad(`from (${fromMs}) must be before to (${toMs}): the range is [from, to)`);
  return { fromMs, toMs };
}

/** `features=a,b,c` → names; undefined when absent (all features). */
function featureList(q: Query): string[] | undefined {
  if (typeof q.features !== 'string') return undefined;
  const names = q.features
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) throw bad('features is empty: name one or more features, comma-separated');
  return [...new Set(names)];
}

/** Refuses names no returned record has (with records to judge by; an empty answer cannot tell). */
function checkFeatures(wanted: readonly string[] | undefined, layouts: Iterable<readonly string[]>): void {
  if (wanted === undefined) return;
  const known = new Set<string>();
  let any = false;
  for (const names of layouts) {
    any = true;
    for (const n of names) known.add(n);
  }
  if (!any) return;
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length > 0)
    throw bad(
      `unknown feature ${unknown.join(', ')}: this device's windows have ${known.size} features, e.g. ${[...known].slice(0, 5).join(', ')}`,
    );
}

function knownDevice(store: TelemetryStore, raw: string): string {
  const v = validateDeviceId(raw);
  if (!v.ok) throw bad(v.message);
  if (store.device(raw) === undefined)
    throw new ApiRefusal(404, `no device ${raw} has been seen (GET /api/v1/devices lists them)`);
  return raw;
}

/** NaN (a null feature in the telemetry) becomes null; a float32 keeps its exact value. */
const num = (x: number): number | null => (Number.isNaN(x) ? null : x);

function windowJson(w: WindowRecord, wanted: readonly string[] | undefined): Record<string, unknown> {
  const features: Record<string, number | null> = {};
  if (wanted === undefined) w.featureNames.forEach((n, i) => (features[n] = num(w.values[i] as number)));
  else
    for (const n of wanted) {
      const i = w.featureNames.indexOf(n);
      if (i >= 0) features[n] = num(w.values[i] as number);
    }
  const { featureNames: _names, values: _values, ...rest } = w;
  return { ...rest, features };
}

const blockJson = (b: RawBlockRecord): Record<string, unknown> => ({
  ...b,
  values: Array.from(b.values, num),
});

export const telemetryRoutes: HttpPlugin<TelemetryApiOptions> = (app, o) => {
  // `curl -d '{"fromMs":...}'` sends application/x-www-form-urlencoded and fetch with a string body
  // text/plain: read every body as JSON, as the alerts API does (it was "400 Unsupported Media Type").
  acceptJsonBodies(app);
  const { store } = o;
  const maxCaptureMs = o.maxCaptureMs ?? 24 * HOUR_MS;
  const params = (req: HttpRequest): string =>
    knownDevice(store, (req.params as { deviceId: string }).deviceId);

  app.get(
    '/api/v1/devices/:deviceId',
    routeSchema({}, { params: deviceParams }),
    handle((req) => {
      const id = params(req);
      return {
        device: store.device(id),
        deployments: store.deployments(id),
        health: o.health?.(id) ?? null,
        drift: o.drift?.(id) ?? null,
      };
    }),
  );

  app.get(
    '/api/v1/devices/:deviceId/windows',
    routeSchema(
      { from: int, to: int, limit: limit(MAX_WINDOWS, 100), features: { type: 'string' } },
      { params: deviceParams },
    ),
    handle((req) => {
      const deviceId = params(req);
      const q = req.query as Query & { limit: number };
      const r = range(q, o.nowMs(), HOUR_MS);
      const wanted = featureList(q);
      const rows = store.windows({ deviceId, ...r, limit: q.limit });
      checkFeatures(wanted, new Set(rows.map((w) => w.featureNames)));
      return {
        deviceId,
        ...r,
        truncated: rows.length === q.limit,
        windows: rows.map((w) => windowJson(w, wanted)),
      };
    }),
  );

  app.get(
    '/api/v1/devices/:deviceId/rollups',
    routeSchema(
      {
        resolution: { type: 'string', enum: ['minute', 'hour'], default: 'minute' },
        from: int,
        to: int,
        features: { type: 'string' },
      },
      { params: deviceParams },
    ),
    handle((req) => {
      const deviceId = params(req);
      const q = req.query as Query & { resolution: 'minute' | 'hour' };
      // Default spans of 360 and 168 buckets: each carries every feature's summary unless features= names some.
      const r = range(q, o.nowMs(), q.resolution === 'minute' ? 6 * HOUR_MS : 7 * 24 * HOUR_MS);
      const wanted = featureList(q);
      // All features first, so a name that exists in no bucket is told apart from one not asked for.
      const rows = store.rollups({ deviceId, resolution: q.resolution, ...r });
      checkFeatures(
        wanted,
        rows.map((b) => Object.keys(b.features)),
      );
      const rollups =
        wanted === undefined
          ? rows
          : rows.map((b) => ({
              ...b,
              features: Object.fromEntries(
                wanted.filter((n) => n in b.features).map((n) => [n, b.features[n]]),
              ),
            }));
      // JSON has no Infinity: min/max of an empty summary (count 0) come out as null.
      return { deviceId, resolution: q.resolution, ...r, rollups };
    }),
  );

  app.get(
    '/api/v1/devices/:deviceId/integrity-events',
    routeSchema({ from: int, to: int, limit: limit(MAX_LIMIT, 1000) }, { params: deviceParams }),
    handle((req) => {
      const deviceId = params(req);
      const q = req.query as Query & { limit: number };
      const r = range(q, o.nowMs(), 24 * HOUR_MS);
      const events = store.integrityEvents({ deviceId, ...r, limit: q.limit });
      return { deviceId, ...r, truncated: events.length === q.limit, events };
    }),
  );

  app.get(
    '/api/v1/monitor-results',
    routeSchema({
      deviceId: { type: 'string', maxLength: 256 },
      monitor: { type: 'string', minLength: 1, maxLength: 128 },
      from: int,
      to: int,
      limit: limit(MAX_LIMIT, 1000),
    }),
    handle((req) => {
      const q = req.query as Query & { limit: number; monitor?: string };
      // The store reads results per device (TelemetryStore.monitorResults); fleet-level rows are not listed.
      if (typeof q.deviceId !== 'string') throw bad('deviceId is required (GET /api/v1/devices lists them)');
      const deviceId = knownDevice(store, q.deviceId);
      const r = range(q, o.nowMs(), 24 * HOUR_MS);
      const results = store.monitorResults({
        deviceId,
        ...r,
        limit: q.limit,
        ...(q.monitor === undefined ? {} : { monitor: q.monitor }),
      });
      return { deviceId, ...r, truncated: results.length === q.limit, results };
    }),
  );

  // Monitors off is a configuration, not an outage: 200 with enabled false, so probes and dashboards
  // never read it as a failing collector (docs/collector.md §Telemetry API).
  app.get(
    '/api/v1/drift',
    routeSchema({}),
    handle(() =>
      o.fleetDrift === undefined ? { enabled: false, drift: null } : { enabled: true, drift: o.fleetDrift() },
    ),
  );

  app.post(
    '/api/v1/devices/:deviceId/captures',
    routeSchema(
      {},
      {
        params: deviceParams,
        body: {
          type: 'object',
          properties: { fromMs: int, toMs: int, note: { type: 'string', maxLength: 1000, default: '' } },
          required: ['fromMs', 'toMs'],
        },
      },
    ),
    handle((req, reply) => {
      const deviceId = params(req);
      const b = req.body as { fromMs: number; toMs: number; note: string };
      if (b.fromMs >= b.toMs) throw bad(`fromMs (${b.fromMs}) must be before toMs (${b.toMs})`);
      if (b.toMs - b.fromMs > maxCaptureMs)
        throw bad(`a capture spans at most ${maxCaptureMs} ms (asked ${b.toMs - b.fromMs}); request several`);
      const capture = store.requestCapture(deviceId, b.fromMs, b.toMs, o.nowMs(), b.note);
      return reply.code(201).header('location', `/api/v1/captures/${capture.id}`).send({ capture });
    }),
  );

  app.get(
    '/api/v1/captures',
    routeSchema({ deviceId: { type: 'string', maxLength: 256 } }),
    handle((req) => {
      const q = req.query as { deviceId?: string };
      return {
        captures:
          q.deviceId === undefined ? store.captures() : store.captures(knownDevice(store, q.deviceId)),
      };
    }),
  );

  const captureParams = {
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 } },
    required: ['id'],
  };
  const findCapture = (req: HttpRequest) => {
    const id = (req.params as { id: number }).id;
    const capture = store.captures().find((c) => c.id === id);
    if (capture === undefined)
      throw new ApiRefusal(404, `no capture ${id} (GET /api/v1/captures lists them)`);
    return capture;
  };

  // Blocks come in pages (offset, limit) of JSON numbers: one 10 s accelerometer block is ~3 KB of JSON,
  // so a page stays a few MB at most; the capture's rows are read once per page.
  app.get(
    '/api/v1/captures/:id',
    routeSchema(
      { offset: { ...int, default: 0 }, limit: limit(MAX_BLOCKS_PAGE, 100) },
      { params: captureParams },
    ),
    handle((req) => {
      const capture = findCapture(req);
      const q = req.query as { offset: number; limit: number };
      const all = store.rawBlocks(capture.id);
      const end = Math.min(all.length, q.offset + q.limit);
      return {
        capture,
        totalBlocks: all.length,
        offset: q.offset,
        nextOffset: end < all.length ? end : null,
        blocks: all.slice(q.offset, end).map(blockJson),
      };
    }),
  );

  app.delete(
    '/api/v1/captures/:id',
    routeSchema({}, { params: captureParams }),
    handle((req, reply) => {
      const capture = findCapture(req);
      store.deleteCapture(capture.id);
      return reply.code(204).send();
    }),
  );
  return Promise.resolve();
};
