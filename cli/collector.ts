// `edgeloop collector` (issue #9 §1, docs/collector.md): loads the options (flags, EDGELOOP_* variables,
// --config file; one schema, frozen: collector/config.ts), starts the collector (collector/main.ts) and
// runs it until SIGINT/SIGTERM, then drains: stop accepting, write the batch in hand, DISCONNECT the MQTT
// session without cleaning it, close the store. The CLI's stop grace is raised to the drain bound.

import { fileURLToPath } from 'node:url';
import {
  collectorDefaults,
  loadCollectorConfig,
  readTrustedKeys,
  startCollector,
  type Collector,
} from '../collector/index.ts';
import { flagsToOptions, parseCliArgs, type OptionSpec } from '../shared/config.ts';
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { referenceSensors } from '../shared/sensors.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { createLogger } from '../shared/platform/logger.ts';
import type { CliIO, Command } from './commands.ts';

/** The retraining child's entry beside this file: .ts from source (tsx), .js from dist. */
export function retrainWorkerPath(): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return fileURLToPath(new URL(`./retrain-worker.${ext}`, import.meta.url));
}

const d = collectorDefaults;
const help = `edgeloop collector: receive fleet telemetry over MQTT, store it, serve the API and the registry

Usage: edgeloop collector --data-dir <dir> [options]

Storage
  --data-dir <dir>               collector.sqlite (and the registry's files) live here (required)

Broker (default: an embedded aedes broker; --mqtt uses an external one such as Mosquitto)
  --mqtt <url>                   external broker, mqtt://host:port (default: embedded)
  --mqtt-username <name>         the collector's user name on the external broker (default: none)
  --mqtt-password <secret>       its password (default: none)
  --mqtt-client-id <id>          persistent session id; keep it stable (default ${d.mqttClientId})
  --broker-port <n>              embedded broker TCP port, 0 = any free (default ${d.brokerPort})
  --broker-host <addr>           embedded broker interface (default ${d.brokerHost})
  --credentials-file <file>      embedded broker credentials JSON: {"devices": {"<id>": "<password>"},
                                 "collector": {"username", "password"}} (default: none; no device may connect)

HTTP (API, /metrics, /healthz, /readyz, registry)
  --http-port <n>                TCP port, 0 = any free (default ${d.httpPort})
  --http-host <addr>             interface (default ${d.httpHost})
  --trusted-key <file.pub>       registry: public key pushes must be signed with; repeatable
                                 (default: none; the registry is not mounted)

Ingest
  --batch-max-messages <n>       write a batch at this many messages (default ${d.batchMaxMessages})
  --batch-max-delay-ms <ms>      ... or this long after its first message, ms (default ${d.batchMaxDelayMs})
  --max-message-bytes <bytes>    larger payloads are dead-lettered, bytes (default ${d.maxMessageBytes})
  --dead-letter-capacity <n>     dead letters kept for the API, newest (default ${d.deadLetterCapacity})
  --compact-interval-ms <ms>     retention and rollup period, ms (default ${d.compactIntervalMs})
  --shutdown-timeout-ms <ms>     bound on the SIGTERM drain, ms (default ${d.shutdownTimeoutMs})

Monitors (docs/monitors.md, docs/integrity.md "Central checks")
  --evaluate-interval-ms <ms>    integrity and drift evaluation period, ms (default ${d.evaluateIntervalMs})
  --drift-window <n>             newest windows per device each drift evaluation judges (default ${d.driftWindow})
  --drift-features <names>       features the drift monitors watch, comma list
                                 (default: each channel's level and spread features)
  --commissioning-s <s>          device time after a model activates that becomes the device's own
                                 baseline, s (default ${d.commissioningS})
  --drift-persistence <n>        consecutive drift evaluations before a decision (default ${d.driftPersistence})
  --drift-cooldown-s <s>         after an automatic action on a device, none for this long, s
                                 (default ${d.driftCooldownS})
  --estimated-drop-margin <x>    estimated accuracy (CBPE) this far below the model's test accuracy is a
                                 performance alert; 0..1, 0 = off (default ${d.estimatedDropMargin})
  --estimated-drop-windows <n>   newest windows per device the estimate is over (default ${d.estimatedDropWindows})
  --stale-after-s <s>            a device silent this long is stale, 1..300 s (default ${d.staleAfterS})
  --clock-skew-max-ms <ms>       sender clock this far from receive time is skewed, 1..60000 ms
                                 (default ${d.clockSkewMaxMs})

Alerts (docs/alerts.md)
  --alert-clear-after <n>        inactive evaluations before an alert resolves (default ${d.alertClearAfter})
  --alert-webhooks <urls>        webhook URLs for alert changes, comma list or repeated (default: none)
  --alert-webhook-secret <s>     HMAC-SHA256 key of the webhook signature (required with webhooks)
  --alertmanager-url <url>       Prometheus Alertmanager, http://host:9093 (default: none)
  --alert-mqtt <true|false>      publish alert changes on MQTT (default ${String(d.alertMqtt)})

Closing the loop (docs/update-requests.md, docs/retraining.md, docs/rollouts.md; needs --trusted-key)
  --public-url <url>             URL devices reach this API at; model commands name bundle downloads
                                 under it (default: the listen address, http://<http-host>:<port>)
  --signing-key <file.key>       PEM private key retrained models are signed with (default:
                                 <data-dir>/keys/collector-signing.key, created on first start;
                                 agents pin the .pub beside it)
  --auto-rollout <true|false>    start the rollout an update request proposes at once, without an
                                 operator's approval (default ${String(d.autoRollout)})
  --retraining <true|false>      let update requests open retraining jobs (default ${String(d.retraining)})
  --update-fit-window-s <s>      recent data versions are judged on, s (default ${d.updateFitWindowS})
  --update-fit-margin <share>    a newer version must fit that data better by this share
                                 (default ${d.updateFitMargin})
  --update-capture-s <s>         data a retraining job takes from the request's devices, s
                                 (default ${d.updateCaptureS})
  --update-require-device-change <true|false>
                                 raise a request only when the device's own baseline saw the same
                                 sensor group move, not only a mismatch with the model's reference
                                 (default ${String(d.updateRequireDeviceChange)})
  --update-on-estimated-drop <true|false>
                                 let an estimated accuracy drop (a performance alert) raise an update
                                 request about the whole model (default ${String(d.updateOnEstimatedDrop)})
  --rollout-canary-bake-s <s>    rollouts requests propose: bake after the canary (the request's
                                 devices), s (default ${d.rolloutCanaryBakeS})
  --rollout-bake-s <s>           ... and after half of the rest of the fleet, s (default ${d.rolloutBakeS})
  --rollout-max-latency-ratio <x>  their analysis fails a phase whose p95 inference latency rose above x
                                 times its baseline (and by 10 ms) (default ${d.rolloutMaxLatencyRatio})

  --config <file>                JSON file of options (camelCase keys: {"dataDir": ...})
  -h, --help                     show this help

Every option can also be set as EDGELOOP_COLLECTOR_<NAME> or EDGELOOP_<NAME> (EDGELOOP_DATA_DIR, ...);
later wins: defaults < --config file < variables < flags. EDGELOOP_REGISTRY_TOKEN is the registry's
write token.
See docs/collector.md for the HTTP API, the storage and the shutdown order.
`;

