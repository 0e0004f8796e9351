// Shared pieces of the collector alert tests (test/unit/collector-alerts-*.test.ts,
// test/integration/collector-alertmanager.test.ts): observations, a real SQLite store in a temp dir, and
// a recorder of alert events.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { AlertEvent, DeliveryObserver } from '../../collector/alerts/types.ts';
import type { Observation } from '../../collector/monitor/types.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import type { TelemetryStore } from '../../collector/storage/types.ts';

export const T0 = Date.UTC(2026, 0, 1);

/** A drift observation of accel.x on dev-1, active unless told otherwise. */
export function obs(over: Partial<Observation> = {}): Observation {
  return {
    kind: 'drift',
    deviceId: 'dev-1',
    subject: 'accel.x',
    check: 'drift.model_reference',
    active: true,
    severity: 'warning',
    atMs: T0,
    sinceMs: T0 - 600_000,
    window: { fromMs: T0 - 300_000, toMs: T0 },
    summary: 'accel.x drifted 2.4σ (0.31 g) from the model reference',
    evidence: [
      {
        method: 'wasserstein',
        statistic: 0.42,
        threshold: 0.2,
        thresholdOrigin: 'calibrated_p99',
        effectSigma: 2.4,
        effectPhysical: 0.31,
        unit: 'g',
        detail: { n: 512 },
      },
    ],
    reference: { basis: 'model_reference', model: { name: 'pump-anomaly', version: '1.2.0' } },
    cause: 'calibration_drift',
    action: { kind: 'recalibrate_sensor', automatic: false },
    ...over,
  };
}

export interface StoreHandle {
  readonly path: string;
  store: TelemetryStore;
  reopen(): TelemetryStore;
}

/** A real SQLite store in a temp dir, closed and removed after the test. */
export function tempStore(t: TestContext): StoreHandle {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-alerts-'));
  const path = join(dir, 'collector.db');
  const h: StoreHandle = {
    path,
    store: openSqliteTelemetryStore(path),
    reopen() {
      h.store.close();
      h.store = openSqliteTelemetryStore(path);
      return h.store;
    },
  };
  t.after(() => {
    h.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return h;
}

export function recorder(): { readonly events: AlertEvent[]; readonly notify: (e: AlertEvent) => void } {
  const events: AlertEvent[] = [];
  return { events, notify: (e) => events.push(e) };
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Receiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1:0 that records every request; `respond` returns the status to answer,
 * or 'hang' to never answer (a receiver that times out).
 */
export async function startReceiver(
  t: TestContext,
  respond: (r: ReceivedRequest, index: number) => number | 'hang' = () => 200,
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      const status = respond(r, requests.length - 1);
      if (status === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
    return closed;
  };
  t.after(close);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}

/** A URL nothing listens on (a receiver that is down). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return `http://127.0.0.1:${port}/hook`;
}

export interface CountingObserver extends DeliveryObserver {
  readonly counts: Record<string, number>;
}

/** Counts outcomes as `sent:webhook`, `failed:webhook`, `dropped:webhook:queue_full`. */
export function countingObserver(): CountingObserver {
  const counts: Record<string, number> = {};
  const inc = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  return {
    counts,
    sent: (c) => {
      inc(`sent:${c}`);
    },
    failed: (c) => {
      inc(`failed:${c}`);
    },
    dropped: (c, r) => {
      inc(`dropped:${c}:${r}`);
    },
  };
}
