// The `edgeloop train` run (docs/training.md "edgeloop train"): lab data from firmware-sim (injected into
// the collector's trainer) -> seeded grouped split -> search -> final fit -> ONNX export -> test report ->
// signed bundle on disk -> optional push and alias move. Options come from train-config.ts; what it
// prints is train-print.ts.

import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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
import { classifyUnexpected, isErrorCode } from './errors.ts';
import { firmwareSimLab } from './lab-simulator.ts';
import { createProgress, type ProgressStep } from './progress.ts';
import type { TrainConfig } from './train-config.ts';
import { collectorRows, fieldLineage } from './train-field.ts';
import { bundleLines, labLine, summaryTable } from './train-print.ts';
import { textSink } from './text-sink.ts';

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

/** The signing key: --key, or a fresh pair to write beside the bundle (never inside: it would be an extra file). */
interface SigningKey {
  readonly pem: string;
  /** The fresh pair and where it goes; written only once the bundle is built (writeEphemeralKey). */
  readonly ephemeral?: {
    readonly keyPath: string;
    readonly pubPath: string;
    readonly publicKeyPem: string;
    readonly keyId: string;
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A failed write of `what`: EEXIST is KEY_EXISTS, any other system error the path's (PATH). */
function writeFailed(err: unknown, what: string): Failed {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST')
    return new Failed('EDGELOOP_ERR_KEY_EXISTS', `${what}: ${(err as Error).message}`);
  const u = classifyUnexpected(err);
  if (u.kind === 'known') return new Failed(u.code, `${what}: ${u.message}`);
  return new Failed('EDGELOOP_ERR_PATH', `${what}: ${(err as Error).message}`);
}

async function signingKey(cfg: TrainConfig): Promise<SigningKey> {
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
    return { pem };
  }
  const pair = generateSigningKeyPair();
  const keyPath = `${cfg.out}.signing.key`;
  const pubPath = `${cfg.out}.signing.pub`;
  // Refuse now, not after minutes of training; the files themselves are written at the end, so a failed or
  // interrupted run leaves none behind to make the same command fail next time.
  for (const p of [keyPath, pubPath])
    if (await exists(p))
      throw new Failed(
        'EDGELOOP_ERR_KEY_EXISTS',
        `${p} exists (from an earlier run?); remove it or pass --key`,
      );
  return {
    pem: pair.privateKeyPem,
    ephemeral: { keyPath, pubPath, publicKeyPem: pair.publicKeyPem, keyId: pair.keyId },
  };
}

/** Writes the ephemeral pair beside the bundle (0600 private key); removes what it wrote if it fails. */
async function writeEphemeralKey(key: SigningKey, io: CliIO): Promise<void> {
  const e = key.ephemeral;
  if (e === undefined) return;
  try {
    await writeFile(e.keyPath, key.pem, { mode: 0o600, flag: 'wx' });
    await chmod(e.keyPath, 0o600);
    await writeFile(e.pubPath, e.publicKeyPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    await removeEphemeralKey(key);
    throw writeFailed(err, 'cannot write the ephemeral key beside the bundle');
  }
  io.stderr.write(
    `WARNING: no --key given: signed with a fresh ephemeral key ${e.keyId}.\n` +
      `  private ${e.keyPath}, public ${e.pubPath}. Agents and the registry trust only keys they pin;\n` +
      `  use \`edgeloop keygen\` and --key for bundles you mean to ship.\n`,
  );
}

async function removeEphemeralKey(key: SigningKey): Promise<void> {
  if (key.ephemeral === undefined) return;
  await rm(key.ephemeral.keyPath, { force: true });
  await rm(key.ephemeral.pubPath, { force: true });
}

/**
 * Makes the bundle directory now, so an unusable --out (/proc/foo, a path under a file) fails before the
 * training does, as EDGELOOP_ERR_PATH. Returns the first directory this run created (which it may remove).
 */
async function prepareOut(out: string): Promise<string | undefined> {
  // Level by level, not mkdir's recursive mode: under /proc every mkdir says ENOENT, and Node's recursive
  // mkdir then climbs and retries for ever instead of failing.
  const missing: string[] = [];
  for (let p = out; !(await exists(p)); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  let made = 0;
  try {
    for (const p of missing) {
      await mkdir(p);
      made++;
    }
    return missing[0];
  } catch (err) {
    if (made > 0 && missing[0] !== undefined) await rm(missing[0], { recursive: true, force: true });
    throw writeFailed(err, `cannot create --out ${out}`);
  }
}

async function registryStep(argv: string[], io: CliIO): Promise<void> {
  // The registry CLI already speaks the HTTP API; reuse it, and keep the code it printed so our own exit
  // message carries the server's reason, not a generic one.
  const { registryCommand } = await import('./registry.ts');
  let code: ErrorCode | undefined;
  const stderr = textSink((text) => {
    const printed = /\[(EDGELOOP_ERR_[A-Z0-9_]+)\]/.exec(text)?.[1];
    if (isErrorCode(printed)) code = printed;
    io.stderr.write(text);
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
  const key = await signingKey(cfg);
  const createdOut = await prepareOut(cfg.out);
  const state = { complete: false };
  try {
    return await run(cfg, io, key, startedAt, () => {
      state.complete = true;
    });
  } catch (err) {
    // The lab data and the search stop between devices and trials by throwing the signal's reason.
    if (io.signal.aborted && err === io.signal.reason) return 130;
    throw err;
  } finally {
    // A failed or interrupted run leaves nothing that would make the same command fail next time: no key
    // files, and no bundle directory it created. Once the bundle is written (a refused push after it) both
    // stay, as the message says.
    if (!state.complete) {
      await removeEphemeralKey(key);
      if (createdOut !== undefined) await rm(createdOut, { recursive: true, force: true });
    }
  }
}

/** Thrown from the search's progress callback: the search has no signal of its own, and stops on a throw. */
function stopBetweenTrials(signal: AbortSignal): void {
  signal.throwIfAborted();
}

async function run(
  cfg: TrainConfig,
  io: CliIO,
  key: SigningKey,
  startedAt: string,
  written: () => void,
): Promise<number> {
  const progress = createProgress(io.stderr);
  const aborted = (): boolean => io.signal.aborted;

  const devices = progress.step('lab data', firmwareSimLab.machineStates.length * cfg.devicesPerState);
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: cfg.seed,
    devicesPerState: cfg.devicesPerState,
    secondsPerDevice: cfg.secondsPerDevice,
    signal: io.signal,
    onProgress: (p) => {
      devices.update(p.done, p.deviceId);
    },
  });
  if (!lab.ok) throw new Failed(lab.code, lab.message);
  devices.end(labLine(lab.value.summary));
  if (aborted()) return 130;

  const field = await collectorRows(cfg, io, lab.value, progress);
  if (aborted()) return 130;

  const label = `${cfg.search.kind} search`;
  let bar: ProgressStep | undefined;
  let explainBar: ProgressStep | undefined;
  const trained = await trainModel({
    rows: field?.pool ?? lab.value.rows,
    ...(field === undefined ? {} : { heldOut: field.recent }),
    seed: cfg.seed,
    search: cfg.search,
    testFraction: cfg.testFraction,
    pipelineId: lab.value.pipeline.id,
    pipelineHash: lab.value.pipeline.paramsHash,
    producerVersion: collectLineageEnv().edgeloopVersion,
    featureNames: lab.value.featureNames,
    onExplainProgress: (done, total) => {
      explainBar ??= progress.step('permutation importance on the test partition', total);
      explainBar.update(done);
      if (done === total) explainBar.end();
    },
    onProgress: (p) => {
      bar ??= progress.step(label, p.of);
      bar.update(p.trial, `best macro-F1 ${p.best.toFixed(3)} (trial ${p.bestTrial + 1})`);
      if (p.trial === p.of) {
        bar.end(`best trial ${p.bestTrial + 1}, mean validation macro-F1 ${p.best.toFixed(3)}`);
        progress.line('final fit on the train partition, ONNX export, test report...');
      }
      stopBetweenTrials(io.signal);
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
    ...(field === undefined ? {} : fieldLineage(cfg, field, r)),
  });
  if (!parts.ok) throw new Failed(parts.code, parts.message);
  const bundle = createSignedBundle(parts.value.manifest, parts.value.files, key.pem);
  if (!bundle.ok) throw new Failed(bundle.code, bundle.message);
  if (aborted()) return 130;
  const w = await writeBundleDir(cfg.out, bundle.value.manifest, parts.value.files, bundle.value.signature);
  if (!w.ok) throw new Failed(w.code, w.message);
  await writeEphemeralKey(key, io);
  written();

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
