// `edgeloop agent`: the device agent. With --mqtt it is the full runtime of agent/main.ts (inference,
// durable outbox, MQTT, model updates, /metrics and /healthz); without it, it only reads, checks and
// windows the serial stream and prints one line per window (or JSON with --json).

import { flagsToOptions, parseCliArgs } from '../shared/config.ts';
import { createLogger, type LogFields } from '../shared/platform/logger.ts';
import { loadAgentConfig, type AgentConfig } from './config.ts';
import { formatWindowLine, windowSummary } from './ingest/format.ts';
import { startAgent, type AgentRuntime } from './main.ts';

// `edgeloop decode` is the agent's offline decoder: the CLI reaches it through this entry point.
export { decodeCommand } from './decode-cli.ts';

interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Record<string, string | undefined>;
  readonly signal: AbortSignal;
  readonly extendStopGrace?: (ms: number) => void;
}

const help = `edgeloop agent: read a sensor board over serial, run its model, stream to MQTT

Usage: edgeloop agent --serial <path> [options]                         print windows (no publishing)
       edgeloop agent --serial <path> --mqtt <url> --device-id <id> --data-dir <dir> --trusted-key <pem>

Every option is also a config-file key (camelCase, e.g. mqttCa) and an EDGELOOP_* variable
(e.g. EDGELOOP_MQTT_CA). Precedence: flag > variable > --config file > default.

Serial and windows:
  --serial <path>              serial device, e.g. /dev/ttyUSB0 (required)
  --baud <n>                   line rate, baud (default 921600)
  --mode <m>                   auto | binary | csv (default auto: detected from the data)
  --csv-channels <list>        CSV column names, e.g. accel.x,accel.y,accel.z (required for csv)
  --device-id <id>             device id, MQTT client id and topic level (required with --mqtt);
                               a board whose HELLO names another id is published under this one
  --window-ms <ms>             window length, ms (default 1000)
  --hop-ms <ms>                window hop, ms (default 0: the window length)
  --max-windows <n>            stop after n windows (default 0: run until SIGINT/SIGTERM)
  --json                       print mode: each window as a JSON line (default false)
  --log-format <f>             status lines on stderr: text | json (default text)
  --log-level <l>              least severe level logged: debug | info | warn | error (default info)

Publishing (setting --mqtt turns the runtime on):
  --mqtt <url>                 broker, mqtt://host:1883 or mqtts://host:8883 (default none)
  --mqtt-username <name>       broker user (default none)
  --mqtt-password <pw>         broker password (default none); prefer EDGELOOP_MQTT_PASSWORD
  --mqtt-ca <file>             PEM CA of the broker certificate (default: system CAs; mqtts only)
  --mqtt-cert <file>           PEM client certificate for mutual TLS, with --mqtt-key (default none)
  --mqtt-key <file>            PEM client key for mutual TLS (default none)
  --mqtt-keepalive-sec <s>     MQTT keepalive, s (default 30)
  --mqtt-reconnect-max-ms <ms> largest reconnect delay, ms (default 30000)
  --mqtt-protocol-version <v>  4 = MQTT 3.1.1, 5 = MQTT 5 (default 4)
  --data-dir <dir>             state: outbox.sqlite and models/ (required with --mqtt)
  --max-outbox-bytes <n>       outbox bound, bytes (default 67108864 = 64 MiB)
  --outbox-max-age-ms <ms>     drop outbox messages older than this, ms (default 604800000 = 7 days)
  --replay-rate-per-sec <n>    backlog messages replayed per second after an outage (default 500)
  --raw-every-nth-window <n>   send raw samples of every nth window (default 0: never)
  --publish-max-in-flight <n>  publishes awaiting PUBACK, at most (default 64)
  --drain-timeout-ms <ms>      shutdown wait for outstanding PUBACKs, ms (default 5000)

Models:
  --trusted-key <file>         pinned Ed25519 public key, PEM (required with --mqtt); repeat or
                               comma-separate (EDGELOOP_TRUSTED_KEYS)
  --registry <url>             registry base URL (default none: any URL); install commands whose
                               bundle URL is not under it are refused
  --registry-token <token>     bearer token for registry reads (default none)
  --model-health-windows <n>   health window after a swap, windows (default 30)
  --model-health-max-ms <ms>   health window time limit, ms (default 120000)

Metrics:
  --metrics-port <n>           port of /metrics and /healthz (default 9464; 0 = a free port, printed)
  --metrics-host <addr>        interface to bind (default 127.0.0.1; 0.0.0.0 for a remote scraper)

Health (/healthz answers 503 when one holds; 0 turns a check off):
  --health-serial-down-max-ms <ms>       serial port closed this long, ms (default 10000)
  --health-broker-down-max-ms <ms>       no broker connection this long, ms (default 300000)
  --health-outbox-high-water-percent <p> outbox above this % of --max-outbox-bytes (default 90)
  --health-inference-failed-windows <n>  this many windows in a row failed inference (default 10)

  --config <file>              JSON file with the keys above in camelCase
  -h, --help                   show this help

The serial port is reopened with jittered backoff when it disappears (unplug), and the device is asked
for its HELLO again. SIGTERM/SIGINT flush the last windows, drain publishes, publish the offline status
and close. Status lines go to stderr (text, or JSON lines with --log-format json); in print mode windows
go to stdout. Bad options exit with code 2 and the error code in brackets. See docs/agent.md "Running the agent".
`;

