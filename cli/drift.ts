// `edgeloop drift` (issue #9 §5): offline drift analysis of a current CSV against a reference CSV or a
// bundle's reference profile, column by column, with every score, threshold and its origin, n and n_eff
// and a verdict (docs/drift.md). This file reads files, wires and prints; the statistics are the
// collector's (collector/drift/), which the central monitors reuse.

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  currentFromColumn,
  driftDefaults,
  evaluateColumn,
  NumericCsvParser,
  referenceFromColumn,
  referenceFromProfile,
  type ColumnResult,
  type DriftOptions,
  type NumericCsv,
} from '../collector/index.ts';
import { parseReferenceProfile, REFERENCE_FILE, type ReferenceProfile } from '../shared/bundle/reference.ts';
import { intOption, listOption, boolOption, parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import type { Command } from './commands.ts';
import { thrown } from './errors.ts';
import { loadCommandConfig } from './options.ts';

export const driftCliDefaults = {
  /** Reference: a CSV, a bundle directory, or a reference.json file. */
  reference: '',
  /** Current data: a CSV with a header row. */
  current: '',
  /** Print JSON instead of the table. */
  json: false,
  /** Columns to compare; empty = every column of the current CSV. */
  columns: [] as string[],
  /** Calibration chunk size, rows; 0 = auto (the current row count, at most reference rows / 20 and 5000). */
  chunkRows: 0,
  /** Physical floor: smallest mean shift worth an alert, in reference scales. */
  floor: driftDefaults.floorScale,
  /** Reference scale: std or mad (1.4826·MAD). */
  scale: 'std' as 'std' | 'mad',
  /** KS significance on effective sample sizes. */
  ksAlpha: driftDefaults.ksAlpha,
  /** Methods that must agree for a column to drift (of 4). */
  minVotes: driftDefaults.minVotes,
  /** Fewest finite values per column to judge. */
  minSamples: driftDefaults.minSamples,
  /** CUSUM window, rows; 0 = auto. */
  cusumWindowRows: driftDefaults.cusumWindowRows,
  /** CUSUM false-alarm probability over the whole current column. */
  cusumFalseAlarm: driftDefaults.cusumFalseAlarm,
  /** Seed of the AR(1) surrogate used with bundle references. */
  seed: 1,
};

const floorExpected = 'expected a number of reference scales, 0..100';
const probability = (what: string) => {
  const expected = `expected ${what} in (0, 1), e.g. 0.01`;
  return z.coerce.number({ error: expected }).gt(0, expected).lt(1, expected);
};

const schema = z
  .object({
    reference: z.string().min(1, 'give --reference <csv|bundle dir|reference.json>'),
    current: z.string().min(1, 'give --current <csv>'),
    json: boolOption,
    columns: listOption,
    chunkRows: intOption(0, 10_000_000, 'rows'),
    floor: z.coerce.number({ error: floorExpected }).min(0, floorExpected).max(100, floorExpected),
    scale: z.enum(['std', 'mad'], { error: 'expected std or mad' }),
    ksAlpha: probability('the KS test significance level'),
    minVotes: intOption(1, 4, 'votes'),
    minSamples: intOption(2, 1e9, 'samples'),
    cusumWindowRows: intOption(0, 1e7, 'rows'),
    cusumFalseAlarm: probability('the CUSUM false-alarm probability'),
    seed: intOption(0, 2 ** 32 - 1),
  })
  .strict();
export type DriftCliConfig = Readonly<z.output<typeof schema>>;

const help = `edgeloop drift: compare current data with a reference, column by column (docs/drift.md)

Usage: edgeloop drift --reference <csv|bundle dir|reference.json> --current <csv> [options]

Both CSVs have a header row of column names (one column per channel or feature) and one row per sample
or window in time order (order matters: autocorrelation is measured on it). Empty cells and NaN are
counted and left out. With a bundle directory, its reference.json (the model's reference profile) is the
reference; the bundle's signature is not checked here (\`edgeloop registry verify\` does that).

Each column is scored by four methods: Wasserstein-1 in reference σ, PSI on the reference bins, KS D with
a p-value on the AR(1) effective sample size, and a CUSUM on window means. Each threshold is calibrated on
consecutive reference chunks (so autocorrelation counts) and never below a physical floor; a column
drifts when --min-votes methods agree, and says insufficient_data when it is too short to judge.

Options (each also a config-file key and an EDGELOOP_* variable; flag > variable > file > default):
  --reference <path>         reference CSV, bundle directory or reference.json (required)
  --current <file.csv>       current CSV (required)
  --json                     print the JSON report (schema in docs/drift.md) instead of the table
  --columns <a,b,...>        columns to compare (default: every column of the current CSV)
  --chunk-rows <n>           calibration chunk, rows (default 0: auto, the current length, at most
                             reference rows / 20 and 5000)
  --floor <x>                physical floor: smallest mean shift worth an alert, in reference scales
                             (default 0.1)
  --scale <std|mad>          reference scale for W1 and the floor (default std; mad = 1.4826 MAD)
  --ks-alpha <p>             KS significance on effective sample sizes (default 0.01)
  --min-votes <n>            methods that must agree for a column to drift, 1-4 (default 2)
  --min-samples <n>          fewest finite values per column to judge (default 100)
  --cusum-window-rows <n>    CUSUM window, rows (default 0: auto, 10 correlation times, 50-1000)
  --cusum-false-alarm <p>    CUSUM false-alarm probability over the column (default 0.01)
  --seed <n>                 seed of the AR(1) surrogate for bundle references (default 1)
  --config <file>            JSON file of the keys above
  -h, --help                 show this help

Exit codes: 0 no column drifted (some may be insufficient_data), 1 at least one column drifted,
2 bad input (EDGELOOP_ERR_DRIFT_CSV, EDGELOOP_ERR_DRIFT_CSV_EMPTY, EDGELOOP_ERR_DRIFT_COLUMN_MISSING,
EDGELOOP_ERR_PATH, EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID, EDGELOOP_ERR_CONFIG_*, EDGELOOP_ERR_USAGE).
`;

const options = {
  reference: { type: 'string' },
  current: { type: 'string' },
  json: { type: 'boolean' },
  columns: { type: 'string' },
  'chunk-rows': { type: 'string' },
  floor: { type: 'string' },
  scale: { type: 'string' },
  'ks-alpha': { type: 'string' },
  'min-votes': { type: 'string' },
  'min-samples': { type: 'string' },
  'cusum-window-rows': { type: 'string' },
  'cusum-false-alarm': { type: 'string' },
  seed: { type: 'string' },
  config: { type: 'string' },
} as const;

export function loadDriftConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): DriftCliConfig {
  const { values } = parseCliArgs(argv, options, false);
  return loadCommandConfig(
    {
      command: 'drift',
      defaults: driftCliDefaults,
      schema,
      env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    },
    values,
  );
}

