// `edgeloop sim`: the simulated sensor board on the command line (docs/firmware-sim.md).

import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError, type Failure } from '../shared/errors.ts';
import { openOutput } from './adapters/outputs.ts';
import { listScenarios, loadScenario } from './adapters/scenario-files.ts';
import { DEFAULT_BAUD } from './adapters/serial.ts';
import { fleetHelp, fleetOptionSpec, runFleetCommand } from './fleet-cli.ts';
import { runSim, type Speed } from './run.ts';
import { loadSimValues } from './sim-config.ts';

/** Structurally the same as cli/commands.ts `Command`; runtimes may not import cli/. */
export interface SimCommand {
  readonly summary: string;
  readonly help: string;
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

const help = `edgeloop sim: simulate a sensor board (accelerometer, gyroscope, magnetometer, humidity, pressure,
temperature) speaking serial protocol v1, for a scenario of machine states, drift and faults.

Usage: edgeloop sim [options]
       edgeloop sim --fleet <n> --mqtt <url> [options]

Options:
  --scenario <name|file>  bundled scenario name or path to a scenario JSON file (default: steady)
  --seed <n>              integer seed; same scenario + seed = same bytes (default: 1)
  --duration <s>          seconds of device time to simulate (default: the scenario's durationS)
  --speed <x|max>         1 = real time, 10 = ten times faster, max = as fast as the output accepts
                          (default: 1)
  --out <target>          where the bytes go (default: -):
                            -          stdout
                            pty        a virtual serial pair (needs socat); prints "port: <path>" on stderr
                                       for the agent to open
                            <path>     a serial device (character device), or a file to capture to
  --ground-truth <file>   write what the simulator did (states, drift, faults, lost frames, totals) as
                          JSON Lines when the run ends (default: not written)
  --device-id <id>        device id in HELLO (default: the scenario's deviceId)
  --baud <n>              baud rate for a serial device or pty, in bit/s (default: ${DEFAULT_BAUD})
  --pty-dir <dir>         directory for the pty links "device" and "port" (default: a new temp directory)
  --config <file>         JSON file of options (camelCase keys: groundTruth, ptyDir, scenarioMap, ...)
  --list                  list the bundled scenarios and exit
  --help                  show this help

Every option is also a --config file key and an EDGELOOP_* variable: EDGELOOP_SIM_SEED, or EDGELOOP_SEED
(the first wins). Precedence: flag > variable > file > default.

Progress (device time, frames, bytes/s) goes to stderr at most once per second. Ctrl-C stops the run and
still writes the ground truth.

${fleetHelp}`;

const options = {
  scenario: { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  speed: { type: 'string' },
  out: { type: 'string' },
  'ground-truth': { type: 'string' },
  'device-id': { type: 'string' },
  baud: { type: 'string' },
  'pty-dir': { type: 'string' },
  list: { type: 'boolean' },
  help: { type: 'boolean' },
  config: { type: 'string' },
  ...fleetOptionSpec,
} as const;

function num(
  name: string,
  v: string | undefined,
  check: (n: number) => boolean,
  what: string,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `--${name} ${v}: expected ${what}`);
  return n;
}

/** Prints an expected failure the way cli/main.ts prints an EdgeloopError; exit code 2. */
function failed(stderr: NodeJS.WritableStream, f: Failure): number {
  stderr.write(`edgeloop sim: ${f.message} [${f.code}]\n`);
  return 2;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export const simCommand: SimCommand = {
  summary: 'simulate a sensor board (firmware-sim)',
  help,
  async run(argv, io) {
    const parsed = parseCliArgs(argv, options, false).values;
    if (parsed.help === true) {
      io.stdout.write(help);
      return 0;
    }
    if (parsed.list === true) {
      for (const s of listScenarios()) io.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`);
      return 0;
    }
    const values = loadSimValues(parsed, io.env);
    const seed =
      num(
        'seed',
        str(values.seed),
        (n) => Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER,
        'a non-negative integer',
      ) ?? 1;
    const durationS = num('duration', str(values.duration), (n) => n > 0, 'seconds > 0');
    const speedArg = str(values.speed) ?? '1';
    const speed: Speed =
      speedArg === 'max' ? 'max' : (num('speed', speedArg, (n) => n > 0, 'a number > 0 or "max"') as number);
    if (values.fleet !== undefined) return await runFleetCommand(values, { seed, durationS, speed }, io);
    const baud = num('baud', str(values.baud), (n) => Number.isInteger(n) && n > 0, 'a positive integer');
    const sc = loadScenario(str(values.scenario) ?? 'steady');
    if (!sc.ok) return failed(io.stderr, sc);
    const outSpec = str(values.out) ?? '-';
    const out = await openOutput(outSpec, {
      baudRate: baud,
      ptyDir: str(values['pty-dir']),
      stdout: io.stdout,
    });
    if (!out.ok) return failed(io.stderr, out);
    const output = out.value;
    const log = (line: string): void => {
      io.stderr.write(`${line}\n`);
    };
    if (output.kind === 'pty') log(`port: ${output.target}`);
    log(
      `sim: scenario ${sc.value.name}, seed ${seed}, ${durationS ?? sc.value.durationS} s at speed ${speed} -> ${output.target}`,
    );
    try {
      const summary = await runSim({
        scenario: sc.value,
        seed,
        durationS,
        speed,
        out: output,
        deviceId: str(values['device-id']),
        groundTruthPath: str(values['ground-truth']),
        signal: io.signal,
        onProgress: (p) => {
          log(
            `sim: t=${p.timeS.toFixed(1)} s device=${p.deviceTimeS.toFixed(1)} s frames=${p.frames} ${(p.bytesPerS / 1000).toFixed(1)} kB/s${p.linkUp ? '' : ' (unplugged)'}`,
          );
        },
      });
      const gt = summary.groundTruth.frames;
      log(
        `sim: done${summary.aborted ? ' (interrupted)' : ''}: ${summary.timeS.toFixed(1)} s of device time in ${(summary.wallMs / 1000).toFixed(1)} s, ` +
          `${summary.frames} frames, ${summary.bytes} bytes; lost frames: ${gt.corrupted} corrupted, ${gt.dropped} dropped, ${gt.disconnected} while disconnected`,
      );
      return 0;
    } finally {
      await output.close();
    }
  },
};
