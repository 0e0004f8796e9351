// Result rows for monitor_results, bounded (docs/monitors.md, "Result rows"): one row per device, check
// and subject judged, written when its status changes and otherwise at most once per resultIntervalMs.
// Never one per feature per cycle: a group's features ride in the row's details.

import type { MonitorResultInput } from '../../storage/types.ts';

export class ResultThrottle {
  private readonly last = new Map<string, { status: string; atMs: number }>();
  constructor(private readonly intervalMs: number) {}

  /** Adds the row to out when its status changed or the interval passed for its subject. */
  offer(row: MonitorResultInput, out: MonitorResultInput[]): void {
    this.offerLazy(row.monitor, row.channel, row.status, row.tsMs, () => row, out);
  }

  /** As offer(), building the row only when it is written (most evaluations write none). */
  offerLazy(
    monitor: string,
    channel: string | null,
    status: string,
    tsMs: number,
    build: () => MonitorResultInput,
    out: MonitorResultInput[],
  ): void {
    const key = `${monitor}|${channel ?? '*'}`;
    const prev = this.last.get(key);
    if (prev !== undefined && prev.status === status && tsMs - prev.atMs < this.intervalMs) return;
    this.last.set(key, { status, atMs: tsMs });
    out.push(build());
  }
}
