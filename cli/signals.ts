// SIGINT/SIGTERM for the `edgeloop` process (issue #7 §3). The first signal aborts the command's signal,
// so a command that honours it flushes and exits by itself (the agent drains its outbox, train stops
// between devices). A command that ignores it (a write stuck on a dead mount, a FIFO nobody reads) would
// otherwise run forever, so a second signal, or the grace period running out, ends the process as killed by
// that signal, which shells and systemd report as 128 + 2 (SIGINT) = 130 and 128 + 15 (SIGTERM) = 143.
// Not process.exit(): it waits for libuv's thread pool, and a thread blocked in open() on a FIFO or a dead
// mount never returns, which is exactly the stuck command we must end. docs: README "Stopping".
// A command run with JSON logs (--log-format json) gets these notices as JSON lines too, in the logger's
// shape, so a log shipper reading stderr never meets a plain-text line.

import { envName } from '../shared/config.ts';
import { formatLogRecord, type LogFormat, type LogLevel } from '../shared/platform/logger.ts';

/** How long a command may take to stop after the first signal, ms. */
export const STOP_GRACE_MS = 10_000;

export type StopSignal = 'SIGINT' | 'SIGTERM';

export const signalExitCode: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

export interface StopSignalOptions {
  /** Where the signals arrive (process in production, an EventEmitter in tests). */
  readonly source: {
    on(event: StopSignal, listener: () => void): unknown;
    off(event: StopSignal, listener: () => void): unknown;
  };
  readonly controller: AbortController;
  /** Ends the process (forceExit in production); code is the shell's 128 + signal number. */
  readonly exit: (code: number, signal: StopSignal) => void;
  readonly stderr: NodeJS.WritableStream;
  /** Default STOP_GRACE_MS. */
  readonly graceMs?: number;
  /** 'json': the notices are JSON lines as shared/platform/logger.ts writes them. Default 'text'. */
  readonly logFormat?: LogFormat;
  /** For the JSON notices' ts. Default Date.now. */
  readonly nowMs?: () => number;
}

/**
 * The log format the command will use, read as cheaply as its own parser would: `--log-format json` (or
 * `=json`) before a `--`, else EDGELOOP_<COMMAND>_LOG_FORMAT, else EDGELOOP_LOG_FORMAT. Anything else is text.
 */
export function stopNoticeFormat(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): LogFormat {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  let flag: string | undefined;
  for (let i = 0; i < head.length; i++) {
    const a = head[i];
    if (a === '--log-format') flag = head[i + 1];
    else if (a?.startsWith('--log-format=') === true) flag = a.slice('--log-format='.length);
  }
  const command = head.find((a) => !a.startsWith('-'));
  const scoped = command === undefined ? undefined : env[`EDGELOOP_${envName(command)}_LOG_FORMAT`];
  return (flag ?? scoped ?? env.EDGELOOP_LOG_FORMAT) === 'json' ? 'json' : 'text';
}

export interface StopSignalHandle {
  /**
   * Lets a command whose own shutdown is bounded by longer (the agent draining its outbox for up to a few
   * --drain-timeout-ms) raise the grace period before a signal arrives. Never shortens it.
   */
  extendGrace(ms: number): void;
  /** Removes the handlers and the grace timer. */
  dispose(): void;
}

/** Installs the handlers. */
export function handleStopSignals(o: StopSignalOptions): StopSignalHandle {
  let graceMs = o.graceMs ?? STOP_GRACE_MS;
  let first: StopSignal | undefined;
  let timer: NodeJS.Timeout | undefined;
  // text: the line a person reads; JSON: a fixed msg with what varies in fields, as the logger does.
  const notice = (level: LogLevel, text: string, msg: string, fields: Record<string, unknown>): void => {
    const line =
      o.logFormat === 'json'
        ? formatLogRecord({ tsMs: (o.nowMs ?? Date.now)(), level, message: msg, fields }, 'json')
        : `edgeloop: ${text}`;
    o.stderr.write(`${line}\n`);
  };
  const onSignal = (sig: StopSignal): void => {
    if (first === undefined) {
      first = sig;
      notice('warn', `${sig}: stopping (again to exit at once)`, 'stopping (again to exit at once)', {
        signal: sig,
        graceMs,
      });
      o.controller.abort();
      // unref: a command that stops in time must not wait for the timer.
      timer = setTimeout(() => {
        notice(
          'error',
          `still running ${graceMs / 1000} s after ${sig}; exiting`,
          'still running after the grace period; exiting',
          {
            signal: sig,
            graceMs,
            exitCode: signalExitCode[sig],
          },
        );
        o.exit(signalExitCode[sig], sig);
      }, graceMs);
      timer.unref();
      return;
    }
    notice('warn', `${sig} again; exiting without waiting`, 'signal again; exiting without waiting', {
      signal: sig,
      exitCode: signalExitCode[sig],
    });
    o.exit(signalExitCode[sig], sig);
  };
  const onInt = (): void => {
    onSignal('SIGINT');
  };
  const onTerm = (): void => {
    onSignal('SIGTERM');
  };
  o.source.on('SIGINT', onInt);
  o.source.on('SIGTERM', onTerm);
  return {
    extendGrace(ms) {
      if (first === undefined && Number.isFinite(ms)) graceMs = Math.max(graceMs, ms);
    },
    dispose() {
      clearTimeout(timer);
      o.source.off('SIGINT', onInt);
      o.source.off('SIGTERM', onTerm);
    },
  };
}

/**
 * Ends this process as killed by `signal` (exit status 128 + n), even with a thread-pool thread blocked:
 * the default disposition is restored and the signal raised again, so the kernel ends every thread.
 */
export function forceExit(signal: StopSignal): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}
