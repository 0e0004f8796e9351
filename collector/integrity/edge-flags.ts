// Check 4, persistent edge flags (docs/integrity.md §Central checks): the agent judges every channel of
// every window (shared/integrity); centrally a channel takes a flag's status only when it lasts (K of the
// last N windows, PersistentStatus), so one spike is not an alert, and it clears after a run of clean
// windows. The evidence names the edge checks behind it with their values and thresholds.
// Suspect flags of the checks in `edgeSuspectIgnored` (default: spike) do not count: a spike of 12 to 40
// robust spreads is how real impulsive vibration looks too (bearing wear flags most windows at severity
// 0.8 in the simulator, docs/integrity.md §spike), and a worn bearing is a machine condition for the
// model, not a broken sensor. A spike FAIL (>= 40 spreads) still counts.

import type { Evidence, QcStatus } from '../monitor/types.ts';
import type { IntegrityMonitorOptions } from './options.ts';
import { PersistentStatus, type PersistenceRule } from './persistence.ts';
import { worse, type CheckInput, type DeviceCheck, type Verdict } from './types.ts';

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

function goodVerdict(channel: string): Verdict {
  return Object.freeze({
    check: EDGE_FLAGS_CHECK,
    subject: channel,
    status: 'good',
    summary: `${channel}: edge checks good`,
    evidence: [],
    cause: null,
    action: 'none',
  });
}

interface ChannelState {
  readonly persistence: PersistentStatus;
  /** Non-good edge flags seen recently, by edge check name (at most 8 names). */
  readonly flags: Map<string, FlagSeen>;
  /** This channel's verdict while good. */
  readonly good: Verdict;
}

export class EdgeFlagsCheck implements DeviceCheck {
  readonly channels = new Map<string, ChannelState>();
  readonly #rule: PersistenceRule;
  readonly #suspectIgnored: ReadonlySet<string>;

  constructor(o: IntegrityMonitorOptions) {
    this.#rule = { windows: o.persistWindows, minWindows: o.persistMinWindows, clear: o.clearWindows };
    this.#suspectIgnored = new Set(o.edgeSuspectIgnored);
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind !== 'telemetry' || !input.newest) return;
    const p = m.payload;
    // The window's status per channel, from the flags that count (integrity.channels lists every channel).
    // Most windows have no flag: then every channel is good and no map is built.
    const counted = p.integrity.flags.filter(
      (f) => f.status !== 'good' && !(f.status === 'suspect' && this.#suspectIgnored.has(f.check)),
    );
    for (const channel in p.integrity.channels) {
      let c = this.channels.get(channel);
      if (c === undefined) {
        c = { persistence: new PersistentStatus(this.#rule), flags: new Map(), good: goodVerdict(channel) };
        this.channels.set(channel, c);
      }
      let status: QcStatus = 'good';
      for (const f of counted) if (f.channel === channel) status = worse(status, f.status);
      c.persistence.push(status, p.tsMs);
    }
    for (const f of counted) {
      const c = this.channels.get(f.channel);
      if (c === undefined) continue;
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
      const status = c.persistence.status;
      if (status === 'good' && c.flags.size === 0) {
        // Verdicts are immutable: one per channel serves every cycle it stays good.
        out.push(c.good);
        continue;
      }
      const span = c.persistence.span();
      // Forget flags that left the remembered windows, so the evidence is about now.
      if (span !== null) for (const [k, f] of c.flags) if (f.lastTsMs < span.fromMs) c.flags.delete(k);
      if (status === 'good') {
        out.push(c.good);
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
        summary:
          `${channel}: ${status} by ${names} in ${n} of the last ${this.#rule.windows} windows` +
          (n < this.#rule.minWindows ? ` (held until ${this.#rule.clear} better windows in a row)` : ''),
        evidence,
        sinceMs: c.persistence.sinceMs,
        window: span,
        cause: 'broken_sensor',
        action: 'check_sensor',
      });
    }
  }
}
