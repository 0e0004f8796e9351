// MQTT topic tree v1 (docs/mqtt.md §Topics). Every topic edgeloop speaks is built and parsed here, so the
// agent, the collector and broker ACLs agree on one layout:
//
//   edgeloop/v1/devices/{deviceId}/{kind...}
//
// Everything a device publishes lives under its own prefix, so a broker ACL of the form
// `edgeloop/v1/devices/%c/#` (Mosquitto pattern, %c = client id) limits a device to its own topics.

import { fail, ok, type Result } from '../errors.ts';

export const TOPIC_ROOT = 'edgeloop/v1';
/** Device ids longer than this are refused: they end up in topic names, metrics labels and file names. */
export const MAX_DEVICE_ID_LENGTH = 64;

// MQTT-4.7.1: '+' and '#' are wildcards and '/' a level separator, so none may appear inside one level;
// MQTT-4.7.3-2 forbids U+0000. We go further and allow a conservative set that is also safe in Prometheus
// label values, file names and URLs.
const deviceIdPattern = /^[A-Za-z0-9._:-]+$/;

export const topicKinds = [
  'telemetry',
  'raw',
  'status',
  'modelCommand',
  'modelState',
  'alert',
  'integrity',
] as const;
export type TopicKind = (typeof topicKinds)[number];

export type QoS = 0 | 1 | 2;

export interface TopicSpec {
  /** Path below `edgeloop/v1/devices/{deviceId}/`. */
  readonly suffix: string;
  readonly qos: QoS;
  readonly retain: boolean;
  /** Who publishes it. */
  readonly from: 'device' | 'collector';
  /** 'json' payloads follow shared/mqtt/schemas.ts; 'binary' follows shared/mqtt/raw-codec.ts. */
  readonly encoding: 'json' | 'binary';
}

/** QoS and retain per topic kind (issue #4 §2: telemetry QoS 1, status retained with a last will). */
export const topicSpecs: Readonly<Record<TopicKind, TopicSpec>> = {
  telemetry: { suffix: 'telemetry', qos: 1, retain: false, from: 'device', encoding: 'json' },
  raw: { suffix: 'raw', qos: 1, retain: false, from: 'device', encoding: 'binary' },
  status: { suffix: 'status', qos: 1, retain: true, from: 'device', encoding: 'json' },
  modelCommand: { suffix: 'model/command', qos: 1, retain: false, from: 'collector', encoding: 'json' },
  modelState: { suffix: 'model/state', qos: 1, retain: true, from: 'device', encoding: 'json' },
  alert: { suffix: 'alerts', qos: 1, retain: false, from: 'device', encoding: 'json' },
  integrity: { suffix: 'integrity', qos: 1, retain: false, from: 'device', encoding: 'json' },
};

const kindBySuffix: ReadonlyMap<string, TopicKind> = new Map(
  topicKinds.map((k) => [topicSpecs[k].suffix, k]),
);

export function validateDeviceId(deviceId: string): Result<string> {
  if (deviceId.length === 0) return fail('EDGELOOP_ERR_MQTT_DEVICE_ID', 'the device id is empty');
  if (deviceId.length > MAX_DEVICE_ID_LENGTH) {
    return fail(
      'EDGELOOP_ERR_MQTT_DEVICE_ID',
      `the device id is ${deviceId.length} characters long (at most ${MAX_DEVICE_ID_LENGTH})`,
    );
  }
  if (!deviceIdPattern.test(deviceId)) {
    return fail(
      'EDGELOOP_ERR_MQTT_DEVICE_ID',
      `the device id ${JSON.stringify(deviceId)} has a forbidden character`,
    );
  }
  return ok(deviceId);
}

/** Builds the topic of one kind for one device; fails on an invalid device id. */
export function buildTopic(kind: TopicKind, deviceId: string): Result<string> {
  const v = validateDeviceId(deviceId);
  if (!v.ok) return v;
  return ok(`${TOPIC_ROOT}/devices/${deviceId}/${topicSpecs[kind].suffix}`);
}

/** All topics of one device, built once at start (the device id comes from config, so failure is fatal). */
export function deviceTopics(deviceId: string): Result<Readonly<Record<TopicKind, string>>> {
  const v = validateDeviceId(deviceId);
  if (!v.ok) return v;
  const out = {} as Record<TopicKind, string>;
  for (const k of topicKinds) out[k] = `${TOPIC_ROOT}/devices/${deviceId}/${topicSpecs[k].suffix}`;
  return ok(out);
}

