// `edgeloop demo board`, the first demo (issues #2, #8 §7): one simulated sensor board on a virtual serial
// port (a real pseudo-terminal made by socat), the agent (its composition root, print mode) reading the
// other end through the real serialport binding, a compact live view of the faults the scenario injects
// and whether the agent caught them, then what the agent saw compared with what the simulator did.

import { z } from 'zod';
import {
  CaptureSummary,
  formatWindowLine,
  loadAgentConfig,
  noticeLine,
  startAgent,
} from '../../agent/index.ts';
import { loadScenario, ptyOutput, runSim } from '../../firmware-sim/index.ts';
import { boolOption, intOption, parseCliArgs } from '../../shared/config.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import type { Command } from '../commands.ts';
import { createDemoView, defaultDurationS, plan } from './board-view.ts';
import { loadCommandConfig } from '../options.ts';
import { defaultIntegrityConfig } from '../../shared/integrity/config.ts';
import { referenceSensors } from '../../shared/sensors.ts';

export const demoDefaults = {
  /** Bundled scenario name or scenario file. */
  scenario: 'sensor-faults',
  /** Simulator seed. */
  seed: 1,
  /** Device time to simulate, s; 0 = up to 30 s past the scenario's last fault (480 s for sensor-faults). */
  durationS: 0,
  /** Device seconds per wall second, or 'max'. */
  speed: '16' as string,
  /** Print every window as a line instead of the live view. */
  allWindows: false,
};

const MAX_DURATION_S = 7 * 24 * 3600;
const durationExpected = `expected seconds > 0, at most ${MAX_DURATION_S} (0 = until 30 s after the scenario's last fault)`;
const speedExpected = 'expected a positive number (device seconds per wall second) or max';

const schema = z
  .object({
    scenario: z.string().min(1, 'expected a bundled scenario name or a scenario file'),
    seed: intOption(0, 2 ** 32 - 1),
    durationS: z.coerce
      .number({ error: durationExpected })
      .min(0, durationExpected)
      .max(MAX_DURATION_S, durationExpected),
    speed: z.union(
      [
        z.literal('max'),
        z.coerce
          .number()
          .positive()
          .transform((n) => String(n)),
      ],
      { error: speedExpected },
    ),
    allWindows: boolOption,
  })
  .strict();

export type DemoConfig = Readonly<z.output<typeof schema>>;

const help = `edgeloop demo board: simulate a sensor board onto a virtual serial port and show what the agent sees

Usage: edgeloop demo board [options]

Creates a pseudo-terminal pair with socat, runs firmware-sim on one end and the agent (print mode, real
serialport binding) on the other. Lists the faults the scenario injects within the run and, live, whether
the agent's integrity checks caught each one (a few lines redrawn on a terminal; a line per caught fault
and every 60 s of device time otherwise), then a table comparing the agent's view with the simulator's
ground truth.

Options (each also a config-file key and an EDGELOOP_* variable; flag > variable > file > default):
  --scenario <name|file>  scenario to play; key scenario, EDGELOOP_SCENARIO (default: sensor-faults:
                          spikes, clipping, a stuck sensor, a clock jump); see \`edgeloop sim --list\`
  --seed <n>              simulator seed; key seed, EDGELOOP_SEED (default: 1)
  --duration <s>          device time, s; key durationS, EDGELOOP_DURATION_S (default: 0 = until 30 s
                          after the scenario's last fault: 480 s for sensor-faults)
  --speed <x|max>         device seconds per wall second; key speed, EDGELOOP_SPEED (default: 16, so the
                          default run takes ~30 s)
  --all-windows           print every window as a line instead of the live view; key allWindows,
                          EDGELOOP_ALL_WINDOWS (default: false)
  --config <file>         JSON file of the keys above
  -h, --help              show this help

Needs socat (apt-get install socat). \`edgeloop demo\` (no \`board\`) runs the whole loop: collector, registry,
update request, retraining and rollout.
`;

