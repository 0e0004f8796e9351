// `edgeloop features` (issue #8 §5): the feature pipeline's vectors as a CSV, for an ML engineer who
// trains elsewhere and for `registry push --onnx --dataset`. This file parses, wires and prints: the bytes
// become rows in the agent (featureRows, the agent's own ingest path), lab data comes from the collector
// (generateLabData over firmware-sim's boards), and the CSV format is shared/features/csv.ts.

import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { featureRows } from '../agent/index.ts';
import { generateLabData } from '../collector/index.ts';
import { createBoard, loadScenario } from '../firmware-sim/index.ts';
import { boolOption, intOption, listOption, parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { featureCsvHeader, featureCsvRow } from '../shared/features/csv.ts';
import type { Command, CliIO } from './commands.ts';
import { firmwareSimLab } from './lab-simulator.ts';
import { loadCommandConfig } from './options.ts';

export const featuresDefaults = {
  /** A serial capture file ('-' for stdin), as `edgeloop decode` reads. */
  capture: '',
  /** A bundled scenario name or scenario file, simulated in memory. */
  scenario: '',
  /** The labelled lab data generator (the data `edgeloop train` trains on). */
  lab: false,
  /** Output CSV file; '' writes to stdout. */
  out: '',
  /** Overwrite --out when it exists (default: refuse). */
  force: false,
  /** Window length and hop, ms (the agent's default). */
  windowMs: 1000,
  /** Keep windows whose integrity status is fail (capture, scenario). */
  keepFailed: false,
  /** capture: auto | binary | csv. */
  mode: 'auto' as 'auto' | 'binary' | 'csv',
  /** capture, CSV mode: column names. */
  csvChannels: [] as string[],
  /** capture, CSV mode: line rate, Hz (CSV lines carry no times). */
  csvRateHz: 1000,
  /** scenario and lab: simulator seed. */
  seed: 1,
  /** scenario: device time, s; 0 = the scenario's own duration (60 s when it has none). */
  durationS: 0,
  /** lab: simulated devices per machine state. */
  devicesPerState: 6,
  /** lab: device time per device, s. */
  secondsPerDevice: 30,
  /** lab: machine states; empty = all. */
  states: [] as string[],
};

const MAX_DURATION_S = 7 * 24 * 3600;
const durationExpected = `expected seconds > 0, at most ${MAX_DURATION_S} (0 = the scenario's own duration)`;
const csvRateExpected = 'expected a rate in Hz > 0, at most 100000';

const schema = z
  .object({
    capture: z.string(),
    scenario: z.string(),
    lab: boolOption,
    out: z.string(),
    force: boolOption,
    windowMs: intOption(10, 60_000, 'ms'),
    keepFailed: boolOption,
    mode: z.enum(['auto', 'binary', 'csv'], { error: 'expected auto, binary or csv' }),
    csvChannels: listOption,
    csvRateHz: z.coerce
      .number({ error: csvRateExpected })
      .positive(csvRateExpected)
      .max(100_000, csvRateExpected),
    seed: intOption(0, 2 ** 32 - 1),
    durationS: z.coerce
      .number({ error: durationExpected })
      .min(0, durationExpected)
      .max(MAX_DURATION_S, durationExpected),
    devicesPerState: intOption(1, 1000, 'devices'),
    secondsPerDevice: intOption(1, 86_400, 'seconds'),
    states: listOption,
  })
  .strict();

export type FeaturesConfig = Readonly<z.output<typeof schema>>;

const help = `edgeloop features: write the feature pipeline's vectors as a CSV

Usage: edgeloop features --capture <file|-> [options]     from a serial capture (as edgeloop decode reads)
       edgeloop features --scenario <name|file> [options] from a simulated board playing a scenario
       edgeloop features --lab [options]                  labelled lab data (what edgeloop train uses)

The CSV's header is the pipeline's feature names in vector order (docs/features.md), one row per window
in time order, each value the float32 the agent feeds the model; with --lab a last column "label" holds the
machine state. It is the --dataset that \`edgeloop registry push --onnx\` takes, and what an external
trainer reads (pandas.read_csv). Windows with an imputed channel (too little data for a sensor) are left
out, and so are integrity failures (a broken sensor) unless --keep-failed. A summary goes to stderr.

Options (each also a config-file key and an EDGELOOP_* variable; flag > variable > file > default):
  --out <file.csv>            output file (default: stdout); an existing file is refused unless --force
  --force                     overwrite an existing --out file (default false)
  --window-ms <ms>            window length and hop, ms (default 1000, as the agent)
  --keep-failed               keep windows whose integrity status is fail (default false)
Capture:
  --capture <file|->          capture file, or - for stdin
  --mode <m>                  auto | binary | csv (default auto)
  --csv-channels <list>       CSV column names, e.g. accel.x,accel.y,accel.z
  --csv-rate-hz <hz>          CSV line rate, Hz (default 1000): CSV captures carry no times
Scenario:
  --scenario <name|file>      bundled scenario or scenario file; see \`edgeloop sim --list\`
  --seed <n>                  simulator seed (default 1)
  --duration <s>              device time, s (default 0: the scenario's duration, or 60 s)
Lab data:
  --lab                       simulate each machine state on several devices (labelled)
  --seed <n>                  seed (default 1)
  --devices-per-state <n>     devices per machine state (default 6)
  --seconds-per-device <s>    device time per device, s (default 30)
  --states <list>             machine states (default: all)
  --config <file>             JSON file of the keys above
  -h, --help                  show this help
`;

const options = {
  capture: { type: 'string' },
  scenario: { type: 'string' },
  lab: { type: 'boolean' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  'window-ms': { type: 'string' },
  'keep-failed': { type: 'boolean' },
  mode: { type: 'string' },
  'csv-channels': { type: 'string' },
  'csv-rate-hz': { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  'devices-per-state': { type: 'string' },
  'seconds-per-device': { type: 'string' },
  states: { type: 'string' },
  config: { type: 'string' },
} as const;

export function loadFeaturesConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): FeaturesConfig {
  const { values } = parseCliArgs(argv, options, false);
  return loadCommandConfig(
    {
      command: 'features',
      defaults: featuresDefaults,
      schema,
      env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
      crossCheck: (c) => {
        const sources = [c.capture !== '', c.scenario !== '', c.lab].filter(Boolean).length;
        if (sources !== 1)
          throw new EdgeloopError(
            'EDGELOOP_ERR_USAGE',
            'give exactly one source: --capture <file|->, --scenario <name|file> or --lab',
          );
      },
    },
    values,
    { duration: 'durationS' },
  );
}

interface Table {
  readonly featureNames: readonly string[];
  readonly rows: readonly { readonly values: ArrayLike<number>; readonly label?: string }[];
  readonly note: string;
}

/** A simulated board's wire bytes, one second of device time at a time. */
async function* boardBytes(board: { generate(untilUs: number): Uint8Array }, seconds: number) {
  for (let s = 1; s <= seconds; s++) {
    yield board.generate(s * 1e6);
    await Promise.resolve(); // let a SIGINT through on long runs
  }
}

async function fromBytes(
  source: AsyncIterable<Uint8Array>,
  cfg: FeaturesConfig,
  what: string,
): Promise<Table> {
  const r = await featureRows(source, {
    mode: cfg.mode,
    windowMs: cfg.windowMs,
    csvRateHz: cfg.csvRateHz,
    keepFailed: cfg.keepFailed,
    ...(cfg.csvChannels.length > 0 ? { csvChannels: cfg.csvChannels } : {}),
  });
  if (!r.ok) throw new EdgeloopError(r.code, `${what}: ${r.message}`);
  const { windows, kept, skipped } = r.value;
  return {
    featureNames: r.value.featureNames,
    rows: r.value.rows,
    note: `${kept} of ${windows} windows (skipped: ${skipped.integrityFail} integrity fail, ${skipped.imputed} imputed)`,
  };
}

async function table(cfg: FeaturesConfig, io: CliIO): Promise<Table> {
  if (cfg.capture !== '') {
    const input = cfg.capture === '-' ? process.stdin : createReadStream(cfg.capture);
    return fromBytes(input as AsyncIterable<Uint8Array>, cfg, cfg.capture === '-' ? 'stdin' : cfg.capture);
  }
  if (cfg.scenario !== '') {
    const scenario = loadScenario(cfg.scenario);
    if (!scenario.ok) throw new EdgeloopError(scenario.code, scenario.message);
    const seconds =
      cfg.durationS > 0 ? cfg.durationS : scenario.value.durationS > 0 ? scenario.value.durationS : 60;
    const board = createBoard({ scenario: scenario.value, seed: cfg.seed });
    return fromBytes(boardBytes(board, Math.ceil(seconds)), cfg, `scenario ${scenario.value.name}`);
  }
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: cfg.seed,
    devicesPerState: cfg.devicesPerState,
    secondsPerDevice: cfg.secondsPerDevice,
    windowMs: cfg.windowMs,
    ...(cfg.states.length > 0 ? { states: cfg.states } : {}),
    signal: io.signal,
    onProgress: (p) => {
      io.stderr.write(`lab data: device ${p.done}/${p.of} (${p.state})\n`);
    },
  });
  if (!lab.ok) throw new EdgeloopError(lab.code, lab.message);
  const perClass = Object.entries(lab.value.summary.perClass)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return {
    featureNames: lab.value.featureNames,
    rows: lab.value.rows.map((r) => ({ values: r.features, label: r.label })),
    note: `${lab.value.rows.length} labelled windows (${perClass})`,
  };
}

