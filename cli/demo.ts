import type { Command } from './commands.ts';

export const demoCommand: Command = {
  summary: 'run the whole loop on embedded defaults',
  help: 'edgeloop demo\n',
  run(_argv, io) {
    io.stderr.write('edgeloop demo: not available yet\n');
    return Promise.resolve(3);
  },
};
