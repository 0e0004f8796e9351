// SIGINT/SIGTERM for the `edgeloop` process (issue #7 §3). The first signal aborts the command's signal,
// so a command that honours it flushes and exits by itself (the agent drains its outbox, train stops
// between devices). A command that ignores it (a write stuck on a dead mount, a FIFO nobody reads) would
// otherwise run forever, so a second signal, or the grace period running out, ends the process as killed by
// that signal, which shells and systemd report as 128 + 2 (SIGINT) = 130 and 128 + 15 (SIGTERM) = 143.
// Not process.exit(): it waits for libuv's thread pool, and a thread blocked in open() on a FIFO or a dead
// mount never returns, which is exactly the stuck command we must end. docs: README "Stopping".

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
  const onSignal = (sig: StopSignal): void => {
    if (first === undefined) {
      first = sig;
      o.stderr.write(`edgeloop: ${sig}: stopping (again to exit at once)\n`);
      o.controller.abort();
      // unref: a command that stops in time must not wait for the timer.
      timer = setTimeout(() => {
        o.stderr.write(`edgeloop: still running ${graceMs / 1000} s after ${sig}; exiting\n`);
        o.exit(signalExitCode[sig], sig);
      }, graceMs);
      timer.unref();
      return;
    }
    o.stderr.write(`edgeloop: ${sig} again; exiting without waiting\n`);
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