export const featuresCommand: Command = {
  summary: 'write feature vectors as a CSV (from a capture, a scenario or lab data)',
  help,
  async run(argv, io) {
    const cfg = loadFeaturesConfig(argv, io.env);
    let t: Table;
    try {
      t = await table(cfg, io);
    } catch (err) {
      // --lab stops between devices on SIGINT by throwing the signal's reason.
      if (io.signal.aborted && err === io.signal.reason) return 130;
      throw err;
    }
    let out: NodeJS.WritableStream = io.stdout;
    if (cfg.out !== '') {
      try {
        out = (await open(cfg.out, cfg.force ? 'w' : 'wx')).createWriteStream();
      } catch (err) {
        const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
        throw new EdgeloopError(
          'EDGELOOP_ERR_PATH',
          `--out ${cfg.out}: ${exists ? 'the file exists (pass --force to overwrite it)' : (err as Error).message}`,
        );
      }
    }
    // once() rejects on 'error', so a write failure (disk full, a closed pipe) ends the command.
    const write = async (line: string): Promise<void> => {
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    };
    await write(featureCsvHeader(t.featureNames, cfg.lab));
    for (const r of t.rows) await write(featureCsvRow(r.values, cfg.lab ? r.label : undefined));
    if (out !== io.stdout) {
      out.end();
      await finished(out);
    }
    io.stderr.write(
      `edgeloop features: ${t.rows.length} rows x ${t.featureNames.length} features${cfg.lab ? ' + label' : ''} to ${cfg.out === '' ? 'stdout' : cfg.out}: ${t.note}\n`,
    );
    return 0;
  },
};
