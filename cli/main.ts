// The `edgeloop` dispatcher: picks a subcommand, turns EdgeloopErrors into messages and exit codes, and
// turns every other exception into one line with a stable code (cli/errors.ts): never a stack trace,
// unless --debug asks for it.

import { EdgeloopError } from '../shared/errors.ts';
import { closest } from '../shared/config.ts';
import { commands, type CliIO, type CommandEntry } from './commands.ts';
import { classifyUnexpected, REPORT_HINT } from './errors.ts';
import { STOP_GRACE_MS } from './signals.ts';

const version = '0.1.0';

type CommandTable = Readonly<Record<string, CommandEntry>>;

function usage(table: CommandTable): string {
  const width = Math.max(...Object.keys(table).map((k) => k.length));
  const lines = Object.entries(table).map(
    ([k, c]) => `  ${k.padEnd(width)}  ${c.summary}${c.available === false ? ' (not available yet)' : ''}`,
  );
  return `edgeloop ${version}: the MLOps loop for factory edge devices

Usage: edgeloop [--debug] <command> [options]

Commands:
${lines.join('\n')}

Global options:
  --debug      print the stack trace of an unexpected error (anywhere before a \`--\`)
  -h, --help   show this help; \`edgeloop <command> --help\` shows a command's options
  -v, --version

Stopping: the first SIGINT/SIGTERM asks the command to finish (it flushes what it must); a second one,
or ${STOP_GRACE_MS / 1000} s without finishing, exits at once with 130 (SIGINT) or 143 (SIGTERM).
Exit codes: 0 done, 1 failed (the message ends with an [EDGELOOP_ERR_*] code; \`drift\`: drift found),
2 usage, configuration or a path or port that cannot be used, 3 not available yet, 70 internal error (a bug:
EDGELOOP_ERR_INTERNAL), 130/143 stopped by a signal.
`;
}

/** Removes the global --debug flag (before any `--`, which ends option parsing for the command). */
function takeDebug(argv: readonly string[]): { argv: string[]; debug: boolean } {
  const end = argv.indexOf('--');
  const head = end === -1 ? [...argv] : argv.slice(0, end);
  const tail = end === -1 ? [] : argv.slice(end);
  const debug = head.includes('--debug');
  return { argv: [...head.filter((a) => a !== '--debug'), ...tail], debug };
}

export async function main(argv: string[], io: CliIO, table: CommandTable = commands): Promise<number> {
  const { argv: args, debug } = takeDebug(argv);
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage(table));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version}\n`);
    return 0;
  }
  const entry = table[name];
  if (entry === undefined) {
    const guess = closest(name, Object.keys(table));
    io.stderr.write(
      `edgeloop: unknown command "${name}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`} [EDGELOOP_ERR_USAGE]\n\n${usage(table)}`,
    );
    return 2;
  }
  try {
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(command.help);
      return 0;
    }
    if (debug) io.stderr.write(`edgeloop: debug: ${name} started (pid ${process.pid})\n`);
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop ${name}: ${err.message} [${err.code}]\n`);
      if (debug && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
      return 2;
    }
    const u = classifyUnexpected(err);
    if (u.kind === 'epipe') return 0;
    const stack = (): void => {
      if (debug) io.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    };
    if (u.kind === 'known') {
      // A missing path or a taken port is the user's setup, like a bad option: exit 2, never 1, which
      // some commands give a meaning of their own (`edgeloop drift`: drift found).
      io.stderr.write(`edgeloop ${name}: ${u.message} [${u.code}]\n`);
      stack();
      return 2;
    }
    io.stderr.write(`edgeloop ${name}: ${u.message} [EDGELOOP_ERR_INTERNAL]; ${REPORT_HINT}\n`);
    stack();
    // EX_SOFTWARE (sysexits.h): distinct from every answer a command gives on purpose.
    return 70;
  }
}
