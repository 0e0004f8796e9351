// The retraining child process (issue 10 §2 "training runs in a worker thread or a child process, so
// ingest and monitoring never stall"): fork the worker entry, hand it the signing key over IPC (never on
// disk), relay its progress, and report how it ended. One child per job; kill() is SIGKILL, because a
// search trial is synchronous CPU work that would not see a gentler request until it finished.

import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../shared/platform/logger.ts';
import type { TrainingProgress } from './types.ts';

/** Parent -> child. */
export interface StartMessage {
  readonly type: 'start';
  readonly dir: string;
  readonly signingKeyPem: string;
}
/** Child -> parent. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly progress: TrainingProgress }
  | { readonly type: 'done' }
  | { readonly type: 'failed'; readonly code: string; readonly message: string };

export type ChildOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string }
  | { readonly kind: 'crashed'; readonly message: string };

export interface ChildRun {
  /** Settles once the child has exited. */
  readonly ended: Promise<ChildOutcome>;
  kill(): void;
}

export interface RunChildOptions {
  readonly workerPath: string;
  /** Node options for the child; default workerExecArgv(workerPath). */
  readonly execArgv?: readonly string[];
  readonly dir: string;
  readonly signingKeyPem: string;
  readonly onProgress: (p: TrainingProgress) => void;
  readonly logger: Logger;
}

const STDERR_TAIL = 4000;

/**
 * The child's Node options: the parent's own, plus tsx's loader when the worker is a .ts file and the
 * parent does not already pass it (bin/edgeloop.js registers tsx in-process, so execArgv is empty when
 * run from source). tsx is resolved to an absolute URL so the child finds it whatever its cwd.
 */
export function workerExecArgv(workerPath: string, parent: readonly string[] = process.execArgv): string[] {
  const args = [...parent];
  if (!workerPath.endsWith('.ts') || args.some((a) => a.includes('tsx'))) return args;
  return [...args, '--import', import.meta.resolve('tsx')];
}

export function runChild(o: RunChildOptions): ChildRun {
  const child: ChildProcess = fork(o.workerPath, [], {
    execArgv: [...(o.execArgv ?? workerExecArgv(o.workerPath))],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL);
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  let reported: ChildOutcome | undefined;
  child.on('message', (m: WorkerMessage) => {
    if (m.type === 'progress') o.onProgress(m.progress);
    else if (m.type === 'done') reported = { kind: 'done' };
    else reported = { kind: 'failed', code: m.code, message: m.message };
  });
  const ended = new Promise<ChildOutcome>((resolve) => {
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      if (reported !== undefined && code === 0) {
        resolve(reported);
        return;
      }
      if (reported?.kind === 'failed') {
        resolve(reported);
        return;
      }
      const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      const last = tail.trim().split('\n').slice(-5).join(' | ');
      if (last !== '') o.logger.warn('training worker output', { tail: last });
      resolve({
        kind: 'crashed',
        message: `the training child process ended (${how}) without a result${spawnError === undefined ? '' : `: ${spawnError.message}`}${last === '' ? '' : `; last output: ${last.slice(-500)}`}`,
      });
    });
  });
  const start: StartMessage = { type: 'start', dir: o.dir, signingKeyPem: o.signingKeyPem };
  child.send(start);
  return {
    ended,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
