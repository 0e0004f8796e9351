// Check 3, the device clock (docs/integrity.md §Central checks):
// - skew: latency = receivedMs − tsMs. Transport and backlog only ADD latency (an agent's outbox replays
//   old windows after an outage: tsMs old, receivedMs new), so the MINIMUM latency over the last
//   clockWindowS of receive time is the best estimate of how far the sender's clock is behind ours.
//   "Behind" is judged only once the device has been heard for a whole window, so a broker backlog
//   delivered after a collector restart is not mistaken for skew; "ahead" (a tsMs in our future) cannot
//   come from latency and is judged at once.
// - jumps: within a run and boot, tsMs − window end (device time) is the wall clock's offset from the
//   device clock plus a processing delay that is >= 0. A drop of that offset below its recent minimum by
//   more than clockJumpMs is the wall clock stepping back; a rise of the minimum over three windows that
//   arrived spread out like live ones is a leap forward (one slow window is not, nor the burst of late
//   windows that close together when serial data resumes after an outage).
// - reboots: a bootId not seen recently is a reboot: info each; maxRebootsPerHour within an hour is
//   suspect.

import type { IntegrityMonitorOptions } from './options.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const CLOCK_SKEW_CHECK = 'integrity.clock_skew';
export const CLOCK_JUMP_CHECK = 'integrity.clock_jump';
export const REBOOT_CHECK = 'integrity.reboot';

const BUCKETS = 12;
const OFFSETS = 16;
const LEAP_WINDOWS = 3;
const BOOTS_KEPT = 4;
const HOUR_MS = 3_600_000;

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