const s = { type: 'string' } as const;
const options: OptionSpec = {
  'data-dir': s,
  mqtt: s,
  'mqtt-username': s,
  'mqtt-password': s,
  'mqtt-client-id': s,
  'broker-port': s,
  'broker-host': s,
  'credentials-file': s,
  'http-port': s,
  'http-host': s,
  'trusted-key': { type: 'string', multiple: true },
  'batch-max-messages': s,
  'batch-max-delay-ms': s,
  'max-message-bytes': s,
  'dead-letter-capacity': s,
  'compact-interval-ms': s,
  'shutdown-timeout-ms': s,
  'evaluate-interval-ms': s,
  'drift-window': s,
  'drift-features': s,
  'commissioning-s': s,
  'drift-persistence': s,
  'drift-cooldown-s': s,
  'estimated-drop-margin': s,
  'estimated-drop-windows': s,
  'stale-after-s': s,
  'clock-skew-max-ms': s,
  'alert-clear-after': s,
  'alert-webhooks': { type: 'string', multiple: true },
  'alert-webhook-secret': s,
  'alertmanager-url': s,
  'alert-mqtt': s,
  'public-url': s,
  'signing-key': s,
  'auto-rollout': s,
  retraining: s,
  'update-fit-window-s': s,
  'update-fit-margin': s,
  'update-capture-s': s,
  'update-require-device-change': s,
  'update-on-estimated-drop': s,
  'rollout-canary-bake-s': s,
  'rollout-bake-s': s,
  'rollout-max-latency-ratio': s,
  config: s,
  help: { type: 'boolean', short: 'h' },
};

async function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

export const collectorCommand: Command = {
  summary: 'run the collector: MQTT ingest, storage, HTTP API and registry',
  help,
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseCliArgs(argv, options, false);
    if (args.values.help === true) {
      io.stdout.write(help);
      return 0;
    }
    const config = loadCollectorConfig(
      flagsToOptions(args.values, { 'trusted-key': 'trustedKeys' }),
      io.env,
      typeof args.values.config === 'string' ? args.values.config : undefined,
    );
    io.extendStopGrace?.(config.shutdownTimeoutMs + 5000);
    const keys = await readTrustedKeys(config.trustedKeys);
    if (!keys.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `trustedKeys: ${keys.message}`);
    const token = io.env.EDGELOOP_REGISTRY_TOKEN;
    const log = createLogger({ stream: io.stderr });
    // A misspelled --drift-features name is never judged, silently (no telemetry carries it): say so. A
    // warning, not a refusal: a board with other sensors has other feature names.
    const known = new Set(createFeaturePipeline().featureNames(referenceSensors));
    const unknownFeatures = config.driftFeatures.filter((f) => !known.has(f));
    if (unknownFeatures.length > 0)
      log.warn('driftFeatures: the reference board makes no feature of these names; they are not judged', {
        features: unknownFeatures.join(','),
        example: 'accel.x.mean',
      });
    const collector: Collector = await startCollector(config, {
      logger: log,
      trustedKeys: keys.value,
      registryTokens: token === undefined || token === '' ? [] : [{ token, actor: 'admin' }],
      retrainWorkerPath: retrainWorkerPath(),
    });
    io.stdout.write(
      `collector listening on ${collector.httpUrl} (broker ${collector.brokerUrl}, ${
        config.mqtt === '' ? 'embedded' : 'external'
      }; data ${config.dataDir})\n`,
    );
    // Held until a signal: the collector's timers are unref'd or short-lived.
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    try {
      await untilAborted(io.signal);
    } finally {
      clearInterval(keepAlive);
    }
    log.info('stopping: writing the batch in hand, closing the MQTT session and the store');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      collector.close().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(true);
        }, config.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      log.error('shutdown did not finish within shutdownTimeoutMs', { ms: config.shutdownTimeoutMs });
      return 1;
    }
    log.info('stopped');
    return 0;
  },
};
