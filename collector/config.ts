// The configuration of `edgeloop collector` (docs/collector.md §Options): one defaults object, one zod
// schema, validated at start and frozen (STYLE.md habit 8), through the shared loader. Sources, later wins:
// defaults < config file (--config, JSON, camelCase keys) < EDGELOOP_* variables (EDGELOOP_DATA_DIR,
// EDGELOOP_MQTT, ...; EDGELOOP_COLLECTOR_<OPTION> wins over them, since an agent on the same host may
// export EDGELOOP_MQTT or EDGELOOP_DATA_DIR) < flags (kebab-case).

import { z } from 'zod';
import { boolOption, intOption, listOption } from '../shared/config.ts';
import { configInvalid, loadConfig } from '../shared/platform/config.ts';

export const collectorDefaults = {
  /** collector.sqlite (and, with --trusted-key, the registry's registry.sqlite and blobs/). Required. */
  dataDir: '',
  /** External broker URL (mqtt://, mqtts://). '' runs the embedded broker. */
  mqtt: '',
  /** The collector's user name and password on an external broker ('' = none). */
  mqttUsername: '',
  mqttPassword: '',
  /** Client id of the collector's persistent session; keep it stable across restarts. */
  mqttClientId: 'edgeloop-collector',
  /** Embedded broker TCP port; 0 picks a free one. */
  brokerPort: 1883,
  /** Embedded broker interface; 0.0.0.0 accepts devices from the network. */
  brokerHost: '0.0.0.0',
  /**
   * JSON credentials for the embedded broker: {"devices": {"<deviceId>": "<password>"}, "collector":
   * {"username", "password"}}. '' = no device may connect (the collector uses a random password).
   */
  credentialsFile: '',
  /** HTTP port of the API, registry, /metrics and probes; 0 picks a free one. */
  httpPort: 8080,
  httpHost: '127.0.0.1',
  /** A batch is written when it holds this many messages ... */
  batchMaxMessages: 500,
  /** ... or this long after its first message, ms. */
  batchMaxDelayMs: 200,
  /** Larger payloads are dead-lettered, bytes. Telemetry is about 7.7 KB; a raw block at most ~64 KB. */
  maxMessageBytes: 262_144,
  /** Dead letters kept for GET /api/v1/dead-letters (the newest). */
  deadLetterCapacity: 1000,
  /** Public keys (PEM files) for the registry; with none, the registry is not mounted. */
  trustedKeys: [] as readonly string[],
  /** How often retention and rollups run (docs/storage.md), ms. */
  compactIntervalMs: 60_000,
  /** Bound on the SIGTERM drain (write the batch, close the session, close the store), ms. */
  shutdownTimeoutMs: 15_000,

  // Monitors (docs/monitors.md)
  /** How often the integrity and drift monitors are evaluated, ms. */
  evaluateIntervalMs: 10_000,
  /** Windows per device judged by each drift evaluation (the newest ones; 1 window ≈ 1 s). */
  driftWindow: 300,
  /** Features the drift monitors watch; [] = every channel's level and spread features (docs/monitors.md). */
  driftFeatures: [] as readonly string[],
  /** Device time after a model is activated (or a device first seen) that becomes its own baseline, s. */
  commissioningS: 600,
  /** Consecutive drift evaluations before a drift decision is made. */
  driftPersistence: 3,
  /** After a decision acts on a device (an update request), no other for this long, s. */
  driftCooldownS: 1800,
  /**
   * Estimated accuracy (CBPE over a device's newest windows) this far below the model's test accuracy is a
   * `performance` alert, which feeds the update-request rule (docs/explanations.md). 0 turns the check off.
   */
  estimatedDropMargin: 0.1,
  /** Newest windows per device the estimated accuracy is over. */
  estimatedDropWindows: 300,
  /** A device that sent nothing for this long is stale, s. */
  staleAfterS: 30,
  /** Sender clock further than this from the collector's receive time is skewed, ms. */
  clockSkewMaxMs: 5000,

  // Alerts (docs/alerts.md)
  /** Consecutive inactive evaluations before an alert resolves (hysteresis). */
  alertClearAfter: 3,
  /** Webhook URLs that receive every alert change (HMAC-SHA256 signed with alertWebhookSecret). */
  alertWebhooks: [] as readonly string[],
  /** Shared secret of the webhook signature; required with alertWebhooks. */
  alertWebhookSecret: '',
  /** Alertmanager base URL (http://host:9093); '' = none. Alerts are posted to its /api/v2/alerts. */
  alertmanagerUrl: '',
  /** Publish alert changes on MQTT (docs/mqtt.md §Alerts). */
  alertMqtt: true,

  // Closing the loop (docs/update-requests.md, docs/retraining.md, docs/rollouts.md); needs the registry
  /**
   * The URL devices reach this collector's HTTP API at: model commands name bundle downloads under it.
   * '' = the address it listens on (http://<http-host>:<port>), which only suits devices on this host.
   */
  publicUrl: '',
  /**
   * PEM private key (Ed25519) the collector signs retrained models with. '' = <data-dir>/keys/
   * collector-signing.key, created on first start; agents pin the .pub beside it (docs/retraining.md).
   */
  signingKey: '',
  /** Start the rollout an update request proposes without waiting for an operator's approval. */
  autoRollout: false,
  /** Let update requests open retraining jobs (a child process per job, one at a time). */
  retraining: true,
  /** Recent device data an update request judges versions on (fit to their reference profiles), s. */
  updateFitWindowS: 600,
  /** A newer version must fit the devices' data better by this share to be proposed (0.1 = 10 %). */
  updateFitMargin: 0.1,
  /** Device data a retraining job captures from the request's devices, back from the request, s. */
  updateCaptureS: 3600,
  /**
   * A request needs the device's own baseline to confirm the move (a change on the device), not only a
   * mismatch with the model's reference.
   */
  updateRequireDeviceChange: true,
  /**
   * Let an estimated-drop (`performance`) alert raise an update request. Off by default: in the scenario
   * tests a stuck accelerometer and a humid season lowered the model's confidence enough to raise one, and a
   * broken sensor is not a model to replace (docs/explanations.md, "Estimated drop alerts").
   */
  updateOnEstimatedDrop: false,
  /** Rollouts an update request proposes: bake time after the canary (its devices), s ... */
  rolloutCanaryBakeS: 60,
  /** ... and after the first half of the rest of the fleet (the second half ends the rollout), s. */
  rolloutBakeS: 60,
  /**
   * Their analysis fails a phase whose p95 inference latency rose above this ratio (and by more than 10 ms)
   * over its baseline (docs/rollouts.md "Analysis"). Raise it where latency is noisy (a loaded host).
   */
  rolloutMaxLatencyRatio: 1.5,
};

