// The `edgeloop train` run (docs/training.md "edgeloop train"): lab data from firmware-sim (injected into
// the collector's trainer) -> seeded grouped split -> search -> final fit -> ONNX export -> test report ->
// signed bundle on disk -> optional push and alias move. Options come from train-config.ts; what it
// prints is train-print.ts.

import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { createSignedBundle } from '../shared/bundle/build.ts';
import { generateSigningKeyPair, keyIdFromPem, manifestDigest } from '../shared/bundle/signing.ts';
import { EdgeloopError, type ErrorCode } from '../shared/errors.ts';
import {
  collectLineageEnv,
  generateLabData,
  trainBundleFiles,
  trainModel,
  writeBundleDir,
} from '../collector/index.ts';
import type { CliIO } from './commands.ts';
import { isErrorCode } from './errors.ts';
import { firmwareSimLab } from './lab-simulator.ts';
import { createProgress, type ProgressStep } from './progress.ts';
import type { TrainConfig } from './train-config.ts';
import { bundleLines, labLine, summaryTable } from './train-print.ts';

/** A failure that is a value (bad data, unwritable output, a refused push): exit 1 with its code. */
export class Failed extends Error {
  constructor(
    readonly code: ErrorCode,
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

async function registryStep(argv: string[], io: CliIO): Promise<void> {
  // The registry CLI already speaks the HTTP API; reuse it, and keep the code it printed so our own exit
  // message carries the server's reason, not a generic one.
  const { registryCommand } = await import('./registry.ts');
  let code: ErrorCode | undefined;
  const stderr = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = chunk.toString();
      const printed = /\[(EDGELOOP_ERR_[A-Z0-9_]+)\]/.exec(text)?.[1];
      if (isErrorCode(printed)) code = printed;
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

/** Runs the whole pipeline; returns the exit code (130 when interrupted between steps). */
export async function train(cfg: TrainConfig, io: CliIO): Promise<number> {
  const startedAt = new Date().toISOString();
  await ensureWritableOut(cfg.out);
  const key = await signingKey(cfg, io);
  const progress = createProgress(io.stderr);
  const aborted = (): boolean => io.signal.aborted;

  const devices = progress.step('lab data', firmwareSimLab.machineStates.length * cfg.devicesPerState);
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
  devices.end(labLine(lab.value.summary));
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
    bundleLines({
      name: cfg.name,
      version: cfg.version,
      out: cfg.out,
      manifestDigest: manifestDigest(bundle.value.manifest),
      keyId: bundle.value.signature.keyId,
      result: r,
      env,
    }),
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
