// The demo's baseline model: trained by `edgeloop train` on first run, cached, reused after
// (docs/demo.md "The baseline model"). The cache key covers the package version and the training options,
// so an upgrade or a change of options trains again. A run interrupted while training leaves no cache
// entry: it trains into a temporary directory and renames it into place when done.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError } from '../../shared/errors.ts';
import type { CliIO } from '../commands.ts';
import { keygenCommand } from '../keygen.ts';
import { trainCommand } from '../train.ts';
import { DEMO_MODEL } from './plan.ts';
import { textSink } from '../text-sink.ts';

export const BASELINE_VERSION = '1.0.0';

/**
 * The baseline's training options: 6 lab devices per machine state and a 4-trial search (smaller budgets
 * call a healthy pump at load 0.8 `overheating` now and then, see docs/training.md). Seed 1, whatever the
 * demo's --seed: the demo's seed varies the devices, not the model.
 */
const TRAIN_ARGS = [
  '--seed',
  '1',
  '--name',
  DEMO_MODEL,
  '--version',
  BASELINE_VERSION,
  '--devices-per-state',
  '6',
  '--trials',
  '4',
];

/** The key pair the demo signs its baseline with (edgeloop keygen), made once and cached. */
export interface SigningKey {
  readonly keyPath: string;
  readonly publicKeyPath: string;
}

/**
 * The demo's signing key, made on first run under the cache directory. It exists before the baseline does,
 * so the collector can start trusting it (and serve the dashboard) while a first run still trains.
 */
export async function demoSigningKey(io: CliIO): Promise<SigningKey> {
  const dir = join(demoCacheDir(io.env), 'demo-signing');
  const key = { keyPath: join(dir, 'demo.key'), publicKeyPath: join(dir, 'demo.pub') };
  if (existsSync(key.keyPath) && existsSync(key.publicKeyPath)) return key;
  const tmp = `${dir}.tmp-${String(process.pid)}`;
  rmSync(tmp, { recursive: true, force: true });
  let text = '';
  const sink = textSink((s) => (text += s));
  try {
    const code = await keygenCommand.run(['--out', tmp, '--name', 'demo'], {
      ...io,
      stdout: sink,
      stderr: sink,
    });
    if (code !== 0)
      throw new EdgeloopError(
        'EDGELOOP_ERR_DEMO_FAILED',
        `making the demo's signing key failed: ${text.trim()}`,
      );
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another demo made the key meanwhile and won the rename: use its key.
      if (!existsSync(key.publicKeyPath)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return key;
}

export interface Baseline {
  /** The bundle directory. */
  readonly bundle: string;
  /** The public key that signed it (agents pin it). */
  readonly publicKeyPath: string;
  /** True when this run trained it. */
  readonly trained: boolean;
}

/** $XDG_CACHE_HOME/edgeloop, else ~/.cache/edgeloop. */
export function demoCacheDir(env: CliIO['env']): string {
  const base =
    env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ''
      ? env.XDG_CACHE_HOME
      : join(homedir(), '.cache');
  return join(base, 'edgeloop');
}

/** The package's root directory, from the sources (cli/demo/) or from dist (dist/cli/demo/). */
export function packageRoot(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0';
}

/** The cached baseline, or trains it (progress lines go to onLine); undefined when interrupted. */
export async function demoBaseline(
  io: CliIO,
  signing: SigningKey,
  onLine: (line: string) => void,
): Promise<Baseline | undefined> {
  // The public key is part of the key: a bundle signed by another key is never reused.
  const key = createHash('sha256')
    .update(JSON.stringify([packageVersion(), TRAIN_ARGS, readFileSync(signing.publicKeyPath, 'utf8')]))
    .digest('hex')
    .slice(0, 12);
  const dir = join(demoCacheDir(io.env), `demo-baseline-${key}`);
  const found = (d: string): Baseline => ({
    bundle: join(d, 'bundle'),
    publicKeyPath: signing.publicKeyPath,
    trained: d !== dir,
  });
  if (existsSync(join(dir, 'bundle', 'manifest.json'))) return found(dir);
  const tmp = `${dir}.tmp-${String(process.pid)}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp, { recursive: true });
  } catch (err) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_PATH',
      `cannot create the demo's model cache ${tmp}: ${(err as Error).message} (set XDG_CACHE_HOME)`,
    );
  }
  let pending = '';
  let text = '';
  const lines = textSink((s) => {
    text += s;
    pending += s;
    const parts = pending.split(/\r|\n/);
    pending = parts.pop() ?? '';
    for (const p of parts) if (p.trim() !== '') onLine(p.trim());
  });
  try {
    const code = await trainCommand.run(
      ['--out', join(tmp, 'bundle'), '--key', signing.keyPath, ...TRAIN_ARGS],
      {
        ...io,
        stdout: lines,
        stderr: lines,
      },
    );
    if (io.signal.aborted) return undefined;
    if (code !== 0)
      throw new EdgeloopError(
        'EDGELOOP_ERR_DEMO_FAILED',
        `training the demo's baseline model failed (exit ${String(code)}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
      );
    // A cache entry without its manifest is what an older, interrupted layout left: replace it.
    if (!existsSync(join(dir, 'bundle', 'manifest.json'))) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another demo trained the same baseline meanwhile and won the rename: use its copy.
      if (!existsSync(join(dir, 'bundle', 'manifest.json'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { ...found(dir), trained: true };
}