export type CollectorConfig = Readonly<typeof collectorDefaults>;

const schema = z
  .object({
    dataDir: z
      .string()
      .min(1, 'is required: where the collector keeps its database, e.g. --data-dir /var/lib/edgeloop'),
    mqtt: z
      .string()
      .refine((s) => s === '' || /^(mqtts?|wss?|tcp|tls):\/\//.test(s), 'expected mqtt://host:port'),
    mqttUsername: z.string(),
    mqttPassword: z.string(),
    mqttClientId: z.string().min(1).max(128),
    brokerPort: intOption(0, 65_535),
    brokerHost: z.string().min(1),
    credentialsFile: z.string(),
    httpPort: intOption(0, 65_535),
    httpHost: z.string().min(1),
    batchMaxMessages: intOption(1, 100_000),
    batchMaxDelayMs: intOption(1, 60_000),
    maxMessageBytes: intOption(1024, 256 * 1024 * 1024),
    deadLetterCapacity: intOption(1, 1_000_000),
    trustedKeys: listOption,
    compactIntervalMs: intOption(1000, 86_400_000),
    shutdownTimeoutMs: intOption(1000, 600_000),
    evaluateIntervalMs: intOption(100, 3_600_000),
    driftWindow: intOption(20, 100_000),
    driftFeatures: listOption,
    commissioningS: intOption(0, 30 * 86_400),
    driftPersistence: intOption(1, 1000),
    driftCooldownS: intOption(0, 30 * 86_400),
    estimatedDropMargin: z.coerce.number().min(0).max(1),
    estimatedDropWindows: intOption(20, 100_000),
    // At most the fixed fail limits (collector/integrity/options.ts staleFailAfterS 300 s, clockSkewFailMs
    // 60 s): a suspect limit above its fail limit is refused here, not at start.
    staleAfterS: intOption(1, 300),
    clockSkewMaxMs: intOption(1, 60_000),
    alertClearAfter: intOption(1, 1000),
    alertWebhooks: listOption.refine(
      (l) => l.every((u) => /^https?:\/\//.test(u)),
      'expected http:// or https:// URLs',
    ),
    alertWebhookSecret: z.string(),
    alertmanagerUrl: z
      .string()
      .refine((s) => s === '' || /^https?:\/\//.test(s), 'expected http://host:9093'),
    alertMqtt: boolOption,
    publicUrl: z.string().refine((s) => s === '' || /^https?:\/\/[^/]+/.test(s), 'expected http://host:port'),
    signingKey: z.string(),
    autoRollout: boolOption,
    retraining: boolOption,
    updateFitWindowS: intOption(10, 7 * 86_400),
    updateFitMargin: z.coerce.number().min(0).max(1),
    updateCaptureS: intOption(60, 30 * 86_400),
    updateRequireDeviceChange: boolOption,
    updateOnEstimatedDrop: boolOption,
    rolloutCanaryBakeS: intOption(0, 30 * 86_400),
    rolloutBakeS: intOption(0, 30 * 86_400),
    rolloutMaxLatencyRatio: z.coerce.number().min(1).max(1_000_000),
  })
  .strict();

function crossCheck(c: z.infer<typeof schema>): void {
  if (c.mqtt !== '' && c.credentialsFile !== '')
    throw configInvalid(
      'credentialsFile: is for the embedded broker; with --mqtt the external broker authenticates devices',
    );
  if (c.mqttPassword !== '' && c.mqttUsername === '')
    throw configInvalid('mqttPassword: needs --mqtt-username too (MQTT 3.1.1 forbids a password alone)');
  if (c.alertWebhooks.length > 0 && c.alertWebhookSecret === '')
    throw configInvalid(
      'alertWebhookSecret: is required with --alert-webhooks (receivers verify the signature)',
    );
}

/**
 * Merges flags, EDGELOOP_* variables and the JSON config file over the defaults, validates and freezes.
 * Throws EdgeloopError (EDGELOOP_ERR_CONFIG_INVALID / _UNKNOWN_OPTION) naming the option at fault.
 */
export function loadCollectorConfig(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
  configFile?: string,
): CollectorConfig {
  return loadConfig({
    command: 'collector',
    defaults: collectorDefaults,
    schema,
    flags,
    env,
    configFile,
    crossCheck,
  });
}
