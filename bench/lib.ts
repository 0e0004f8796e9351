// Helpers for the standalone benchmarks in bench/. Each bench script prints one Markdown section; bench/run.ts
// runs them all and writes docs/benchmarks.md. Timings are medians of repeated runs, each reported with a
// baseline measured in the same run, because this is a shared, noisy 2-core machine.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs `fn` `runs` times (after `warmup` runs) and returns the wall time of each run in milliseconds. */
export async function timeRuns(fn: () => unknown, runs = 7, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/** CPU time (user+system) of this process in ms while `fn` runs. */
export async function cpuMs(fn: () => unknown): Promise<{ wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const c = process.cpuUsage(c0);
  return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (c.user + c.system) / 1000 };
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  return Number(x.toPrecision(digits)).toString();
}

export interface Row {
  readonly metric: string;
  readonly median: number | string;
  readonly baseline?: number | string;
  readonly unit?: string;
  /** Defaults to median / baseline when both are numbers. */
  readonly ratio?: number | string;
}

export function section(
  title: string,
  command: string,
  rows: readonly Row[],
  notes: readonly string[] = [],
): string {
  const cell = (v: number | string | undefined): string =>
    v === undefined ? '' : typeof v === 'number' ? fmt(v) : v;
  const lines = rows.map((r) => {
    const ratio =
      r.ratio ??
      (typeof r.median === 'number' && typeof r.baseline === 'number' && r.baseline !== 0
        ? `${fmt(r.median / r.baseline)}x`
        : '');
    return `| ${r.metric} | ${cell(r.median)}${r.unit === undefined ? '' : ` ${r.unit}`} | ${cell(r.baseline)}${
      r.unit === undefined || r.baseline === undefined ? '' : ` ${r.unit}`
    } | ${typeof ratio === 'number' ? `${fmt(ratio)}x` : ratio} |`;
  });
  return [
    `## ${title}`,
    '',
    `Reproduce: \`${command}\``,
    '',
    '| metric | median | baseline | ratio |',
    '| --- | --- | --- | --- |',
    ...lines,
    ...(notes.length > 0 ? ['', ...notes] : []),
    '',
  ].join('\n');
}
