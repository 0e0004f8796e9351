// Check 1, loss (docs/integrity.md §Central checks):
// - message loss: msgSeq holes of the current run, over its last `lossSpanMsgs` numbers. A hole is "missing
//   for now" (docs/mqtt.md rule 3): after an outage the agent sends live data first and its backlog after
//   it, so only holes below the highest msgSeq the stream had `lossSettleS` ago are judged. A backlog that
//   fills a hole later clears it.
// - sample loss: the agent's own counters (totals per run): samplesMissing / (samples + samplesMissing)
//   over the deltas of the last `sampleLossSpanWindows` windows, taken in msgSeq order (backlog windows are
//   older and already inside the newer totals).

import type { QcStatus } from '../monitor/types.ts';
import type { IntegrityMonitorOptions } from './options.ts';
import type { DeviceStreams } from './streams.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const MSG_LOSS_CHECK = 'integrity.msg_loss';
export const SAMPLE_LOSS_CHECK = 'integrity.sample_loss';

function grade(share: number, suspect: number, fail: number): QcStatus {
  return share >= fail ? 'fail' : share >= suspect ? 'suspect' : 'good';
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

/** Checkpoints of (collector time, highest msgSeq) kept to find the settled horizon. */
const CHECKPOINTS = 32;

export class MsgLossCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  readonly #streams: DeviceStreams;
  /** (atMs, runId, highest) samples of the current run, oldest first, at most CHECKPOINTS. */
  #points: { atMs: number; runId: number; highest: number }[] = [];

  constructor(o: IntegrityMonitorOptions, streams: DeviceStreams) {
    this.#o = o;
    this.#streams = streams;
  }

  observe(_input: CheckInput): void {
    // DeviceStreams has placed the message already; the holes live in its tracker.
  }

  judge(nowMs: number, out: Verdict[]): void {
    const s = this.#streams.current;
    if (s === null || Number.isNaN(s.lossFloor)) return;
    const settleMs = this.#o.lossSettleS * 1000;
    if (this.#points[0] !== undefined && this.#points[0].runId !== s.runId) this.#points = [];
    const pts = this.#points;
    const last = pts[pts.length - 1];
    // One checkpoint per settle/CHECKPOINTS at most, so the list stays bounded at any evaluation rate.
    if (last === undefined || nowMs - last.atMs >= settleMs / CHECKPOINTS) {
      pts.push({ atMs: nowMs, runId: s.runId, highest: s.tracker.highest });
    }
    let settled = 0;
    for (const p of pts) if (p.atMs <= nowMs - settleMs) settled = p.highest;
    // Drop checkpoints older than the newest settled one: the horizon only moves forward.
    while (pts.length > 1 && (pts[1] as { atMs: number }).atMs <= nowMs - settleMs) pts.shift();
    if (pts.length > CHECKPOINTS + 2) pts.splice(1, pts.length - CHECKPOINTS - 2);

    const lo = Math.max(s.lossFloor, settled - this.#o.lossSpanMsgs + 1);
    const span = settled - lo + 1;
    if (span < this.#o.lossMinMsgs) {
      out.push(
        this.#verdict(
          'good',
          `message loss: not judged yet (${Math.max(0, span)} settled msgSeq numbers)`,
          0,
          span,
          0,
          s.runId,
        ),
      );
      return;
    }
    let missing = 0;
    let holes = 0;
    for (const [a, b] of s.tracker.openGaps()) {
      const x = Math.max(a, lo);
      const y = Math.min(b, settled);
      if (y >= x) {
        missing += y - x + 1;
        holes++;
      }
    }
    const share = missing / span;
    const status = grade(share, this.#o.lossSuspectShare, this.#o.lossFailShare);
    const text =
      `message loss ${missing} of ${span} (${pct(share)}) in msgSeq ${lo}..${settled} of run ${s.runId}` +
      (holes > 0 ? `, ${holes} hole(s)` : '');
    out.push(this.#verdict(status, text, share, span, missing, s.runId, holes, lo, settled));
  }

  #verdict(
    status: QcStatus,
    summary: string,
    share: number,
    span: number,
    missing: number,
    runId: number,
    holes = 0,
    from = 0,
    to = 0,
  ): Verdict {
    return {
      check: MSG_LOSS_CHECK,
      subject: null,
      status,
      summary,
      evidence: [
        {
          method: 'msg_loss',
          statistic: share,
          threshold: status === 'fail' ? this.#o.lossFailShare : this.#o.lossSuspectShare,
          thresholdOrigin: 'config',
          unit: 'share',
          detail: { missing, span, holes, runId, fromSeq: from, toSeq: to, settleS: this.#o.lossSettleS },
        },
      ],
      cause: null,
      action: status === 'good' ? 'none' : 'check_connectivity',
    };
  }
}

interface Totals {
  runId: number;
  samples: number;
  missing: number;
}

export class SampleLossCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  /** Per-window deltas (samples, missing) of the current run, a ring. */
  readonly #samples: Float64Array;
  readonly #missing: Float64Array;
  /** Device time (tsMs) of each window in the ring. */
  readonly #times: Float64Array;
  #pos = 0;
  #filled = 0;
  #last: Totals | null = null;

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
    this.#samples = new Float64Array(o.sampleLossSpanWindows);
    this.#missing = new Float64Array(o.sampleLossSpanWindows);
    this.#times = new Float64Array(o.sampleLossSpanWindows);
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind !== 'telemetry' || !input.newest) return;
    const p = m.payload;
    const c = p.counters;
    const prev = this.#last;
    this.#last = { runId: p.runId, samples: c.samples, missing: c.samplesMissing };
    // Totals restart with the agent (a new run); a decrease within a run is a reset we cannot diff.
    if (
      prev === null ||
      prev.runId !== p.runId ||
      c.samples < prev.samples ||
      c.samplesMissing < prev.missing
    )
      return;
    const n = this.#samples.length;
    this.#samples[this.#pos] = c.samples - prev.samples;
    this.#missing[this.#pos] = c.samplesMissing - prev.missing;
    this.#times[this.#pos] = p.tsMs;
    this.#pos = (this.#pos + 1) % n;
    if (this.#filled < n) this.#filled++;
  }

  #span(): { fromMs: number; toMs: number } | null {
    if (this.#filled === 0) return null;
    const n = this.#times.length;
    const first = this.#filled < n ? 0 : this.#pos;
    return { fromMs: this.#times[first] as number, toMs: this.#times[(this.#pos - 1 + n) % n] as number };
  }

  judge(_nowMs: number, out: Verdict[]): void {
    let samples = 0;
    let missing = 0;
    for (let i = 0; i < this.#filled; i++) {
      samples += this.#samples[i] as number;
      missing += this.#missing[i] as number;
    }
    const total = samples + missing;
    const share = total > 0 ? missing / total : 0;
    const status = grade(share, this.#o.sampleLossSuspectShare, this.#o.sampleLossFailShare);
    out.push({
      check: SAMPLE_LOSS_CHECK,
      subject: null,
      status,
      summary:
        total > 0
          ? `sample loss ${missing} of ${total} samples (${pct(share)}) over the last ${this.#filled} windows`
          : 'sample loss: not judged yet',
      evidence: [
        {
          method: 'sample_loss',
          statistic: share,
          threshold: status === 'fail' ? this.#o.sampleLossFailShare : this.#o.sampleLossSuspectShare,
          thresholdOrigin: 'config',
          unit: 'share',
          detail: { samples, missing, windows: this.#filled },
        },
      ],
      window: this.#span(),
      cause: null,
      // Samples are lost between the sensor board and the agent (serial link), not on MQTT.
      action: status === 'good' ? 'none' : 'check_sensor',
    });
  }
}
