// `edgeloop demo` (docs/demo.md): the whole loop on embedded defaults. `edgeloop demo board` is the
// earlier, smaller demo of one board and its agent (board.ts).

import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { boolOption, intOption, parseCliArgs } from '../../shared/config.ts';
import type { Command } from '../commands.ts';
import { loadCommandConfig } from '../options.ts';
import { boardDemoCommand } from './board.ts';
import { runDemo } from './loop.ts';
import { demoTimeline } from './plan.ts';
import { summaryText } from './summary.ts';

export const loopDemoDefaults = {
  /** Devices with a board on a virtual serial port and an agent process each. */
  devices: 3,
  /** Simulated telemetry-only devices (edgeloop sim --fleet). */
  fleet: 0,
  /** Device time at most, s; the demo ends earlier once the loop has run. */
  durationS: 1800,
  /** Device seconds per wall second. */
  speed: 5,
  seed: 1,
  summaryJson: '',
  keepRunning: false,
  dataDir: '',
};

const durationExpected = 'expected seconds of device time, 240..86400';
const schema = z
  .object({
    devices: intOption(1, 8),
    fleet: intOption(0, 1000),
    durationS: z.coerce
      .number({ error: durationExpected })
      .min(240, durationExpected)
      .max(86_400, durationExpected),
    speed: z.coerce
      .number({ error: 'expected 1..10 (device seconds per wall second)' })
      .min(1, 'expected 1..10 (device seconds per wall second)')
      .max(10, 'expected 1..10 (device seconds per wall second)'),
    seed: intOption(0, 2 ** 31 - 1),
    summaryJson: z.string(),
    keepRunning: boolOption,
    dataDir: z.string(),
  })
  .strict();

export type LoopDemoConfig = Readonly<z.output<typeof schema>>;

const d = loopDemoDefaults;
const t = demoTimeline;
const help = `edgeloop demo: the whole loop on embedded defaults, in a few minutes

Usage: edgeloop demo [options]
       edgeloop demo board [options]   the smaller demo: one board, its agent, the faults it catches

Starts the collector (embedded MQTT broker, SQLite store, model registry) in a data directory, trains a
baseline model on first run (cached in $XDG_CACHE_HOME/edgeloop, else ~/.cache/edgeloop; later runs reuse
it), pushes it and rolls it out to N devices, each a simulated board on its own virtual serial port read by
a real \`edgeloop agent\` process. Then it plays a story, faster than real time:
  pump-1  accel.x is recalibrated (a ${String(t.biasG)} g bias at ${String(t.biasAtS)} s): drift alert, update request, retraining on the
          captured data plus lab data under the conditions seen, the gate, canary, fleet rollout (or an
          automatic rollback if the new model does harm)
  pump-2  accel.z sticks from ${String(t.stuckAtS)} s for ${String(t.stuckS)} s: an integrity alert, never an update request
  pump-3  the room warms ${String(t.environmentDeltaC)} degC and gets ${String(t.environmentDeltaPct)} %RH damper at ${String(t.environmentAtS)} s: an environment change,
          no update request
  pump-4+ steady; --fleet devices are steady (60 computed windows each, replayed
          in a ring, in real time)
It prints the dashboard's URL first (the collector serves it at /), then milestones and a live status, and ends with a summary table
once the update request has ended and the drift alert resolved (or --duration runs out).

Options (each also a config-file key and an EDGELOOP_* variable; flag > variable > file > default):
  --devices <n>           devices with a board and an agent process, 1..8; key devices,
                          EDGELOOP_DEVICES (default: ${String(d.devices)}; this 2-core machine runs 3 in real time)
  --fleet <n>             simulated telemetry-only devices (edgeloop sim --fleet) filling the fleet, 0..1000;
                          key fleet, EDGELOOP_FLEET (default: ${String(d.fleet)})
  --duration <s>          device time at most, 240..86400 s; key durationS, EDGELOOP_DURATION_S
                          (default: ${String(d.durationS)}; the loop usually ends by 1100 s)
  --speed <x>             device seconds per wall second, 1..10; key speed, EDGELOOP_SPEED (default: ${String(d.speed)})
  --seed <n>              seed of the boards; the same seed gives the same alerts; key seed,
                          EDGELOOP_SEED (default: ${String(d.seed)})
  --summary-json <file>   also write the summary as JSON; key summaryJson, EDGELOOP_SUMMARY_JSON
  --keep-running          keep the dashboard, API and metrics up after the summary until Ctrl-C; key
                          keepRunning, EDGELOOP_KEEP_RUNNING (default: false)
  --data-dir <dir>        keep the collector's database, the agents' state and every log here (default:
                          a temporary directory, removed at the end); key dataDir, EDGELOOP_DATA_DIR
  --config <file>         JSON file of the keys above
  -h, --help              show this help

Ctrl-C stops everything it started (boards, agents, collector, virtual serial ports) and exits 130.
Exit 0 when the loop ran (updated, rolled back or refused), 1 when it did not finish or lost data.
Needs socat (apt-get install socat). See docs/demo.md.
`;

const options = {
  devices: { type: 'string' },
  fleet: { type: 'string' },
  duration: { type: 'string' },
  speed: { type: 'string' },
  seed: { type: 'string' },
  'summary-json': { type: 'string' },
  'keep-running': { type: 'boolean' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
} as const;

export function loadLoopDemoConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): LoopDemoConfig {
  const { values } = parseCliArgs(argv, options, false);
  return loadCommandConfig(
    {
      command: 'demo',
      defaults: loopDemoDefaults,
      schema,
      env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    },
    values,
    { duration: 'durationS' },
  );
}

export const demoCommand: Command = {
  summary: 'the whole loop on embedded defaults: drift, alerts, update request, retraining, rollout',
  help,
  async run(argv, io) {
    if (argv[0] === 'board') return boardDemoCommand.run(argv.slice(1), io);
    const cfg = loadLoopDemoConfig(argv, io.env);
    io.extendStopGrace?.(30_000);
    const summary = await runDemo(
      {
        devices: cfg.devices,
        fleet: cfg.fleet,
        durationS: cfg.durationS,
        speed: cfg.speed,
        seed: cfg.seed,
        dataDir: cfg.dataDir === '' ? undefined : cfg.dataDir,
        keepRunning: cfg.keepRunning,
      },
      io,
      (s) => {
        io.stdout.write(`\n${summaryText(s)}`);
        if (cfg.summaryJson === '') return;
        try {
          writeFileSync(cfg.summaryJson, `${JSON.stringify(s, null, 2)}\n`);
        } catch (err) {
          io.stderr.write(
            `edgeloop demo: cannot write --summary-json ${cfg.summaryJson}: ${(err as Error).message} [EDGELOOP_ERR_PATH]\n`,
          );
        }
      },
    );
    if (summary === undefined) return 130;
    const ran = ['updated', 'rolled_back', 'refused'].includes(summary.outcome);
    return ran && summary.lost.messages === 0 && summary.lost.samples === 0 ? 0 : 1;
  },
};
