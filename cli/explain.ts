// `edgeloop explain` (docs/explanations.md, "Offline"): one window's explanation from a bundle on disk,
// for an ML engineer debugging a model: the sensor groups' Shapley contributions to the predicted class
// and the top features of the most important group. The computation is the collector's
// (collector/explain/); this file reads files and prints.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  barChart,
  explainWindow,
  openExplainModel,
  readBundle,
  type WindowExplanation,
} from '../collector/index.ts';
import { parseManifest, type Manifest } from '../shared/bundle/manifest.ts';
import { decodeManifestBytes, verifyBundle } from '../shared/bundle/verify.ts';
import { boolOption, intOption, listOption, parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { loadOnnxSession } from '../shared/platform/onnx.ts';
import type { CliIO, Command } from './commands.ts';
import { exitCodeFor, thrown } from './errors.ts';
import { loadCommandConfig } from './options.ts';

const defaults = {
  bundle: '',
  window: '',
  /** 1-based data row of a CSV --window. */
  row: 1,
  top: 5,
  trustedKey: [] as string[],
  json: false,
};

const schema = z
  .object({
    bundle: z.string().min(1, 'give --bundle <dir|.tar|.tar.gz>'),
    window: z.string().min(1, 'give --window <features.json|features.csv>'),
    row: intOption(1, 1e9, 'rows'),
    top: intOption(1, 100, 'features'),
    trustedKey: listOption,
    json: boolOption,
  })
  .strict();

const help = `edgeloop explain: why a model predicted what it did for one window (docs/explanations.md)

Usage: edgeloop explain --bundle <dir|.tar|.tar.gz> --window <features.json|features.csv> [options]

Runs the bundle's ONNX model in onnxruntime-node as a black box, so it works for bring-your-own models
too. The window's six sensor groups (accelerometer, gyroscope, magnetometer, humidity, pressure,
temperature; a model with other features groups them by name prefix) get exact Shapley values: the
model is run on all 2^G combinations of the window's and the baseline's group values in one batch, where
the baseline is the reference profile's per-feature median. The contributions add up to the predicted
class's probability minus its probability at the baseline. The top features of the most important group
come from occlusion: the predicted probability minus its value with that one feature at its median.

The window is a feature vector in the model's input order:
  features.json   a JSON array of numbers, or an object {"<feature name>": value, ...}, or
                  {"features": {...}} (names are matched to the model's; every input must be present)
  features.csv    a header of feature names (an optional last "label" column is ignored) and rows, as
                  \`edgeloop features\` writes; --row picks the data row

Options (each also a config-file key and an EDGELOOP_* variable; flag > variable > file > default):
  --bundle <path>          bundle directory or archive (required)
  --window <file>          the feature vector (required)
  --row <n>                1-based data row of a CSV window (default 1)
  --top <n>                top features to list (default 5)
  --trusted-key <pub.pem>  verify the bundle's signature with this key first (repeatable); without it
                           the signature is not checked (\`edgeloop registry verify\` does that)
  --json                   print the explanation as JSON (schema in docs/explanations.md)
  --config <file>          JSON file of the keys above
  -h, --help               show this help

Exit codes: 0 explained; 1 the bundle or window cannot be explained (EDGELOOP_ERR_EXPLAIN_INPUT,
EDGELOOP_ERR_EXPLAIN_UNAVAILABLE, EDGELOOP_ERR_BUNDLE_*, EDGELOOP_ERR_ONNX_*); 2 a usage, option or path
error (EDGELOOP_ERR_USAGE, EDGELOOP_ERR_CONFIG_*, EDGELOOP_ERR_PATH).
`;

const options = {
  bundle: { type: 'string' },
  window: { type: 'string' },
  row: { type: 'string' },
  top: { type: 'string' },
  'trusted-key': { type: 'string', multiple: true },
  json: { type: 'boolean' },
  config: { type: 'string' },
} as const;

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_PATH', `${what} ${path}: ${(err as Error).message}`);
  }
}

const inputError = (detail: string) => new EdgeloopError('EDGELOOP_ERR_EXPLAIN_INPUT', detail);

/** Values by name in the model's order; names the first missing feature. */
function byName(names: readonly string[], get: (name: string) => unknown, where: string): Float32Array {
  const missing = names.filter((n) => get(n) === undefined);
  if (missing.length > 0)
    throw inputError(
      `${where} lacks ${missing.length} of the model's ${names.length} features (e.g. ${missing.slice(0, 3).join(', ')})`,
    );
  return Float32Array.from(names, (n) => {
    const v = get(n);
    if (typeof v !== 'number' && v !== null) throw inputError(`${where}: feature ${n} is not a number`);
    return v === null ? Number.NaN : v;
  });
}

