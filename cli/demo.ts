// `edgeloop demo`, the interim version (issue #2): one simulated sensor board on a virtual serial port (a
// real pseudo-terminal made by socat), the agent's ingestion reading the other end through the real
// serialport binding, and what the agent sees, compared with what the simulator did. The full demo
// (broker, collector, registry, fleet rollout) replaces this as those pieces land.

import { openSerialPort } from '../agent/adapters/serialport.ts';
import { noticeLine } from '../agent/cli.ts';
import { formatWindowLine } from '../agent/ingest/format.ts';
import { IngestPipeline } from '../agent/ingest/pipeline.ts';
import { SerialReader } from '../agent/ingest/serial-reader.ts';
import { CaptureSummary } from '../agent/ingest/summary.ts';
import { ptyOutput } from '../firmware-sim/adapters/pty.ts';
import { loadScenario } from '../firmware-sim/adapters/scenario-files.ts';
import { runSim } from '../firmware-sim/run.ts';
import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import type { Command } from './commands.ts';

const help = `edgeloop demo: simulate a sensor board onto a virtual serial port and show what the agent sees

Usage: edgeloop demo [options]

Creates a pseudo-terminal pair with socat, runs firmware-sim on one end and the agent's ingestion on the
other (real serialport binding), prints windows that carry integrity flags (and every 10th window as a
heartbeat), then a table comparing the agent's view with the simulator's ground truth.

Options:
  --scenario <name|file>  scenario to play (default: sensor-faults: spikes, clipping, a stuck sensor,
                          a clock jump); see \`edgeloop sim --list\`
  --seed <n>              simulator seed (default: 1)
  --duration <s>          seconds of device time (default: 240)
  --speed <x|max>         device seconds per wall second (default: 8, so the default run takes ~30 s)
  --all-windows           print every window, not only flagged ones
  -h, --help              show this help

Needs socat (apt-get install socat). The full demo (MQTT broker, collector, registry, rollout) arrives with
later issues.
`;

const options = {
  scenario: { type: 'string' },
  seed: { type: 'string' },
  duration: { type: 'string' },
  speed: { type: 'string' },
  'all-windows': { type: 'boolean' },
} as const;

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `${name}: a positive number, not ${v}`);
  return n;
}

export const demoCommand: Command = {
  summary: 'simulate a board onto a virtual serial port and show what the agent sees',
  help,
  async run(argv, io) {
    const args = parseCliArgs(argv, options, false);
    const scenarioName = (args.values.scenario as string | undefined) ?? 'sensor-faults';
    const seed = Math.trunc(positive('seed', args.values.seed as string | undefined, 1));
    const durationS = positive('duration', args.values.duration as string | undefined, 240);
    const speedArg = args.values.speed as string | undefined;
    const speed = speedArg === 'max' ? 'max' : positive('speed', speedArg, 8);
    const scenario = loadScenario(scenarioName);
    if (!scenario.ok) throw new EdgeloopError(scenario.code, scenario.message);
    const out = (s: string): void => {
      io.stdout.write(`${s}\n`);
    };

    const pty = await ptyOutput();
    if (!pty.ok) throw new EdgeloopError(pty.code, pty.message);
    const output = pty.value;
    out(`virtual serial port: ${output.target} (the board writes to ${output.pair.devicePath})`);
    out(`scenario ${scenario.value.name}: ${scenario.value.description}`);
    out(`device time ${durationS} s at ${String(speed)}x, seed ${seed}\n`);

    const summary = new CaptureSummary();
    const pipeline = new IngestPipeline(
      {},
      (w) => {
        summary.add(w);
        if (args.values['all-windows'] === true || w.integrity.status !== 'good' || w.index % 10 === 0)
          out(formatWindowLine(w));
      },
      (n) => {
        const line = n.kind === 'invalidFrame' ? null : noticeLine(n);
        if (line !== null) out(`  agent: ${line}`);
      },
    );
    const reader = new SerialReader({
      open: () => openSerialPort({ path: output.target, baudRate: 921_600 }),
      pipeline,
      onState: (s) => {
        if (s.kind === 'disconnected') out(`  agent: serial port lost (${s.reason}); reconnecting`);
        else if (s.kind === 'connected' && s.attempt > 0) out('  agent: serial port back');
      },
    });
    reader.start();
    try {
      const sim = await runSim({
        scenario: scenario.value,
        seed,
        durationS,
        speed,
        out: output,
        signal: io.signal,
      });
      // Let the last bytes cross the pty before closing.
      const sent = Object.values(sim.groundTruth.sensors).reduce((a, s) => a + s.sentIntact, 0);
      const deadline = Date.now() + 5000;
      const received = (): number =>
        Object.values(pipeline.stats().stream.samples).reduce((a, b) => a + b, 0);
      while (received() < sent && Date.now() < deadline && !io.signal.aborted)
        await new Promise((r) => setTimeout(r, 50));
      await reader.close();
      const st = pipeline.stats();
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
      await reader.close();
      await output.close();
    }
  },
};
