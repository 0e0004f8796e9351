// External tools the tests drive (promtool, Mosquitto, gcc). Locally a missing tool skips its test with
// the install hint; under CI, whose .ci/run installs or starts each of them, its absence fails the test,
// so a broken install step can never pass as a quiet skip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** True when `command` can be run (spawn finds it). */
export function haveCommand(command: string, args: readonly string[] = ['--version']): boolean {
  return spawnSync(command, [...args], { stdio: 'ignore', timeout: 10_000 }).error === undefined;
}

/**
 * Returns true when the tool is there. Otherwise fails under CI, or skips the test locally with `hint`
 * (e.g. "apt-get install prometheus") and returns false: `if (!requireTool(...)) return;`.
 */
export function requireTool(t: TestContext, available: boolean, what: string, hint: string): boolean {
  if (available) return true;
  assert.ok(process.env.CI === undefined, `${what} is missing in CI (.ci/run installs or starts it)`);
  t.skip(`${what} is not available (locally: ${hint})`);
  return false;
}

/** `promtool check metrics` on `text`; undefined when promtool is not installed. */
export function promtoolCheck(text: string): { status: number | null; output: string } | undefined {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw r.error;
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}