/** Reads the window's feature vector in the model's input order. */
export async function readWindow(path: string, row: number, names: readonly string[]): Promise<Float32Array> {
  const text = await readText(path, '--window');
  if (path.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw inputError(`${path} is not JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(value)) {
      if (value.length !== names.length)
        throw inputError(`${path} holds ${value.length} values, the model takes ${names.length}`);
      if (value.some((v) => typeof v !== 'number' && v !== null))
        throw inputError(`${path}: every value must be a number (or null for an imputed feature)`);
      return Float32Array.from(value as (number | null)[], (v) => v ?? Number.NaN);
    }
    const obj = (value as { features?: unknown } | null)?.features ?? value;
    if (typeof obj !== 'object' || obj === null)
      throw inputError(`${path} must hold an array of numbers or an object of features by name`);
    const rec = obj as Record<string, unknown>;
    return byName(names, (n) => rec[n], path);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const data = lines[row];
  if (data === undefined)
    throw inputError(
      `${path} has ${Math.max(0, lines.length - 1)} data rows; --row ${row} is not one of them`,
    );
  const cells = data.split(',');
  const index = new Map(header.map((h, i) => [h, i]));
  return byName(
    names,
    (n) => {
      const i = index.get(n);
      if (i === undefined) return undefined;
      const cell = (cells[i] ?? '').trim();
      const v = cell === '' || cell === 'NaN' ? null : Number(cell);
      return v === null || Number.isFinite(v) ? v : `bad`;
    },
    `${path} row ${row}`,
  );
}

async function openManifest(path: string, trustedKeys: readonly string[]) {
  const contents = await readBundle(path);
  if (!contents.ok) throw thrown(contents, `${path}: `);
  let manifest: Manifest;
  if (trustedKeys.length > 0) {
    const pems = await Promise.all(trustedKeys.map((k) => readText(k, '--trusted-key')));
    const v = verifyBundle({ ...contents.value, trustedKeys: pems });
    if (!v.ok) throw thrown(v, `${path}: `);
    manifest = v.value.manifest;
  } else {
    const decoded = decodeManifestBytes(contents.value.manifest);
    if (!decoded.ok) throw thrown(decoded, `${path}: `);
    const parsed = parseManifest(decoded.value.value);
    if (!parsed.ok) throw thrown(parsed, `${path}: `);
    manifest = parsed.value;
  }
  return { manifest, files: contents.value.files };
}

const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;
const effect = (v: number): string =>
  v !== 0 && Math.abs(v) < 0.001 ? `${v > 0 ? '+' : ''}${v.toExponential(1)}` : signed(v);

export function formatExplanation(model: string, e: WindowExplanation): string {
  const k = e.predictedIndex;
  const lines = [
    `${model} predicts ${e.predicted} (p = ${(e.probabilities[k] ?? 0).toFixed(3)}; at the baseline, the reference medians: ${(e.baselineProbabilities[k] ?? 0).toFixed(3)})`,
    '',
    `Contribution of each sensor group to P(${e.predicted}) (exact Shapley values; they add up to ${signed(e.delta)}):`,
    ...barChart(
      e.groups.map((g) => ({ label: g.group, value: g.contribution, text: signed(g.contribution) })),
    ),
    '',
    `Top features of ${e.topGroup} (P(${e.predicted}) minus its value with the feature at its median):`,
    ...e.topFeatures.map(
      (f) =>
        `  ${f.feature.padEnd(28)} ${effect(f.effect).padStart(8)}   value ${f.value.toPrecision(4)}, median ${f.baseline.toPrecision(4)}` +
        (f.deviation === null ? '' : ` (${f.deviation >= 0 ? '+' : ''}${f.deviation.toFixed(1)} σ)`),
    ),
    '',
    `${e.inferences} model rows run.`,
  ];
  return `${lines.join('\n')}\n`;
}

export const explainCommand: Command = {
  summary: "explain one window's prediction offline: sensor-group contributions and top features",
  help,
  async run(argv, io) {
    try {
      return await explain(argv, io);
    } catch (err) {
      if (!(err instanceof EdgeloopError)) throw err;
      io.stderr.write(`edgeloop explain: ${err.message} [${err.code}]\n`);
      return exitCodeFor(err.code);
    }
  },
};

async function explain(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCliArgs(argv, options, false);
  const cfg = loadCommandConfig(
    {
      command: 'explain',
      defaults,
      schema,
      env: io.env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    },
    values,
  );
  const { manifest, files } = await openManifest(cfg.bundle, cfg.trustedKey);
  const opened = await openExplainModel(
    manifest,
    (p) => files.get(p),
    (b) => loadOnnxSession(b),
  );
  if (!opened.ok) throw thrown(opened);
  const model = opened.value;
  try {
    const names = model.featureNames;
    const features = await readWindow(cfg.window, cfg.row, names);
    const layout = model.layout(names);
    if (!layout.ok) throw thrown(layout);
    const e = await explainWindow({
      predictor: model.predictor,
      labels: model.labels,
      featureNames: names,
      groups: layout.value.groups,
      features,
      baseline: layout.value.baseline,
      scales: layout.value.scales,
      topFeatures: cfg.top,
    });
    if (!e.ok) throw thrown(e);
    const ref = `${manifest.name}@${manifest.version}`;
    io.stdout.write(
      cfg.json
        ? `${JSON.stringify({ model: model.ref, signatureChecked: cfg.trustedKey.length > 0, ...e.value }, null, 2)}\n`
        : formatExplanation(ref, e.value),
    );
    if (!cfg.json && cfg.trustedKey.length === 0)
      io.stderr.write('note: the bundle signature was not checked (pass --trusted-key to check it)\n');
    return 0;
  } finally {
    await model.close();
  }
}
