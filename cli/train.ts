// `edgeloop train` (issue #3 §2-5, docs/training.md "edgeloop train"): the command. Its seams: options in
// train-config.ts, the run in train-run.ts, what it prints in train-print.ts.

import { EdgeloopError } from '../shared/errors.ts';
import type { Command, CliIO } from './commands.ts';
import { exitCodeFor } from './errors.ts';
import { parseTrainArgs, trainHelp } from './train-config.ts';
import { Failed, train } from './train-run.ts';

export { parseTrainArgs, TRAIN_DEFAULTS, type TrainConfig } from './train-config.ts';

async function run(argv: string[], io: CliIO): Promise<number> {
  try {
    const cfg = parseTrainArgs(argv, io.env);
    if (cfg === 'help') {
      io.stdout.write(trainHelp);
      return 0;
    }
    return await train(cfg, io);
  } catch (err) {
    if (err instanceof Failed || err instanceof EdgeloopError) {
      io.stderr.write(`edgeloop train: ${err.message} [${err.code}]\n`);
      return exitCodeFor(err.code);
    }
    throw err;
  }
}

export const trainCommand: Command = {
  summary: 'build a dataset, train, test and export a model',
  help: trainHelp,
  run,
};
