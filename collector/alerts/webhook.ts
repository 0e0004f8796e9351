// Webhook delivery (issue #9 §6; docs/alerts.md §Webhooks): every alert change is POSTed as JSON to each
// URL, signed (./signature.ts), with an event id for idempotency. Each URL has its own bounded queue and
// worker (./queue.ts), so a receiver that is down or slow only delays its own notifications: it never
// slows another receiver, the evaluation or ingest. A request has a timeout; 408, 429, 5xx and network
// errors are retried with jittered exponential backoff, other 4xx are given up at once (the receiver
// refuses the request; sending it again will not help).

import type { BackoffOptions } from '../../shared/backoff.ts';
import type { Clock } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { alertEventPayload } from './payload.ts';
import { DeliveryQueue, type SendOutcome } from './queue.ts';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import type { AlertChannel, AlertEvent, DeliveryObserver } from './types.ts';

export interface WebhookChannelOptions {
  readonly urls: readonly string[];
  /** HMAC-SHA256 key (CollectorConfig.alertWebhookSecret). */
  readonly secret: string;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  readonly logger?: Logger;
  /** Per request (connect to end of response), ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Attempts per notification, the first included. Default 6 (about a minute of retries). */
  readonly maxAttempts?: number;
  /** Notifications waiting per URL at most. Default 1000. */
  readonly capacity?: number;
  /** Retry delays. Default base 1 s, cap 30 s, full jitter. */
  readonly backoff?: BackoffOptions;
}

const retryable = (status: number): boolean => status === 408 || status === 429 || status >= 500;

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SendOutcome> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  // Read and discard the body so the connection returns to the pool.
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return 'sent';
  return retryable(res.status) ? 'retry' : 'rejected';
}

export function createWebhookChannel(o: WebhookChannelOptions): AlertChannel {
  const timeoutMs = o.timeoutMs ?? 5000;
  const queues = o.urls.map(
    (url) =>
      new DeliveryQueue<AlertEvent>({
        channel: 'webhook',
        target: url,
        capacity: o.capacity ?? 1000,
        maxAttempts: o.maxAttempts ?? 6,
        backoff: { baseMs: 1000, capMs: 30_000, ...o.backoff },
        clock: o.clock,
        observer: o.observer,
        ...(o.logger === undefined ? {} : { logger: o.logger }),
        send: (e) => {
          const body = JSON.stringify(alertEventPayload(e));
          // Signed at each attempt: the timestamp says when this request was sent, for replay checks.
          const t = Math.floor(o.clock.nowMs() / 1000);
          return post(
            url,
            body,
            {
              'content-type': 'application/json',
              'user-agent': 'edgeloop-collector',
              [SIGNATURE_HEADER]: signatureHeader(o.secret, t, body),
              [EVENT_ID_HEADER]: e.eventId,
              [EVENT_TYPE_HEADER]: e.type,
            },
            timeoutMs,
          );
        },
      }),
  );
  let closing: Promise<void> | undefined;
  return {
    name: 'webhook',
    notify(e) {
      for (const q of queues) q.push(e);
    },
    async idle() {
      await Promise.all(queues.map((q) => q.idle()));
    },
    close() {
      closing ??= Promise.all(queues.map((q) => q.close())).then(() => undefined);
      return closing;
    },
  };
}
