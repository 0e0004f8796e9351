// `edgeloop train` (issue #3 §2-5): lab data from firmware-sim scenarios -> seeded grouped split ->
// hyperparameter search -> final fit -> ONNX export -> test report -> signed bundle on disk, and
// optionally a push to the registry and an alias move. docs/training.md "edgeloop train" documents it.

import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { createSignedBundle } from '../shared/bundle/build.ts';
import { generateSigningKeyPair, keyIdFromPem, manifestDigest } from '../shared/bundle/signing.ts';
import {
  collectLineageEnv,
  DEFAULT_SEARCH_SPACE,
  generateLabData,
  trainBundleFiles,
  trainModel,
  writeBundleDir,
  type SearchOptions,
  type TrainModelResult,
} from '../collector/index.ts';
import type { Command, CliIO } from './commands.ts';
import { firmwareSimLab } from './lab-simulator.ts';
import { createProgress, type ProgressStep } from './progress.ts';

export const TRAIN_DEFAULTS = Object.freeze({
  seed: 1,
  search: 'random',
  trials: 8,
  folds: 3,
  secondsPerDevice: 30,
  devicesPerState: 6,
  testFraction: 0.2,
  name: 'machine-condition',
  version: '0.1.0',
});

const help = `edgeloop train: build a labelled dataset, train, test and export a signed model bundle

Usage: edgeloop train --out <dir> [options]

Simulates firmware-sim boards in every machine state (normal, imbalance, misalignment, bearing_wear,
overheating), decodes, windows (1 s) and featurizes their serial streams exactly as the agent does,
labels each window with the true state, splits by device-minute, searches hyperparameters on grouped
validation folds, fits the final model, tests it, exports ONNX and writes a signed bundle.

Data:
  --seed <n>                  integer seed for the lab data, split, folds, search and weights. Default ${TRAIN_DEFAULTS.seed}.
  --devices-per-state <n>     simulated devices per machine state. Default ${TRAIN_DEFAULTS.devicesPerState}.
  --seconds-per-device <s>    device time simulated per device, seconds (one 1 s window each). Default ${TRAIN_DEFAULTS.secondsPerDevice}.
  --test-fraction <x>         share of each class's device-minutes held out for test, in (0, 1). Default ${TRAIN_DEFAULTS.testFraction}.

Search:
  --search grid|random        hyperparameter search. Default ${TRAIN_DEFAULTS.search}.
  --trials <n>                search budget, trials (grid: at most the grid size). Default ${TRAIN_DEFAULTS.trials}.
  --folds <n>                 validation folds (>= 2), grouped by device-minute. Default ${TRAIN_DEFAULTS.folds}.
  --hidden <list>             hidden-unit candidates, comma-separated (0 = softmax regression). Default ${DEFAULT_SEARCH_SPACE.hidden.join(',')}.
  --epochs <list>             epoch candidates, comma-separated. Default ${DEFAULT_SEARCH_SPACE.epochs.join(',')}.

Bundle:
  --out <dir>                 bundle directory to write; must be absent or empty. Required.
  --name <name>               model name (lowercase, digits, . _ -). Default ${TRAIN_DEFAULTS.name}.
  --version <x.y.z>           model version. Default ${TRAIN_DEFAULTS.version}.
  --key <file>                Ed25519 private key (PEM, from edgeloop keygen) that signs the bundle.
                              Default: a fresh ephemeral key, written beside the bundle as
                              <out>.signing.key / <out>.signing.pub (a warning says so).

Registry (optional):
  --push <url>                push the bundle to this registry (e.g. http://127.0.0.1:8470). Default: no push.
  --token <token>             bearer token for --push. Env EDGELOOP_REGISTRY_TOKEN.
  --promote <alias>           after pushing, move staging|canary|production to this version. Default: none.
  -h, --help                  show this help.

Progress goes to stderr (a bar on a terminal, plain lines otherwise); the test summary and the bundle
path go to stdout. Exit codes: 0 done, 1 failed (message carries an EDGELOOP_ERR_* code), 2 usage.
`;

