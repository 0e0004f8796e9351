// The one way tests wait (issue #7 §4): poll a condition until it holds. Tests wait on conditions, never on
// time, because this is a shared, loaded 2-core machine: a fixed sleep is either too short under load (a
// flaky failure) or wasted when idle. On timeout the error names what was awaited, so a hung test says why.

export interface WaitOptions {
  /**
   * Give up after this many ms. Default 10 000: generous, because waiting longer only costs time when the
   * test is failing anyway; the test's own `timeout` still bounds the whole test.
   */
  readonly timeoutMs?: number;
  /** Poll period in ms. Default 20. */
  readonly intervalMs?: number;
}

/**
 * Resolves once `cond` returns true (it may be async; an exception from it rejects at once, so a condition
 * can fail fast, e.g. when a child process exits). Rejects after `timeoutMs` with an error naming `what`,
 * which may be a function so the message can show the state at the time (`() => \`300 windows (have ${n})\``).
 */
export async function waitFor(
  what: string | (() => string),
  cond: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  const start = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - start >= timeoutMs) {
      const name = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${name}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
