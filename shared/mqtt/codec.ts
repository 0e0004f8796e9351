// Turns bytes on a topic into a typed message and back. Receivers call decodeMessage() for everything they
// get; a payload that is not UTF-8 JSON, breaks its schema, or names another device than its topic is an
// expected failure with a stable code, never a throw (a malformed message must not crash a collector).

import { fail, ok, type Result } from '../errors.ts';
import { fastParseTelemetry } from './fast-telemetry.ts';
import { decodeRawSamples, type RawSamples } from './raw-codec.ts';
import { payloadSchemas, type JsonTopicKind, type PayloadByKind } from './schemas.ts';
import { parseTopic } from './topics.ts';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Validates and parses one JSON payload of a known kind. */
export function parseJsonPayload<K extends JsonTopicKind>(
  kind: K,
  payload: Uint8Array,
): Result<PayloadByKind[K]> {
  let json: unknown;
  try {
    json = JSON.parse(utf8Decoder.decode(payload));
  } catch {
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `${kind}: not UTF-8 JSON`);
  }
  // Telemetry is one message per device-window: a hand-written check equal to the schema comes first
  // (fast-telemetry.ts). When it says no, the schema decides, so refusals and their messages are zod's.
  if (kind === 'telemetry') {
    const fast = fastParseTelemetry(json);
    if (fast !== undefined) return ok(fast as PayloadByKind[K]);
  }
  const r = payloadSchemas[kind].safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `${kind}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return ok(r.data as PayloadByKind[K]);
}

/**
 * Validates then serialises a payload. Senders validate too, so a bug in a builder shows up at the sender
 * and in its tests, not as a counted drop on the collector.
 */
export function encodeJsonPayload<K extends JsonTopicKind>(
  kind: K,
  payload: PayloadByKind[K],
): Result<Uint8Array> {
  const r = payloadSchemas[kind].safeParse(payload);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `${kind}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return ok(utf8Encoder.encode(JSON.stringify(payload)));
}

export type DecodedMessage =
  | {
      readonly [K in JsonTopicKind]: {
        readonly kind: K;
        readonly deviceId: string;
        readonly payload: PayloadByKind[K];
      };
    }[JsonTopicKind]
  | { readonly kind: 'raw'; readonly deviceId: string; readonly payload: RawSamples };

/** Parses the topic, then the payload for that topic, then checks the payload names the topic's device. */
export function decodeMessage(topic: string, payload: Uint8Array): Result<DecodedMessage> {
  const t = parseTopic(topic);
  if (!t.ok) return t;
  const { kind, deviceId } = t.value;
  if (kind === 'raw') {
    const r = decodeRawSamples(payload);
    return r.ok ? ok({ kind, deviceId, payload: r.value }) : r;
  }
  const r = parseJsonPayload(kind, payload);
  if (!r.ok) return r;
  if (r.value.deviceId !== deviceId) {
    return fail(
      'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH',
      `topic device ${deviceId}, payload device ${r.value.deviceId}`,
    );
  }
  return ok({ kind, deviceId, payload: r.value } as DecodedMessage);
}