const options = {
  serial: { type: 'string' },
  baud: { type: 'string' },
  mode: { type: 'string' },
  'csv-channels': { type: 'string' },
  'device-id': { type: 'string' },
  'window-ms': { type: 'string' },
  'hop-ms': { type: 'string' },
  json: { type: 'boolean' },
  'max-windows': { type: 'string' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  mqtt: { type: 'string' },
  'mqtt-username': { type: 'string' },
  'mqtt-password': { type: 'string' },
  'mqtt-ca': { type: 'string' },
  'mqtt-cert': { type: 'string' },
  'mqtt-key': { type: 'string' },
  'mqtt-keepalive-sec': { type: 'string' },
  'mqtt-reconnect-max-ms': { type: 'string' },
  'mqtt-protocol-version': { type: 'string' },
  'data-dir': { type: 'string' },
  'max-outbox-bytes': { type: 'string' },
  'outbox-max-age-ms': { type: 'string' },
  'replay-rate-per-sec': { type: 'string' },
  'raw-every-nth-window': { type: 'string' },
  'publish-max-in-flight': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  'trusted-key': { type: 'string', multiple: true },
  registry: { type: 'string' },
  'registry-token': { type: 'string' },
  'model-health-windows': { type: 'string' },
  'model-health-max-ms': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'health-serial-down-max-ms': { type: 'string' },
  'health-broker-down-max-ms': { type: 'string' },
  'health-outbox-high-water-percent': { type: 'string' },
  'health-inference-failed-windows': { type: 'string' },
  config: { type: 'string' },
} as const;

/** Flags → config keys (--trusted-key fills trustedKeys). Throws EdgeloopError on a bad flag. */
export function agentConfigFromArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): AgentConfig {
  const args = parseCliArgs(argv, options, false);
  const flags = flagsToOptions(args.values, { 'trusted-key': 'trustedKeys' });
  return loadAgentConfig(flags, env, args.values.config as string | undefined);
}

/** The shutdown summary's fields: what was read, lost and delivered. */
function summary(agent: AgentRuntime): LogFields {
  const st = agent.stats();
  const i = st.ingest;
  return {
    windows: i.windows,
    // A CSV board sends lines, not frames (issue #8 review: "frames=0" after 25,000 lines).
    ...(i.mode === 'csv' ? { lines: i.csv.lines, badLines: i.csv.badLines } : { frames: i.decoder.frames }),
    invalidFrames: i.decoder.invalidTotal,
    resyncs: i.decoder.resyncs,
    framesMissing: i.stream.framesMissing,
    samplesLost: i.stream.samplesLostTotal,
    ...(i.stream.samplesLostTotal > 0 ? { samplesLostBySensor: i.stream.samplesLost } : {}),
    serialReconnects: Math.max(0, agent.reader.stats.connects - 1),
    ...(st.sink === undefined || st.outbox === undefined
      ? {}
      : {
          telemetryEnqueued: st.sink.telemetryEnqueued,
          acked: st.outbox.ackedTotal,
          outboxDepth: st.outbox.depth,
          outboxDropped: st.outbox.droppedTotal,
        }),
    // Broker connections after the first (issue #8 §2: "reconnects 0" used to count only the serial port).
    ...(st.publisher === undefined ? {} : { brokerReconnects: Math.max(0, st.publisher.connections - 1) }),
  };
}

export const agentCommand = {
  summary: 'run the device agent',
  help,
  async run(argv: string[], io: CliIO): Promise<number> {
    const config = agentConfigFromArgs(argv, io.env);
    const log = createLogger({ stream: io.stderr, format: config.logFormat, level: config.logLevel });
    const print = config.mqtt === '';
    // The shutdown order (agent/runtime/shutdown.ts) waits up to drainTimeoutMs in each of four bounded
    // steps; the CLI's stop grace must not cut it short, or the live windows would not be flushed.
    io.extendStopGrace?.(4 * config.drainTimeoutMs + 5000);
    const agent = await startAgent(config, {
      log,
      ...(print
        ? {
            onWindow: (w) => {
              io.stdout.write(
                config.json ? `${JSON.stringify(windowSummary(w))}\n` : `${formatWindowLine(w)}\n`,
              );
            },
          }
        : {}),
    });
    // Hold the event loop until a signal or --max-windows: the agent's own timers are unref'd (STYLE.md
    // habit 9), so in print mode, with the port missing or unplugged, nothing else would (issue #8 §4: the
    // process ended with code 13 after one "retrying").
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      io.signal.addEventListener('abort', () => {
        resolve();
      });
      void agent.done.then(resolve);
    }).finally(() => {
      clearInterval(keepAlive);
    });
    log.info('stopping: flushing and closing', { reason: io.signal.aborted ? 'signal' : 'maxWindows' });
    await agent.close();
    log.info('summary', summary(agent));
    return 0;
  },
};
