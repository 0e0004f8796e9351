// Process entry of the `edgeloop` command (bin/edgeloop.js loads it): wires signals and stdio to main().

import { classifyUnexpected } from './errors.ts';
import { main } from './main.ts';
import { forceExit, handleStopSignals, stopNoticeFormat } from './signals.ts';

const controller = new AbortController();
const stop = handleStopSignals({
  source: process,
  controller,
  stderr: process.stderr,
  logFormat: stopNoticeFormat(process.argv.slice(2), process.env),
  exit: (_code, signal) => {
    forceExit(signal);
  },
});
// `edgeloop decode ... | head`: the reader closing the pipe is a normal end, not a crash. Node reports it
// as an 'error' on stdout (SIGPIPE is ignored), which would otherwise be an uncaught exception.
process.stdout.on('error', (err) => {
  if (classifyUnexpected(err).kind === 'epipe') process.exit(0);
  throw err;
});
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
  extendStopGrace: (ms) => {
    stop.extendGrace(ms);
  },
});
process.exitCode = code;
