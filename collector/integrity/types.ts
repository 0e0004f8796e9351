// Types of the central integrity monitor (issue #9 §3, docs/integrity.md §Central checks): what each
// check concludes about one subject (a Verdict), the per-check strategy interface, and what the monitor
// exports to metrics and the HTTP API.

import type { DecodedMessage } from '../../shared/mqtt/codec.ts';
import type {
  ChannelHealth,
  Evidence,
  Monitor,
  QcStatus,
  RecommendedAction,
  SuspectedCause,
} from '../monitor/types.ts';

export type Severity = 'info' | 'warning' | 'critical';

/** One check's conclusion about one subject of one device at one evaluation. */
export interface Verdict {
  /** `integrity.<name>`, e.g. `integrity.msg_loss`. */
  readonly check: string;
  /** A channel (`accel.z`), a sensor (`accel`), or null for the device. */
  readonly subject: string | null;
  readonly status: QcStatus;
  /** Default: warning for suspect, critical for fail, info for good. `info` marks an expected state. */
  readonly severity?: Severity;
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  /** When the condition began (device time for window checks, collector time otherwise), if known. */
  readonly sinceMs?: number | null;
  /** The data judged (device time), if any. */
  readonly window?: { readonly fromMs: number; readonly toMs: number } | null;
  readonly cause: SuspectedCause | null;
  readonly action: RecommendedAction;
}

/** A message as a check sees it: decoded, dated by the collector, and placed in its stream. */
export interface CheckInput {
  readonly message: DecodedMessage;
  readonly receivedMs: number;
  /**
   * True when this message is the newest of the device's current run so far (msgSeq above every one
   * seen): window checks take only these, so outbox backlog replayed after live data does not rewrite
   * the current state with old windows.
   */
  readonly newest: boolean;
  /** The run (runId) the monitor currently follows for this device, or null before any (a lone will). */
  readonly currentRun: number | null;
}

/** One central check for one device (STYLE.md: strategy interface, one file per check). */
export interface DeviceCheck {
  observe(input: CheckInput): void;
  /** Pushes a verdict for every subject it judges (good included) at collector time nowMs. */
  judge(nowMs: number, out: Verdict[]): void;
}

/** One check of one device as the HTTP API shows it. */
export interface CheckHealth {
  readonly check: string;
  readonly subject: string | null;
  readonly status: QcStatus;
  readonly severity: Severity;
  /** Collector time the current status began (the evaluation that first saw it); null if always good. */
  readonly statusSinceMs: number | null;
  /** When the condition began as the check dates it (see Verdict.sinceMs), or null. */
  readonly sinceMs: number | null;
  readonly summary: string;
  /** The last evidence. */
  readonly evidence: readonly Evidence[];
}

export type DeviceState = 'online' | 'offline' | 'stale';

/** One device's current integrity, for GET /api/v1/devices/:id (or /integrity). */
export interface DeviceHealth {
  readonly deviceId: string;
  readonly state: DeviceState;
  /** Collector receive time of the last message, ms. */
  readonly lastReceivedMs: number;
  /** The last status message (dated by receive time), or null. */
  readonly lastStatus: {
    readonly state: 'online' | 'offline';
    readonly reason: string;
    readonly atMs: number;
  } | null;
  readonly runId: number | null;
  readonly bootId: number | null;
  /** Worst status over all checks. */
  readonly status: QcStatus;
  /** Every check at the last evaluation (good ones included); [] before the first evaluation. */
  readonly checks: readonly CheckHealth[];
  /** Collector time of the last evaluation, or null. */
  readonly evaluatedMs: number | null;
}

export interface IntegritySummary {
  readonly devices: number;
  readonly online: number;
  readonly offline: number;
  readonly stale: number;
  /** Channels (edge channels of every device) by their current status. */
  readonly channels: Record<QcStatus, number>;
}

export interface IntegrityMonitor extends Monitor, ChannelHealth {
  /**
   * For metrics: devices known and by state, channels by status. Staleness is judged at nowMs, by
   * default the time of the last evaluate() (so a scrape between cycles sees the cycle's view).
   */
  summary(nowMs?: number): IntegritySummary;
  /** For the HTTP API: one device's current checks, or undefined for an unknown device. */
  deviceHealth(deviceId: string): DeviceHealth | undefined;
}

export const statusRank: Readonly<Record<QcStatus, number>> = { good: 0, suspect: 1, fail: 2 };
export const rankStatus: readonly QcStatus[] = ['good', 'suspect', 'fail'];

export function worse(a: QcStatus, b: QcStatus): QcStatus {
  return statusRank[a] >= statusRank[b] ? a : b;
}
