// Runs one edgeloop command in-process with captured stdout and stderr, as the CLI would.
import { PassThrough } from 'node:stream';

export interface CommandRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

interface Runnable {
  run(
    argv: string[],
    io: {
      stdout: NodeJS.WritableStream;
      stderr: NodeJS.WritableStream;
      env: Record<string, string | undefined>;
      signal: AbortSignal;
    },
  ): Promise<number>;
}

/**
 * Runs `command` with `argv` and `env`. With `catchErrors`, a thrown error becomes code -1 with its
 * message and code appended to `err` (a command that throws where cli/main.ts would print).
 */
export async function runCommand(
  command: Runnable,
  argv: string[],
  env: Record<string, string> = {},
  catchErrors = false,
): Promise<CommandRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const code = await command.run(argv, { stdout, stderr, env, signal: new AbortController().signal });
    return { code, out, err };
  } catch (e) {
    if (!catchErrors) throw e;
    return { code: -1, out, err: `${err}${(e as Error).message} [${(e as { code?: string }).code ?? ''}]` };
  }
}