const options = {
  out: { type: 'string' },
  seed: { type: 'string' },
  search: { type: 'string' },
  trials: { type: 'string' },
  folds: { type: 'string' },
  hidden: { type: 'string' },
  epochs: { type: 'string' },
  'seconds-per-device': { type: 'string' },
  'devices-per-state': { type: 'string' },
  'test-fraction': { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string' },
  version: { type: 'string' },
  push: { type: 'string' },
  token: { type: 'string' },
  promote: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | undefined>;

const invalid = (msg: string): EdgeloopError => new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', msg);

function int(values: Values, key: string, fallback: number, min: number, max: number): number {
  const raw = values[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || n < min || n > max)
    throw invalid(`--${key} must be an integer ${min}..${max}, got "${String(raw)}"`);
  return n;
}

function intList(values: Values, key: string, min: number, max: number): number[] | undefined {
  const raw = values[key];
  if (typeof raw !== 'string') return undefined;
  const parts = raw.split(',').map((s) => s.trim());
  const out = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || out.some((n) => n < min || n > max))
    throw invalid(`--${key} must be comma-separated integers ${min}..${max}, got "${raw}"`);
  return out;
}

export interface TrainConfig {
  readonly out: string;
  readonly seed: number;
  readonly search: SearchOptions;
  readonly devicesPerState: number;
  readonly secondsPerDevice: number;
  readonly testFraction: number;
  readonly name: string;
  readonly version: string;
  readonly keyPath: string | undefined;
  readonly push: string | undefined;
  readonly token: string | undefined;
  readonly promote: string | undefined;
}

/** Validates the command line; every problem is an EdgeloopError naming the option. */
export function parseTrainArgs(argv: readonly string[]): TrainConfig | 'help' {
  const { values } = parseCliArgs(argv, options, false);
  if (values.help === true) return 'help';
  const out = values.out;
  if (typeof out !== 'string' || out === '')
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'train needs --out <dir>');
  const kind = values.search ?? TRAIN_DEFAULTS.search;
  if (kind !== 'grid' && kind !== 'random')
    throw invalid(`--search must be grid or random, got "${String(kind)}"`);
  const hidden = intList(values, 'hidden', 0, 1024);
  const epochs = intList(values, 'epochs', 1, 10_000);
  const tf =
    values['test-fraction'] === undefined ? TRAIN_DEFAULTS.testFraction : Number(values['test-fraction']);
  if (!(tf > 0 && tf < 1))
    throw invalid(`--test-fraction must be in (0, 1), got "${String(values['test-fraction'])}"`);
  const name = typeof values.name === 'string' ? values.name : TRAIN_DEFAULTS.name;
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name))
    throw invalid(`--name "${name}" must be lowercase letters, digits, . _ - (at most 64)`);
  const version = typeof values.version === 'string' ? values.version : TRAIN_DEFAULTS.version;
  if (!/^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.+-]{1,64})?$/.test(version))
    throw invalid(`--version "${version}" must be MAJOR.MINOR.PATCH`);
  const promote = typeof values.promote === 'string' ? values.promote : undefined;
  if (promote !== undefined && !['staging', 'canary', 'production'].includes(promote))
    throw invalid(`--promote must be staging, canary or production, got "${promote}"`);
  const push = typeof values.push === 'string' ? values.push : undefined;
  if (push !== undefined && !/^https?:\/\/./.test(push))
    throw invalid(`--push must be an http(s) URL, got "${push}"`);
  if (promote !== undefined && push === undefined)
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', '--promote needs --push <url>');
  return {
    out: resolve(out),
    seed: int(values, 'seed', TRAIN_DEFAULTS.seed, 0, 2 ** 32 - 1),
    search: {
      kind,
      trials: int(values, 'trials', TRAIN_DEFAULTS.trials, 1, 10_000),
      folds: int(values, 'folds', TRAIN_DEFAULTS.folds, 2, 100),
      ...(hidden === undefined && epochs === undefined
        ? {}
        : {
            space: {
              ...(hidden === undefined ? {} : { hidden }),
              ...(epochs === undefined ? {} : { epochs }),
            },
          }),
    },
    devicesPerState: int(values, 'devices-per-state', TRAIN_DEFAULTS.devicesPerState, 1, 1000),
    secondsPerDevice: int(values, 'seconds-per-device', TRAIN_DEFAULTS.secondsPerDevice, 1, 86_400),
    testFraction: tf,
    name,
    version,
    keyPath: typeof values.key === 'string' ? values.key : undefined,
    push,
    token: typeof values.token === 'string' ? values.token : undefined,
    promote,
  };
}