const options = {
  scenario: { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  speed: { type: 'string' },
  'all-windows': { type: 'boolean' },
  config: { type: 'string' },
} as const;

/** Flags, EDGELOOP_* variables and --config over the defaults; validated and frozen. */
export function loadDemoConfig(argv: readonly string[], env: Record<string, string | undefined>): DemoConfig {
  const { values } = parseCliArgs(argv, options, false);
  return loadCommandConfig(
    {
      command: 'demo',
      defaults: demoDefaults,
      schema,
      env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    },
    values,
    { duration: 'durationS' },
  );
}

export const boardDemoCommand: Command = {
  summary: 'simulate a board onto a virtual serial port and show what the agent sees',
  help,
  async run(argv, io) {
    const cfg = loadDemoConfig(argv, io.env);
    const scenario = loadScenario(cfg.scenario);
    if (!scenario.ok) throw new EdgeloopError(scenario.code, scenario.message);
    const events = scenario.value.events;
    const durationS = cfg.durationS > 0 ? cfg.durationS : defaultDurationS(events, scenario.value.durationS);
    const speed = cfg.speed === 'max' ? 'max' : Number(cfg.speed);
    // The board's sensors and the agent's (default) integrity checks decide what the edge can flag.
    const { watched, undetectable, later } = plan(events, durationS, {
      sensors: referenceSensors,
      integrity: defaultIntegrityConfig,
    });
    const out = (s: string): void => {
      io.stdout.write(`${s}\n`);
    };

    const pty = await ptyOutput();
    if (!pty.ok) throw new EdgeloopError(pty.code, pty.message);
    const output = pty.value;
    out(`virtual serial port: ${output.target} (the board writes to ${output.pair.devicePath})`);
    out(`scenario ${scenario.value.name}: ${scenario.value.description}`);
    out(`device time ${durationS} s at ${speed === 'max' ? 'full speed' : `${speed}x`}, seed ${cfg.seed}`);
    if (watched.length > 0) {
      out('faults injected in this run (the agent should flag each):');
      for (const f of watched) out(`  ${String(f.atS).padStart(4)} s  ${f.label}`);
    }
    if (undetectable.length > 0) {
      out('also injected, but not detectable at the edge within their duration (not counted as misses):');
      for (const u of undetectable)
        out(`  ${String(u.fault.atS).padStart(4)} s  ${u.fault.label}: ${u.reason}`);
    }
    if (later.length > 0)
      out(
        `not reached in ${durationS} s: ${later.map((f) => `${f.label} at ${f.atS} s`).join(', ')} (--duration ${Math.ceil(Math.max(...later.map((f) => f.endS))) + 30} shows them)`,
      );
    out('');

    const view = createDemoView({ out: io.stdout, durationS, watched, allWindows: cfg.allWindows });
    const summary = new CaptureSummary();
    const agentConfig = loadAgentConfig({ serial: output.target }, {});
    const agent = await startAgent(agentConfig, {
      onWindow: (w) => {
        summary.add(w);
        view.window(w, () => formatWindowLine(w));
      },
      onNotice: (n) => {
        const line = n.kind === 'invalidFrame' ? null : noticeLine(n);
        if (line !== null) view.note(`  agent: ${line}`);
      },
      onReaderState: (s) => {
        if (s.kind === 'disconnected') view.note(`  agent: serial port lost (${s.reason}); reconnecting`);
        else if (s.kind === 'connected' && s.attempt > 0) view.note('  agent: serial port back');
      },
    });
    try {
      const sim = await runSim({
        scenario: scenario.value,
        seed: cfg.seed,
        durationS,
        speed,
        out: output,
        signal: io.signal,
      });
      // Let the last bytes cross the pty before closing.
      const sent = Object.values(sim.groundTruth.sensors).reduce((a, s) => a + s.sentIntact, 0);
      const deadline = Date.now() + 5000;
      const received = (): number =>
        Object.values(agent.stats().ingest.stream.samples).reduce((a, b) => a + b, 0);
      while (received() < sent && Date.now() < deadline && !io.signal.aborted)
        await new Promise((r) => setTimeout(r, 50));
      await agent.close();
      view.end();
      const st = agent.stats().ingest;
      out('');
      out('sensor        generated  received  lost (agent)  lost (simulator)');
      for (const [name, gt] of Object.entries(sim.groundTruth.sensors)) {
        out(
          `${name.padEnd(12)} ${String(gt.generated).padStart(10)} ${String(st.stream.samples[name] ?? 0).padStart(9)} ${String(
            st.stream.samplesLost[name] ?? 0,
          ).padStart(13)} ${String(gt.lost).padStart(17)}`,
        );
      }
      out('');
      io.stdout.write(summary.toText(st));
      out(
        `\nsimulator: ${sim.frames} frames, ${(sim.bytes / 1e6).toFixed(2)} MB in ${(sim.wallMs / 1000).toFixed(1)} s`,
      );
      return 0;
    } finally {
      await agent.close();
      await output.close();
    }
  },
};
