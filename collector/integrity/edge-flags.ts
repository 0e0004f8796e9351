// Check 4, persistent edge flags (docs/integrity.md §Central checks): the agent judges every channel of
// every window (shared/integrity); centrally a channel takes a flag's status only when it lasts (K of the
// last N windows, PersistentStatus), so one spike is not an alert, and it clears after a run of clean
// windows. The evidence names the edge checks behind it with their values and thresholds.

import type { Evidence, QcStatus } from '../monitor/types.ts';
import type { IntegrityMonitorOptions } from './options.ts';
import { PersistentStatus, type PersistenceRule } from './persistence.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const EDGE_FLAGS_CHECK = 'integrity.edge_flags';

interface FlagSeen {
  status: QcStatus;
  reason: string;
  value: number | null;
  threshold: number | null;
  /** Windows that showed it while remembered. */
  windows: number;
  lastTsMs: number;
}

interface ChannelState {
  readonly persistence: PersistentStatus;
  /** Non-good edge flags seen recently, by edge check name (at most 8 names). */
  readonly flags: Map<string, FlagSeen>;
}

export class EdgeFlagsCheck implements DeviceCheck {
  readonly channels = new Map<string, ChannelState>();
  readonly #rule: PersistenceRule;

  constructor(o: IntegrityMonitorOptions) {
    this.#rule = { windows: o.persistWindows, minWindows: o.persistMinWindows, clear: o.clearWindows };
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind !== 'telemetry' || !input.newest) return;
    const p = m.payload;
    for (const [channel, status] of Object.entries(p.integrity.channels)) {
      let c = this.channels.get(channel);
      if (c === undefined) {
        c = { persistence: new PersistentStatus(this.#rule), flags: new Map() };
        this.channels.set(channel, c);
      }
      c.persistence.push(status, p.tsMs);
    }
    for (const f of p.integrity.flags) {
      const c = this.channels.get(f.channel);
      if (c === undefined || f.status === 'good') continue;
      const seen = c.flags.get(f.check);
      c.flags.set(f.check, {
        status: f.status,
        reason: f.reason,
        value: f.value ?? null,
        threshold: f.threshold ?? null,
        windows: (seen?.windows ?? 0) + 1,
        lastTsMs: p.tsMs,
      });
    }
  }

  status(channel: string): QcStatus {
    return this.channels.get(channel)?.persistence.status ?? 'good';
  }

  judge(_nowMs: number, out: Verdict[]): void {
    for (const [channel, c] of this.channels) {
      const span = c.persistence.span();
      // Forget flags that left the remembered windows, so the evidence is about now.
      if (span !== null) for (const [k, f] of c.flags) if (f.lastTsMs < span.fromMs) c.flags.delete(k);
      const status = c.persistence.status;
      if (status === 'good') {
        out.push({
          check: EDGE_FLAGS_CHECK,
          subject: channel,
          status,
          summary: `${channel}: edge checks good`,
          evidence: [],
          window: span,
          cause: null,
          action: 'none',
        });
        continue;
      }
      const evidence: Evidence[] = [];
      for (const [check, f] of c.flags) {
        evidence.push({
          method: `edge.${check}`,
          statistic: f.value,
          threshold: f.threshold,
          thresholdOrigin: 'edge',
          detail: { status: f.status, reason: f.reason, windows: f.windows },
        });
      }
      const names = [...c.flags.keys()].join(', ') || 'edge flags';
      const n = c.persistence.count(status);
      out.push({
        check: EDGE_FLAGS_CHECK,
        subject: channel,
        status,
        summary: `${channel}: ${status} by ${names} in ${n} of the last ${this.#rule.windows} windows`,
        evidence,
        sinceMs: c.persistence.sinceMs,
        window: span,
        cause: 'broken_sensor',
        action: 'check_sensor',
      });
    }
  }
}