/** A failure that is a value (bad data, unwritable output, a refused push): exit 1 with its code. */
class Failed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function ensureWritableOut(out: string): Promise<void> {
  try {
    if ((await readdir(out)).length > 0) throw new Failed('EDGELOOP_ERR_BUNDLE_WRITE', `${out} is not empty`);
  } catch (err) {
    if (err instanceof Failed) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Failed('EDGELOOP_ERR_BUNDLE_WRITE', `cannot use ${out}: ${(err as Error).message}`);
  }
}

/** The signing key: --key, or a fresh pair written beside the bundle (never inside: it would be an extra file). */
async function signingKey(cfg: TrainConfig, io: CliIO): Promise<string> {
  if (cfg.keyPath !== undefined) {
    let pem: string;
    try {
      pem = await readFile(cfg.keyPath, 'utf8');
    } catch (err) {
      throw new Failed(
        'EDGELOOP_ERR_INPUT_READ',
        `cannot read --key ${cfg.keyPath}: ${(err as Error).message}`,
      );
    }
    if (!pem.includes('PRIVATE KEY'))
      throw new EdgeloopError('EDGELOOP_ERR_KEY_INVALID', `--key ${cfg.keyPath} is not a PEM private key`);
    keyIdFromPem(pem); // throws EDGELOOP_ERR_KEY_INVALID early, before minutes of training
    return pem;
  }
  const pair = generateSigningKeyPair();
  const keyPath = `${cfg.out}.signing.key`;
  const pubPath = `${cfg.out}.signing.pub`;
  try {
    await mkdir(dirname(cfg.out), { recursive: true });
    await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await chmod(keyPath, 0o600);
    await writeFile(pubPath, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    throw new Failed(
      'EDGELOOP_ERR_KEY_EXISTS',
      `cannot write the ephemeral key beside the bundle: ${(err as Error).message}`,
    );
  }
  io.stderr.write(
    `WARNING: no --key given: signed with a fresh ephemeral key ${pair.keyId}.\n` +
      `  private ${keyPath}, public ${pubPath}. Agents and the registry trust only keys they pin;\n` +
      `  use \`edgeloop keygen\` and --key for bundles you mean to ship.\n`,
  );
  return pair.privateKeyPem;
}

function summaryTable(r: TrainModelResult): string {
  const m = r.report.json.metrics;
  const p = r.partitions;
  const f3 = (v: number): string => v.toFixed(3);
  const w = Math.max(5, ...m.perClass.map((c) => c.label.length));
  const lines = [
    `test partition: ${p.test.count} windows from ${p.test.groups} device-minutes (train ${p.train.count} from ${p.train.groups})`,
    `  accuracy  ${f3(m.accuracy)}`,
    `  macro-F1  ${f3(m.macroF1)}`,
    `  ${'class'.padEnd(w)}  precision  recall  support`,
    ...m.perClass.map(
      (c) =>
        `  ${c.label.padEnd(w)}  ${f3(c.precision).padStart(9)}  ${f3(c.recall).padStart(6)}  ${String(c.support).padStart(7)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

async function registryStep(argv: string[], io: CliIO): Promise<void> {
  // The registry CLI already speaks the HTTP API (and reads EDGELOOP_REGISTRY_TOKEN); reuse it, and keep
  // the code it printed so our own exit message carries the server's reason, not a generic one.
  const { registryCommand } = await import('./registry.ts');
  let code: string | undefined;
  const stderr = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = chunk.toString();
      code = /\[(EDGELOOP_ERR_[A-Z0-9_]+|HTTP \d+)\]/.exec(text)?.[1] ?? code;
      io.stderr.write(text);
      done();
    },
  });
  const exit = await registryCommand.run(argv, { ...io, stderr });
  if (exit !== 0)
    throw new Failed(
      code ?? 'EDGELOOP_ERR_REGISTRY_UNREACHABLE',
      `registry ${argv[0] ?? ''} failed; the bundle stays on disk`,
    );
}

async function train(cfg: TrainConfig, io: CliIO): Promise<number> {
  const startedAt = new Date().toISOString();
  await ensureWritableOut(cfg.out);
  const key = await signingKey(cfg, io);
  const progress = createProgress(io.stderr);
  const aborted = (): boolean => io.signal.aborted;

  const devices = progress.step('lab data', 5 * cfg.devicesPerState);
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: cfg.seed,
    devicesPerState: cfg.devicesPerState,
    secondsPerDevice: cfg.secondsPerDevice,
    onProgress: (p) => {
      devices.update(p.done, p.deviceId);
    },
  });
  if (!lab.ok) throw new Failed(lab.code, lab.message);
  const s = lab.value.summary;
  devices.end(
    `${s.rows} windows, ${Object.entries(s.perClass)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}; skipped ${s.skipped.straddle} straddling, ${s.skipped.integrityFail} integrity-fail, ${s.skipped.imputed} imputed`,
  );
  if (aborted()) return 130;

  const label = `${cfg.search.kind} search`;
  let bar: ProgressStep | undefined;
  const trained = await trainModel({
    rows: lab.value.rows,
    seed: cfg.seed,
    search: cfg.search,
    testFraction: cfg.testFraction,
    pipelineId: lab.value.pipeline.id,
    pipelineHash: lab.value.pipeline.paramsHash,
    producerVersion: collectLineageEnv().edgeloopVersion,
    onProgress: (p) => {
      bar ??= progress.step(label, p.of);
      bar.update(p.trial, `best macro-F1 ${p.best.toFixed(3)} (trial ${p.bestTrial + 1})`);
      if (p.trial === p.of) {
        bar.end(`best trial ${p.bestTrial + 1}, mean validation macro-F1 ${p.best.toFixed(3)}`);
        progress.line('final fit on the train partition, ONNX export, test report...');
      }
    },
  });
  bar?.end();
  if (!trained.ok) throw new Failed(trained.code, trained.message);
  if (aborted()) return 130;

  const r = trained.value;
  const env = collectLineageEnv();
  const parts = trainBundleFiles({
    name: cfg.name,
    version: cfg.version,
    result: r,
    lab: lab.value,
    seed: cfg.seed,
    search: cfg.search,
    startedAt,
    endedAt: new Date().toISOString(),
    env,
  });
  if (!parts.ok) throw new Failed(parts.code, parts.message);
  const bundle = createSignedBundle(parts.value.manifest, parts.value.files, key);
  if (!bundle.ok) throw new Failed(bundle.code, bundle.message);
  const written = await writeBundleDir(
    cfg.out,
    bundle.value.manifest,
    parts.value.files,
    bundle.value.signature,
  );
  if (!written.ok) throw new Failed(written.code, written.message);

  io.stdout.write(summaryTable(r));
  io.stdout.write(
    `bundle ${cfg.name}@${cfg.version} written to ${cfg.out}\n  manifest digest ${manifestDigest(bundle.value.manifest)}, key ${bundle.value.signature.keyId}\n` +
      `  train ${r.partitions.train.digest}\n  test  ${r.partitions.test.digest}\n` +
      `  code ${env.code.commit ?? 'unknown'}${env.code.dirty === true ? ' (dirty)' : ''}\n`,
  );
  if (cfg.push !== undefined) {
    const client = ['--url', cfg.push, ...(cfg.token === undefined ? [] : ['--token', cfg.token])];
    await registryStep(['push', cfg.out, ...client], io);
    if (cfg.promote !== undefined) {
      await registryStep(
        [
          'promote',
          cfg.name,
          cfg.version,
          '--to',
          cfg.promote,
          '--reason',
          'edgeloop train --promote',
          ...client,
        ],
        io,
      );
    }
  }
  return 0;
}

async function run(argv: string[], io: CliIO): Promise<number> {
  try {
    const cfg = parseTrainArgs(argv);
    if (cfg === 'help') {
      io.stdout.write(help);
      return 0;
    }
    return await train(cfg, io);
  } catch (err) {
    if (err instanceof Failed) {
      io.stderr.write(`edgeloop train: ${err.message} [${err.code}]\n`);
      return 1;
    }
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop train: ${err.message} [${err.code}]\n`);
      return err.code === 'EDGELOOP_ERR_USAGE' || err.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' ? 2 : 1;
    }
    throw err;
  }
}

export const trainCommand: Command = {
  summary: 'build a dataset, train, test and export a model',
  help,
  run,
};
