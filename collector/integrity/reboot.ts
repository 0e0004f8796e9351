// Check 3c, reboots (docs/integrity.md §Central checks): a bootId (telemetry, or a status other than the
// last will, whose bootId may be stale) not among the last few seen is a reboot: reported once as info at
// the next evaluation; maxRebootsPerHour within an hour is suspect (warning). The first bootId seen of a
// device is not a reboot.

import type { IntegrityMonitorOptions } from './options.ts';
import type { CheckInput, DeviceCheck, Verdict } from './types.ts';

export const REBOOT_CHECK = 'integrity.reboot';

const BOOTS_KEPT = 4;
const HOUR_MS = 3_600_000;

export class RebootCheck implements DeviceCheck {
  readonly #o: IntegrityMonitorOptions;
  #boots: number[] = [];
  #reboots: number[] = [];
  #rebootInfo: { from: number; to: number; atMs: number } | null = null;
  /** The device's current boot id, or null before any. */
  bootId: number | null = null;

  constructor(o: IntegrityMonitorOptions) {
    this.#o = o;
  }

  observe(input: CheckInput): void {
    const m = input.message;
    if (m.kind === 'status' && m.payload.bootId !== null && m.payload.msgSeq !== 0)
      this.#boot(m.payload.bootId, input.receivedMs);
    if (m.kind === 'telemetry') this.#boot(m.payload.bootId, input.receivedMs);
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

  judge(nowMs: number, out: Verdict[]): void {
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
