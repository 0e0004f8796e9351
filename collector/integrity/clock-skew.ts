// Check 3a, sender clock skew (docs/integrity.md §Central checks): latency = receivedMs − tsMs. Transport
// and backlog only ADD latency (an agent's outbox replays old windows after an outage: tsMs old,
// receivedMs new), so the MINIMUM latency over the last clockWindowS of receive time is the best estimate
// of how far the sender's clock is behind ours. "Behind" is judged only once the device has been heard for
// a whole window, so a broker backlog delivered after a collector restart is not mistaken for skew;
// "ahead" (a tsMs in our future) cannot come from latency and is judged at once. Status messages are left
// out: they are retained, and a retained message is old by design.

import type { IntegrityMonitorOptions } from './options.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const CLOCK_SKEW_CHECK = 'integrity.clock_skew';

/** Buckets of receive time in the ring; the minimum latency is kept per bucket. */
const BUCKETS = 12;

export class ClockSkewCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  readonly #bucketMs: number;
  readonly #bucketStart = new Float64Array(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  readonly #bucketMin = new Float64Array(BUCKETS);
  readonly #bucketCount = new Uint32Array(BUCKETS);
  #firstTelemetryMs = Number.NaN;

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
    this.#bucketMs = (o.clockWindowS * 1000) / BUCKETS;
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind === 'telemetry') this.#latency(input.receivedMs, input.receivedMs - m.payload.tsMs);
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

  judge(nowMs: number, out: Verdict[]): void {
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
}