/** Subscription filter for one kind over every device, e.g. `edgeloop/v1/devices/+/telemetry`. */
export function fleetFilter(kind: TopicKind): string {
  return `${TOPIC_ROOT}/devices/+/${topicSpecs[kind].suffix}`;
}

/** Everything any device publishes or receives. */
export const ALL_DEVICES_FILTER = `${TOPIC_ROOT}/devices/#`;

/**
 * MQTT 5 shared subscription (MQTT-4.8.2): brokers spread messages of `filter` over every subscriber in
 * `group`, which is how several collectors split ingest.
 */
export function sharedSubscription(group: string, filter: string): Result<string> {
  if (group === '' || /[+#/]/.test(group)) {
    return fail('EDGELOOP_ERR_MQTT_TOPIC', `the share group ${JSON.stringify(group)} is empty or has + # /`);
  }
  return ok(`$share/${group}/${filter}`);
}

export interface ParsedTopic {
  readonly kind: TopicKind;
  readonly deviceId: string;
}

/** Parses a topic a message arrived on. A topic that is not ours is a stable EDGELOOP_ERR_MQTT_TOPIC. */
export function parseTopic(topic: string): Result<ParsedTopic> {
  const prefix = `${TOPIC_ROOT}/devices/`;
  if (!topic.startsWith(prefix)) return fail('EDGELOOP_ERR_MQTT_TOPIC', `topic ${JSON.stringify(topic)}`);
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return fail('EDGELOOP_ERR_MQTT_TOPIC', `topic ${JSON.stringify(topic)} has no kind`);
  const deviceId = rest.slice(0, slash);
  const kind = kindBySuffix.get(rest.slice(slash + 1));
  if (kind === undefined)
    return fail('EDGELOOP_ERR_MQTT_TOPIC', `topic ${JSON.stringify(topic)} has an unknown kind`);
  const v = validateDeviceId(deviceId);
  if (!v.ok) return v;
  return ok({ kind, deviceId });
}

// The collector's alert topics (docs/mqtt.md §Alerts (collector)), outside the device tree because they
// are about devices, not from them:
//
//   edgeloop/v1/alerts/{kind}/{deviceId | _fleet}/{check}/{subject | _}
//
// One topic per alert identity (check, device, subject), retained while the alert is live, so an ops
// client that subscribes late still sees every open alert; resolving publishes the resolved event, then an
// empty retained message that clears the topic (MQTT-3.3.1-10). Levels are percent-encoded outside
// [A-Za-z0-9._:-] (so '/', '+', '#' never appear raw), and a leading '_' is encoded too: levels starting
// with '_' (`_fleet`, `_`) are ours and never collide with a name.

export const ALERTS_ROOT = `${TOPIC_ROOT}/alerts`;
/** Every collector alert topic. */
export const COLLECTOR_ALERTS_FILTER = `${ALERTS_ROOT}/#`;
export const collectorAlertTopicSpec = { qos: 1, retain: true, from: 'collector', encoding: 'json' } as const;
export const FLEET_LEVEL = '_fleet';
export const NO_SUBJECT_LEVEL = '_';

/** Percent-encodes one topic level (UTF-8 bytes outside [A-Za-z0-9._:-], and a leading '_'). */
export function encodeTopicLevel(s: string): string {
  // An empty level is legal MQTT but easy to miss in a filter; it gets a reserved name of its own.
  if (s === '') return '_empty';
  return Array.from(new TextEncoder().encode(s), (b, i) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9._:-]/.test(c) && !(i === 0 && c === '_')
      ? c
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/** The retained topic of one alert identity. */
export function collectorAlertTopic(a: {
  readonly kind: string;
  readonly deviceId: string | null;
  readonly check: string;
  readonly subject: string | null;
}): string {
  const device = a.deviceId === null ? FLEET_LEVEL : encodeTopicLevel(a.deviceId);
  const subject = a.subject === null ? NO_SUBJECT_LEVEL : encodeTopicLevel(a.subject);
  return `${ALERTS_ROOT}/${encodeTopicLevel(a.kind)}/${device}/${encodeTopicLevel(a.check)}/${subject}`;
}
