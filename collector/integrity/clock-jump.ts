// Check 3b, sender clock jumps (docs/integrity.md §Central checks): within a run and boot, tsMs − window
// end (device time) is the wall clock's offset from the board clock plus a processing delay that is >= 0.
// A drop of that offset below its recent minimum by more than clockJumpMs is the wall clock stepping back
// (an NTP step); a rise of the minimum over three windows that arrived spread out like live ones is a leap
// forward (one slow window is not, nor the burst of late windows that close together when serial data
// resumes after an outage). A board-clock jump is the edge's timestamp check: the windower restarts its
// windows (index back to 0), which resets this one.

import type { IntegrityMonitorOptions } from './options.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const CLOCK_JUMP_CHECK = 'integrity.clock_jump';

const OFFSETS = 16;
const LEAP_WINDOWS = 3;
const JUMPS_KEPT = 8;

interface Offset {
  /** tsMs − window end (device time), ms. */
  readonly off: number;
  /** Collector receive time. */
  readonly atMs: number;
}

function minOff(o: readonly Offset[], from: number, to: number): number {
  let m = Number.POSITIVE_INFINITY;
  for (let i = from; i < to; i++) m = Math.min(m, (o[i] as Offset).off);
  return m;
}

interface Jump {
  readonly atMs: number;
  readonly tsMs: number;
  readonly sizeMs: number;
}

export class ClockJumpCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  /** Offsets (tsMs − window end) of the current time base. */
  #offsets: Offset[] = [];
  #base: { runId: number; bootId: number; index: number } | null = null;
  #jumps: Jump[] = [];

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind !== 'telemetry' || !input.newest) return;
    const p = m.payload;
    const w = p.window;
    const windowMs = (w.endUs - w.startUs) / 1000;
    this.#offset(
      { runId: p.runId, bootId: p.bootId, index: w.index, off: p.tsMs - w.endUs / 1000, windowMs },
      input.receivedMs,
      p.tsMs,
    );
  }

  #offset(
    p: { runId: number; bootId: number; index: number; off: number; windowMs: number },
    atMs: number,
    tsMs: number,
  ): void {
    const b = this.#base;
    if (b === null || b.runId !== p.runId || b.bootId !== p.bootId || p.index < b.index) this.#offsets = [];
    this.#base = { runId: p.runId, bootId: p.bootId, index: p.index };
    const o = this.#offsets;
    const jumpMs = this.#o.clockJumpMs;
    if (o.length > 0) {
      const min = minOff(o, 0, o.length);
      if (p.off < min - jumpMs) {
        this.#jump({ atMs, tsMs, sizeMs: p.off - min });
        this.#offsets = [{ off: p.off, atMs }];
        return;
      }
    }
    o.push({ off: p.off, atMs });
    if (o.length > OFFSETS) o.shift();
    if (o.length <= LEAP_WINDOWS) return;
    const k = o.length - LEAP_WINDOWS;
    // Windows closed late arrive together (after a serial outage every window of the gap closes when data
    // resumes, each "late" by its age): a leap must show on windows that arrived spread out as live ones do.
    const spreadMs = (o[o.length - 1] as Offset).atMs - (o[k] as Offset).atMs;
    if (spreadMs < ((LEAP_WINDOWS - 1) * p.windowMs) / 2) return;
    const before = minOff(o, 0, k);
    const now = minOff(o, k, o.length);
    if (now > before + jumpMs) {
      this.#jump({ atMs, tsMs, sizeMs: now - before });
      this.#offsets = o.slice(k);
    }
  }

  #jump(j: Jump): void {
    this.#jumps.push(j);
    if (this.#jumps.length > JUMPS_KEPT) this.#jumps.shift();
  }

  judge(nowMs: number, out: Verdict[]): void {
    const holdMs = this.#o.clockJumpHoldS * 1000;
    const recent = this.#jumps.filter((j) => nowMs - j.atMs < holdMs);
    const last = recent[recent.length - 1];
    out.push({
      check: CLOCK_JUMP_CHECK,
      subject: null,
      status: last === undefined ? 'good' : 'suspect',
      summary:
        last === undefined
          ? 'no clock jump'
          : `sender clock ${last.sizeMs < 0 ? 'stepped back' : 'leapt forward'} ${(Math.abs(last.sizeMs) / 1000).toFixed(1)} s against device time` +
            (recent.length > 1 ? ` (${recent.length} jumps in ${this.#o.clockJumpHoldS} s)` : ''),
      evidence: recent.map((j) => ({
        method: 'clock_jump',
        statistic: j.sizeMs,
        threshold: this.#o.clockJumpMs,
        thresholdOrigin: 'config',
        unit: 'ms',
        detail: { receivedMs: j.atMs, tsMs: j.tsMs },
      })),
      sinceMs: last === undefined ? null : (recent[0] as Jump).atMs,
      cause: null,
      action: last === undefined ? 'none' : 'check_clock',
    });
  }
}
