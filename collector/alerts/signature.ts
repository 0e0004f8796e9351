// Webhook signatures (issue #9 §6; docs/alerts.md §Webhooks), the scheme Stripe and GitHub made familiar:
//
//   X-Edgeloop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// The timestamp is inside the MAC, so a receiver that refuses stale timestamps (5 minutes by default)
// also refuses a captured request replayed later; the event id header lets it drop true retries. The
// comparison is constant-time. `verifySignature` is what a receiver written in TypeScript can use as is.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-edgeloop-signature';
export const EVENT_ID_HEADER = 'x-edgeloop-event-id';
export const EVENT_TYPE_HEADER = 'x-edgeloop-event';

export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type VerifyResult =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'stale' | 'mismatch' };

/** Checks a signature header against the raw body as received (before any JSON parsing). */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): VerifyResult {
  const parts = new Map(
    (header ?? '').split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true, timestamp: t } : { ok: false, reason: 'mismatch' };
}
