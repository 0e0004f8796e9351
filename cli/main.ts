// The `edgeloop` dispatcher: picks a subcommand and turns EdgeloopErrors into messages and exit codes.

import { EdgeloopError } from '../shared/errors.ts';
import { closest } from '../shared/config.ts';
import { commands, type CliIO } from './commands.ts';

const version = '0.1.0';

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  const lines = Object.entries(commands).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`);
  return `edgeloop ${version}: the MLOps loop for factory edge devices\n\nUsage: edgeloop <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`edgeloop <command> --help\` for a command's options.\n`;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version}\n`);
    return 0;
  }
  const entry = commands[name];
  if (entry === undefined) {
    const guess = closest(name, Object.keys(commands));
    io.stderr.write(
      `edgeloop: unknown command "${name}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`} [EDGELOOP_ERR_USAGE]\n\n${usage()}`,
    );
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop ${name}: ${err.message} [${err.code}]\n`);
      return 2;
    }
    throw err;
  }
}