export class ClockCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  readonly #bucketMs: number;
  // Skew: the minimum latency per bucket of receive time (a ring of BUCKETS).
  readonly #bucketStart = new Float64Array(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  readonly #bucketMin = new Float64Array(BUCKETS);
  readonly #bucketCount = new Uint32Array(BUCKETS);
  #firstTelemetryMs = Number.NaN;
  // Jumps: offsets (tsMs − window end) of the current time base.
  #offsets: Offset[] = [];
  #base: { runId: number; bootId: number; index: number } | null = null;
  #jumps: Jump[] = [];
  // Reboots.
  #boots: number[] = [];
  #reboots: number[] = [];
  #rebootInfo: { from: number; to: number; atMs: number } | null = null;
  bootId: number | null = null;

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
    this.#bucketMs = (o.clockWindowS * 1000) / BUCKETS;
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind === 'status' && m.payload.bootId !== null && m.payload.msgSeq !== 0)
      this.#boot(m.payload.bootId, input.receivedMs);
    if (m.kind !== 'telemetry') return;
    const p = m.payload;
    this.#boot(p.bootId, input.receivedMs);
    this.#latency(input.receivedMs, input.receivedMs - p.tsMs);
    if (input.newest) {
      const w = p.window;
      const windowMs = (w.endUs - w.startUs) / 1000;
      this.#offset(
        { runId: p.runId, bootId: p.bootId, index: w.index, off: p.tsMs - w.endUs / 1000, windowMs },
        input.receivedMs,
        p.tsMs,
      );
    }
  }

  #boot(bootId: number, atMs: number): void {
    if (this.#boots.includes(bootId)) return;
    const prev = this.bootId;
    this.#boots.push(bootId);
    if (this.#boots.length > BOOTS_KEPT) this.#boots.shift();
    this.bootId = bootId;
    if (prev === null) return; // the first boot we see is not a reboot
    this.#reboots.push(atMs);
    if (this.#reboots.length > Math.max(16, this.#o.maxRebootsPerHour + 1)) this.#reboots.shift();
    this.#rebootInfo = { from: prev, to: bootId, atMs };
  }

  #latency(receivedMs: number, latencyMs: number): void {
    if (Number.isNaN(this.#firstTelemetryMs)) this.#firstTelemetryMs = receivedMs;
    const start = Math.floor(receivedMs / this.#bucketMs) * this.#bucketMs;
    const i = Math.floor(receivedMs / this.#bucketMs) % BUCKETS;
    if (this.#bucketStart[i] !== start) {
      this.#bucketStart[i] = start;
      this.#bucketMin[i] = latencyMs;
      this.#bucketCount[i] = 1;
    } else {
      if (latencyMs < (this.#bucketMin[i] as number)) this.#bucketMin[i] = latencyMs;
      this.#bucketCount[i] = (this.#bucketCount[i] as number) + 1;
    }
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
    if (this.#jumps.length > 8) this.#jumps.shift();
  }

  judge(nowMs: number, out: Verdict[]): void {
    this.#judgeSkew(nowMs, out);
    this.#judgeJumps(nowMs, out);
    this.#judgeReboots(nowMs, out);
  }

  #judgeSkew(nowMs: number, out: Verdict[]): void {
    const windowMs = this.#o.clockWindowS * 1000;
    let min = Number.POSITIVE_INFINITY;
    let n = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((this.#bucketStart[i] as number) <= nowMs - windowMs - this.#bucketMs) continue;
      n += this.#bucketCount[i] as number;
      if ((this.#bucketMin[i] as number) < min) min = this.#bucketMin[i] as number;
    }
    const covered = nowMs - this.#firstTelemetryMs >= windowMs;
    const ahead = n > 0 && min < -this.#o.clockSkewMaxMs;
    const judged = ahead || (covered && n >= this.#o.clockMinMessages);
    const abs = Math.abs(min);
    const status = !judged
      ? 'good'
      : abs > this.#o.clockSkewFailMs
        ? 'fail'
        : abs > this.#o.clockSkewMaxMs
          ? 'suspect'
          : 'good';
    const where = min < 0 ? 'ahead of' : 'behind';
    out.push({
      check: CLOCK_SKEW_CHECK,
      subject: null,
      status,
      summary: !judged
        ? `clock skew: not judged yet (${n} messages)`
        : `sender clock ${(abs / 1000).toFixed(1)} s ${where} the collector (minimum latency over ${n} messages)`,
      evidence: [
        {
          method: 'clock_skew',
          statistic: judged ? min : null,
          threshold: status === 'fail' ? this.#o.clockSkewFailMs : this.#o.clockSkewMaxMs,
          thresholdOrigin: 'config',
          unit: 'ms',
          detail: {
            minLatencyMs: Number.isFinite(min) ? min : null,
            messages: n,
            windowS: this.#o.clockWindowS,
          },
        },
      ],
      cause: null,
      action: status === 'good' ? 'none' : 'check_clock',
    });
  }

  #judgeJumps(nowMs: number, out: Verdict[]): void {
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

  #judgeReboots(nowMs: number, out: Verdict[]): void {
    const inHour = this.#reboots.filter((t) => nowMs - t < HOUR_MS).length;
    const info = this.#rebootInfo;
    this.#rebootInfo = null; // info is reported once, at the evaluation after the reboot
    const many = inHour >= this.#o.maxRebootsPerHour;
    out.push({
      check: REBOOT_CHECK,
      subject: null,
      status: many || info !== null ? 'suspect' : 'good',
      severity: many ? 'warning' : 'info',
      summary: many
        ? `${inHour} reboots in the last hour (limit ${this.#o.maxRebootsPerHour})`
        : info !== null
          ? `rebooted: bootId ${info.from} -> ${info.to}`
          : `no reboot (${inHour} in the last hour)`,
      evidence: [
        {
          method: 'reboots',
          statistic: inHour,
          threshold: this.#o.maxRebootsPerHour,
          thresholdOrigin: 'config',
          unit: 'per hour',
          detail: {
            bootId: this.bootId,
            ...(info === null ? {} : { previousBootId: info.from, receivedMs: info.atMs }),
          },
        },
      ],
      sinceMs: info?.atMs ?? null,
      cause: null,
      action: many ? 'check_sensor' : 'none',
    });
  }
}
