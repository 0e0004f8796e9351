// What an operator reads about the broker link (issue #8 §2, docs/agent.md "Broker link in the log"):
//
//   broker link down       once per drop, with the reason and the outbox depth at that moment
//   broker link up        once per return, with the outage length and the backlog waiting to be replayed
//   cannot reach broker   a connect attempt failed: the first failure, then at failures 2, 4, 8, 16, ... of
//                         the same outage (the link retries with backoff anyway; the log backs off too, so a
//                         wrong address is one line at once and a handful per hour, never one per retry).
//                         After a drop it starts at failure 8: "broker link down" already said it.
//
// It also counts reconnects (connections after the first), for the shutdown summary.

import { systemClock, type WallClock } from '../../shared/platform/clock.ts';
import type { MqttLink, MqttLinkEvent } from '../adapters/mqtt.ts';

/** The part of the agent's structured logger this uses (shared/platform/logger.ts fits). */
export interface LinkLog {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface LinkWatchOptions {
  readonly link: MqttLink;
  /** The broker URL, for the log (credentials are never in it: they are separate options). */
  readonly url: string;
  /** Messages waiting in the outbox now (its depth). */
  readonly backlog: () => number;
  readonly log: LinkLog;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

export interface LinkWatchStats {
  /** Successful connections after the first one of this run. */
  readonly reconnects: number;
  /** Since when the link has been down (or never up), ms since the epoch; null while connected. */
  readonly downSinceMs: number | null;
  /** Failed connect attempts since the link was last up. */
  readonly failuresInOutage: number;
}

export interface LinkWatch {
  stats(): LinkWatchStats;
  /** Stops listening. Idempotent. */
  close(): void;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export function watchLink(o: LinkWatchOptions): LinkWatch {
  const clock = o.clock ?? systemClock;
  const now = (): number => clock.nowMs();
  let connections = 0;
  // Down from the start: an agent that never reaches its broker has been "down" since it started.
  let downSinceMs: number | null = now();
  let failures = 0;
  let dropped = false;

  const onEvent = (e: MqttLinkEvent): void => {
    if (e.kind === 'connected') {
      connections++;
      const outageMs = downSinceMs === null ? 0 : Math.max(0, now() - downSinceMs);
      if (dropped || failures > 0)
        o.log.info('broker link up', {
          url: o.url,
          outageMs: Math.round(outageMs),
          backlog: o.backlog(),
          attempts: failures + 1,
        });
      else o.log.info('broker link up', { url: o.url, backlog: o.backlog() });
      downSinceMs = null;
      failures = 0;
      dropped = false;
    } else if (e.kind === 'disconnected') {
      downSinceMs = now();
      dropped = true;
      failures = 0;
      o.log.warn('broker link down', { url: o.url, reason: e.reason, backlog: o.backlog() });
    } else {
      failures++;
      // After a drop, "broker link down" already said it: remind only once the outage has lasted (8, 16, ...).
      if (failures < (dropped ? 8 : 1) || !isPowerOfTwo(failures)) return;
      o.log.warn('cannot reach broker', {
        url: o.url,
        code: e.code,
        error: e.message,
        attempts: failures,
        downMs: Math.round(Math.max(0, now() - (downSinceMs ?? now()))),
        retryInMs: Math.round(e.retryInMs),
        nextWarningAfterAttempts: failures * 2,
      });
    }
  };
  const unsubscribe = o.link.onEvent(onEvent);
  return {
    stats: () => ({
      reconnects: Math.max(0, connections - 1),
      downSinceMs,
      failuresInOutage: failures,
    }),
    close: unsubscribe,
  };
}