/** Streams a CSV file through the numeric parser (1 MiB reads). */
export async function readNumericCsv(path: string, wanted: readonly string[] | null): Promise<NumericCsv> {
  const parser = new NumericCsvParser(path, wanted);
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const bad = parser.push(chunk as Buffer);
      if (bad !== null) throw thrown(bad);
    }
  } catch (err) {
    if (err instanceof EdgeloopError) throw err;
    throw new EdgeloopError('EDGELOOP_ERR_PATH', `${path}: ${(err as Error).message}`);
  }
  const r = parser.end();
  if (!r.ok) throw thrown(r);
  return r.value;
}

async function readProfile(path: string): Promise<ReferenceProfile> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) {
      // The manifest names the reference file; an unsigned or partial directory falls back to the default name.
      let rel = REFERENCE_FILE;
      try {
        const m = JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8')) as {
          reference?: { path?: unknown };
        };
        if (typeof m.reference?.path === 'string') rel = m.reference.path;
      } catch {
        // no manifest: reference.json
      }
      file = join(path, rel);
    }
    const r = parseReferenceProfile(new Uint8Array(await readFile(file)));
    if (!r.ok) throw thrown(r, `${file}: `);
    return r.value;
  } catch (err) {
    if (err instanceof EdgeloopError) throw err;
    throw new EdgeloopError('EDGELOOP_ERR_PATH', `${file}: ${(err as Error).message}`);
  }
}

async function isCsv(path: string): Promise<boolean> {
  try {
    return !(await stat(path)).isDirectory() && !path.endsWith('.json');
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_PATH', `--reference ${path}: ${(err as Error).message}`);
  }
}

export interface DriftReport {
  readonly schemaVersion: 1;
  readonly reference: { readonly path: string; readonly kind: 'csv' | 'bundle'; readonly rows: number };
  readonly current: { readonly path: string; readonly rows: number };
  readonly options: DriftOptions & { readonly scale: 'std' | 'mad'; readonly chunkRows: number };
  readonly verdict: 'ok' | 'drift';
  readonly summary: {
    readonly columns: number;
    readonly drift: number;
    readonly ok: number;
    readonly insufficientData: number;
  };
  readonly columns: readonly ColumnResult[];
}

