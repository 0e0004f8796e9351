// The dashboard's live feed (GET /api/v1/events, server-sent events). While at least one page listens, it
// reads the same sources the API serves every `intervalMs` and sends what changed since the last read:
// - `devices`: fleet rows whose state, model, integrity, drift or alert count changed (not last-seen alone,
//   which moves with every message: `lastSeen` carries it for every device every `lastSeenEveryMs`);
// - one event per changed alert, rollout, update request and training job (its API view).
// A page that connects gets `hello` and reads the API once; it needs no replay. Polling the sources, not
// hooking every writer, keeps the monitors and ingest unaware of the dashboard, and costs one pass a second.

import type { EventStream } from '../adapters/http.ts';
import type { Clock, ClockTimer } from '../../shared/platform/clock.ts';

/** One kind of row the feed follows. */
export interface FeedChannel<T = unknown> {
  /** The SSE event name. */
  readonly event: string;
  rows(): readonly T[];
  key(row: T): string;
  /** Changes when the row changed in a way the page shows. */
  fingerprint(row: T): string;
  /** What is sent (default: the row). */
  view?(row: T): unknown;
  /** Send the changed rows as one event with an array (large fleets), not one event each. */
  readonly batched?: boolean;
}

export interface ChangeFeedOptions {
  readonly channels: readonly FeedChannel[];
  /** Devices' last-seen times, sent as one `lastSeen` event. */
  lastSeen?(): Record<string, number>;
  readonly clock: Clock;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  /** Default 10 000 ms. */
  readonly lastSeenEveryMs?: number;
  /** Default 15 000 ms: under every common proxy's idle timeout. */
  readonly heartbeatMs?: number;
  /** Told when a source throws; the feed keeps going. */
  onError?(err: unknown): void;
}

export interface ChangeFeed {
  /** Adds a stream: it gets `hello` at once and changes from the next pass. */
  add(stream: EventStream): void;
  readonly listeners: number;
  /** Runs one pass now (tests; the timer runs it otherwise). */
  poll(): void;
  /** Ends every stream and stops the timer. */
  close(): void;
}

export function createChangeFeed(o: ChangeFeedOptions): ChangeFeed {
  const intervalMs = o.intervalMs ?? 1000;
  const streams = new Set<EventStream>();
  // Per channel: key → fingerprint, as of the last pass (seeded on the first listener).
  const seen = o.channels.map(() => new Map<string, string>());
  let timer: ClockTimer | undefined;
  let seq = 0;
  let lastSeenAt = 0;
  let heartbeatAt = 0;

  const broadcast = (event: string, data: unknown): void => {
    seq += 1;
    for (const s of streams) if (!s.send(event, data, String(seq))) streams.delete(s);
  };

  const diff = (i: number, emit: boolean): void => {
    const ch = o.channels[i] as FeedChannel;
    const before = seen[i] as Map<string, string>;
    const after = new Map<string, string>();
    const changed: unknown[] = [];
    for (const row of ch.rows()) {
      const k = ch.key(row);
      const f = ch.fingerprint(row);
      after.set(k, f);
      if (before.get(k) !== f) changed.push(ch.view === undefined ? row : ch.view(row));
    }
    seen[i] = after;
    if (!emit || changed.length === 0) return;
    if (ch.batched === true) broadcast(ch.event, changed);
    else for (const c of changed) broadcast(ch.event, c);
  };

  const pass = (emit: boolean): void => {
    for (let i = 0; i < o.channels.length; i++) {
      try {
        diff(i, emit);
      } catch (err) {
        o.onError?.(err);
      }
    }
    const now = o.clock.nowMs();
    if (emit && o.lastSeen !== undefined && now - lastSeenAt >= (o.lastSeenEveryMs ?? 10_000)) {
      lastSeenAt = now;
      broadcast('lastSeen', o.lastSeen());
    }
    if (now - heartbeatAt >= (o.heartbeatMs ?? 15_000)) {
      heartbeatAt = now;
      for (const s of streams) s.heartbeat();
    }
  };

  return {
    add(stream) {
      if (streams.size === 0) pass(false);
      streams.add(stream);
      stream.send('hello', { atMs: o.clock.nowMs(), intervalMs });
      const tick = (): void => {
        for (const s of streams) if (s.closed) streams.delete(s);
        if (streams.size === 0) {
          timer = undefined;
          return;
        }
        pass(true);
        timer = o.clock.setTimeout(tick, intervalMs);
      };
      timer ??= o.clock.setTimeout(tick, intervalMs);
    },
    get listeners() {
      return streams.size;
    },
    poll() {
      pass(true);
    },
    close() {
      for (const s of streams) s.end();
      streams.clear();
      timer?.cancel();
      timer = undefined;
    },
  };
}
