// The edgeloop subcommands. Each entry loads its module lazily, so `edgeloop sim` never loads
// onnxruntime and `--help` stays fast.

export interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Record<string, string | undefined>;
  /** Resolves when the user interrupts (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
  /**
   * Raises the time the process waits for the command to stop after the first signal (default 10 s,
   * cli/signals.ts) to the command's own shutdown bound. Absent in tests.
   */
  readonly extendStopGrace?: (ms: number) => void;
}

export interface Command {
  readonly summary: string;
  readonly help: string;
  /** Returns the process exit code. */
  run(argv: string[], io: CliIO): Promise<number>;
}

type Loader = () => Promise<Command>;

export interface CommandEntry {
  readonly summary: string;
  readonly load: Loader;
  /** false for a command whose issue has not landed yet: --help marks it "(not available yet)". */
  readonly available?: false;
}

export const commands: Readonly<Record<string, CommandEntry>> = {
  demo: {
    summary: 'the whole loop on embedded defaults: drift, alerts, update request, retraining, rollout',
    load: () => import('./demo/command.ts').then((m) => m.demoCommand),
  },
  sim: {
    summary: 'simulate a sensor board (firmware-sim)',
    load: () => import('../firmware-sim/cli.ts').then((m) => m.simCommand),
  },
  agent: {
    summary: 'run the device agent',
    load: () => import('../agent/cli.ts').then((m) => m.agentCommand),
  },
  decode: {
    summary: 'decode a captured serial byte stream',
    load: () => import('../agent/cli.ts').then((m) => m.decodeCommand),
  },
  collector: {
    summary: 'run the collector: MQTT ingest, storage, HTTP API and registry',
    load: () => import('./collector.ts').then((m) => m.collectorCommand),
  },
  train: {
    summary: 'build a dataset, train, test and export a signed model bundle',
    load: () => import('./train.ts').then((m) => m.trainCommand),
  },
  features: {
    summary: 'write feature vectors as a CSV (from a capture, a scenario or lab data)',
    load: () => import('./features.ts').then((m) => m.featuresCommand),
  },
  registry: {
    summary: 'serve the model registry, or push, list, pull, verify and promote bundles',
    load: () => import('./registry.ts').then((m) => m.registryCommand),
  },
  rollout: {
    summary: 'roll a model version out to the fleet: start, status, pause, resume, abort',
    load: () => import('./rollout.ts').then((m) => m.rolloutCommand),
  },
  drift: {
    summary: 'compare current data with a reference (CSV or bundle), column by column',
    load: () => import('./drift.ts').then((m) => m.driftCommand),
  },
  explain: {
    summary: "explain one window's prediction offline: sensor-group contributions and top features",
    load: () => import('./explain.ts').then((m) => m.explainCommand),
  },
  keygen: {
    summary: 'make an Ed25519 key pair for signing model bundles',
    load: () => import('./keygen.ts').then((m) => m.keygenCommand),
  },
};
