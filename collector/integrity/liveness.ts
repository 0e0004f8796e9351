// Check 2, liveness (docs/integrity.md §Central checks), all by COLLECTOR receive time:
// - offline: a status message with state offline. Reason `lwt` is the broker publishing the last will:
//   the connection died unexpectedly (fail). Any other reason (`shutdown`, `update`) is expected: the
//   device is reported offline with severity info. A will's tsMs is the time of the CONNECT that armed it,
//   possibly days old (docs/mqtt.md §Last will), so it is dated by its arrival. A new online status clears
//   it. A will of an older run than the one we follow (an agent restarted and took the session over before
//   the broker gave up the old connection) is not about the live run and is ignored.
// - stale: no message for staleAfterS (suspect) or staleFailAfterS (fail), judged at evaluate(nowMs).
//   Not raised while the device is offline: the offline verdict already says it.

import type { StatusPayload } from '../../shared/mqtt/schemas.ts';
import type { IntegrityMonitorOptions } from './options.ts';
import type { CheckInput, DeviceCheck, DeviceState, Verdict } from './types.ts';

export const OFFLINE_CHECK = 'integrity.offline';
export const STALE_CHECK = 'integrity.stale';

export interface LastStatus {
  readonly state: StatusPayload['state'];
  readonly reason: StatusPayload['reason'];
  readonly atMs: number;
  readonly runId: number;
}

export class LivenessCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  lastReceivedMs = Number.NEGATIVE_INFINITY;
  lastStatus: LastStatus | null = null;
  /** Wills ignored because they named an older run. */
  ignoredWills = 0;

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind === 'modelCommand') return; // the collector's own messages say nothing about the device
    if (input.receivedMs > this.lastReceivedMs) this.lastReceivedMs = input.receivedMs;
    if (m.kind !== 'status') return;
    const p = m.payload;
    if (
      p.state === 'offline' &&
      p.reason === 'lwt' &&
      input.currentRun !== null &&
      p.runId !== input.currentRun
    ) {
      this.ignoredWills++;
      return;
    }
    if (this.lastStatus !== null && input.receivedMs < this.lastStatus.atMs) return; // older news
    this.lastStatus = { state: p.state, reason: p.reason, atMs: input.receivedMs, runId: p.runId };
  }

  state(nowMs: number): DeviceState {
    if (this.lastStatus?.state === 'offline') return 'offline';
    return nowMs - this.lastReceivedMs > this.#o.staleAfterS * 1000 ? 'stale' : 'online';
  }

  judge(nowMs: number, out: Verdict[]): void {
    const ls = this.lastStatus;
    const offline = ls?.state === 'offline';
    const will = offline && ls.reason === 'lwt';
    out.push({
      check: OFFLINE_CHECK,
      subject: null,
      // An expected shutdown is not a fault, but the device is not sending: suspect, with severity info.
      status: !offline ? 'good' : will ? 'fail' : 'suspect',
      severity: !offline ? 'info' : will ? 'critical' : 'info',
      summary: !offline
        ? 'online'
        : will
          ? `offline: connection lost (last will) ${Math.round((nowMs - ls.atMs) / 1000)} s ago`
          : `offline: ${ls.reason} ${Math.round((nowMs - ls.atMs) / 1000)} s ago (expected)`,
      evidence: [
        {
          method: 'status',
          statistic: null,
          threshold: null,
          thresholdOrigin: null,
          detail:
            ls === null
              ? { state: 'unknown' }
              : { state: ls.state, reason: ls.reason, receivedMs: ls.atMs, runId: ls.runId },
        },
      ],
      sinceMs: offline ? ls.atMs : null,
      cause: null,
      action: will ? 'check_connectivity' : 'none',
    });

    const silentMs = nowMs - this.lastReceivedMs;
    const status = offline
      ? 'good'
      : silentMs > this.#o.staleFailAfterS * 1000
        ? 'fail'
        : silentMs > this.#o.staleAfterS * 1000
          ? 'suspect'
          : 'good';
    out.push({
      check: STALE_CHECK,
      subject: null,
      status,
      summary:
        status === 'good'
          ? offline
            ? 'not judged while offline'
            : `last message ${Math.round(silentMs / 1000)} s ago`
          : `stale: no message for ${Math.round(silentMs / 1000)} s (limit ${this.#o.staleAfterS} s)`,
      evidence: [
        {
          method: 'staleness',
          statistic: silentMs / 1000,
          threshold: status === 'fail' ? this.#o.staleFailAfterS : this.#o.staleAfterS,
          thresholdOrigin: 'config',
          unit: 's',
          detail: { lastReceivedMs: this.lastReceivedMs },
        },
      ],
      sinceMs: status === 'good' ? null : this.lastReceivedMs,
      cause: null,
      action: status === 'good' ? 'none' : 'check_connectivity',
    });
  }
}