/** Runs the whole comparison (exported for tests and the benchmark). */
export async function runDrift(cfg: DriftCliConfig): Promise<DriftReport> {
  const opts: DriftOptions = {
    ...driftDefaults,
    floorScale: cfg.floor,
    ksAlpha: cfg.ksAlpha,
    minVotes: cfg.minVotes,
    minSamples: cfg.minSamples,
    cusumWindowRows: cfg.cusumWindowRows,
    cusumFalseAlarm: cfg.cusumFalseAlarm,
  };
  const current = await readNumericCsv(cfg.current, cfg.columns.length > 0 ? cfg.columns : null);
  const prep = { scale: cfg.scale, chunkRows: cfg.chunkRows, currentRows: current.rows, seed: cfg.seed };
  const columns: ColumnResult[] = [];
  let kind: 'csv' | 'bundle';
  let refRows: number;
  if (await isCsv(cfg.reference)) {
    kind = 'csv';
    const ref = await readNumericCsv(cfg.reference, current.columns);
    refRows = ref.rows;
    current.columns.forEach((name, i) => {
      const r = referenceFromColumn(name, ref.values[i] as Float64Array, prep);
      columns.push(evaluateColumn(r, currentFromColumn(name, current.values[i] as Float64Array), opts));
    });
  } else {
    kind = 'bundle';
    const profile = await readProfile(cfg.reference);
    refRows = profile.rows;
    const missing = current.columns.filter((c) => !profile.features.some((f) => f.name === c));
    if (missing.length > 0)
      throw new EdgeloopError(
        'EDGELOOP_ERR_DRIFT_COLUMN_MISSING',
        `${cfg.reference}: the reference profile has no feature ${missing
          .slice(0, 5)
          .map((c) => `"${c}"`)
          .join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`,
      );
    current.columns.forEach((name, i) => {
      const f = profile.features.find((x) => x.name === name);
      if (f === undefined) return;
      const r = referenceFromProfile(f, profile.chunkScores, prep);
      columns.push(evaluateColumn(r, currentFromColumn(name, current.values[i] as Float64Array), opts));
    });
  }
  const drift = columns.filter((c) => c.verdict === 'drift').length;
  const insufficientData = columns.filter((c) => c.verdict === 'insufficient_data').length;
  return {
    schemaVersion: 1,
    reference: { path: cfg.reference, kind, rows: refRows },
    current: { path: cfg.current, rows: current.rows },
    options: { ...opts, scale: cfg.scale, chunkRows: cfg.chunkRows },
    verdict: drift > 0 ? 'drift' : 'ok',
    summary: {
      columns: columns.length,
      drift,
      ok: columns.length - drift - insufficientData,
      insufficientData,
    },
    columns,
  };
}

const num = (x: number, d = 4): string => (Number.isFinite(x) ? Number(x.toPrecision(d)).toString() : '-');

/** The readable table: one line per column, then one per method. */
export function formatDriftTable(r: DriftReport): string {
  const lines = [
    `reference ${r.reference.path} (${r.reference.kind}, ${r.reference.rows} rows); current ${r.current.path} (${r.current.rows} rows)`,
    '',
    `${'column'.padEnd(24)} ${'verdict'.padEnd(17)} ${'votes'.padEnd(5)} ${'n'.padStart(8)} ${'n_eff'.padStart(8)} ${'lag1'.padStart(6)} ${'shift'.padStart(8)}`,
    `  ${'method'.padEnd(12)} ${'score'.padStart(10)} ${'threshold'.padStart(10)}  origin`,
  ];
  for (const c of r.columns) {
    lines.push(
      `${c.name.padEnd(24)} ${c.verdict.padEnd(17)} ${`${c.votes.drift}/${c.votes.decisive}`.padEnd(5)} ${String(c.n).padStart(8)} ${num(c.nEff, 5).padStart(8)} ${num(c.lag1, 3).padStart(6)} ${`${num(c.meanShiftScales, 3)}${c.reference.scaleBasis === 'std' ? 'σ' : 'mad'}`.padStart(8)}`,
    );
    for (const m of c.methods) {
      const mark =
        m.verdict === 'drift'
          ? ' *'
          : m.verdict === 'insufficient_data'
            ? ` (insufficient_data: ${m.note ?? ''})`
            : '';
      const p =
        m.evidence.pValue === undefined
          ? ''
          : `, p_eff ${num(m.evidence.pValue, 2)} (i.i.d. p ${num(m.evidence.pValueIid ?? Number.NaN, 2)})`;
      lines.push(
        `  ${m.method.padEnd(12)} ${num(m.score).padStart(10)} ${num(m.threshold?.value ?? Number.NaN).padStart(10)}  ${m.threshold?.origin ?? '-'}${p}${mark}`,
      );
    }
  }
  const s = r.summary;
  lines.push(
    '',
    `${s.drift} of ${s.columns} columns drift, ${s.ok} ok, ${s.insufficientData} insufficient_data (* = method says drift)`,
  );
  return `${lines.join('\n')}\n`;
}

export const driftCommand: Command = {
  summary: 'compare current data with a reference (CSV or bundle), column by column',
  help,
  async run(argv, io) {
    const cfg = loadDriftConfig(argv, io.env);
    const report = await runDrift(cfg);
    io.stdout.write(cfg.json ? `${JSON.stringify(report, null, 2)}\n` : formatDriftTable(report));
    return report.verdict === 'drift' ? 1 : 0;
  },
};
