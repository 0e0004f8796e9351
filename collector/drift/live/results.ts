// Result rows for monitor_results, bounded (docs/monitors.md, "Result rows"): one row per device, check
// and subject judged, written when its status changes and otherwise at most once per resultIntervalMs.
// Never one per feature per cycle: a group's features ride in the row's details.

import type { MonitorResultInput } from '../../storage/types.ts';

export class ResultThrottle {
  private readonly last = new Map<string, { status: string; atMs: number }>();
  constructor(private readonly intervalMs: number) {}

  /** Adds the row to out when its status changed or the interval passed for its subject. */
  offer(row: MonitorResultInput, out: MonitorResultInput[]): void {
    const key = `${row.monitor}|${row.channel ?? '*'}`;
    const prev = this.last.get(key);
    if (prev !== undefined && prev.status === row.status && row.tsMs - prev.atMs < this.intervalMs) return;
    this.last.set(key, { status: row.status, atMs: row.tsMs });
    out.push(row);
  }
}
