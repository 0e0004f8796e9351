// Model commands the controller publishes (docs/mqtt.md modelCommand; docs/agent-models.md): install and
// rollback, QoS 1, not retained (a retained command would be replayed to a device on every reconnect and
// refused as a downgrade). The envelope's runId is chosen at random per controller process and msgSeq
// counts from 1, as for every sender (shared/mqtt/schemas.ts).

import { randomInt } from 'node:crypto';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { ModelCommandPayload, ModelRef } from '../../shared/mqtt/schemas.ts';
import { PAYLOAD_VERSION } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import type { Result } from '../../shared/errors.ts';

export interface CommandBuilder {
  install(
    deviceId: string,
    c: {
      deploySeq: number;
      model: ModelRef;
      url: string;
      digest: string;
      sizeBytes?: number;
      rolloutId: string;
    },
    nowMs: number,
  ): Result<{ topic: string; payload: Uint8Array }>;
  rollback(
    deviceId: string,
    c: { deploySeq: number; reason: string; rolloutId: string },
    nowMs: number,
  ): Result<{ topic: string; payload: Uint8Array }>;
}

export function createCommandBuilder(): CommandBuilder {
  const runId = randomInt(0, 0xffff_ffff);
  let msgSeq = 0;
  function build(
    deviceId: string,
    body: ModelCommandPayload,
  ): Result<{ topic: string; payload: Uint8Array }> {
    const topic = buildTopic('modelCommand', deviceId);
    if (!topic.ok) return topic;
    const payload = encodeJsonPayload('modelCommand', body);
    return payload.ok ? { ok: true, value: { topic: topic.value, payload: payload.value } } : payload;
  }
  const envelope = (deviceId: string, nowMs: number) => ({
    v: PAYLOAD_VERSION,
    deviceId,
    runId,
    msgSeq: ++msgSeq,
    tsMs: Math.floor(nowMs),
  });
  return {
    install(deviceId, c, nowMs) {
      return build(deviceId, {
        ...envelope(deviceId, nowMs),
        action: 'install',
        deploySeq: c.deploySeq,
        model: c.model,
        url: c.url,
        digest: c.digest,
        ...(c.sizeBytes === undefined ? {} : { sizeBytes: c.sizeBytes }),
        rolloutId: c.rolloutId,
      } as ModelCommandPayload);
    },
    rollback(deviceId, c, nowMs) {
      return build(deviceId, {
        ...envelope(deviceId, nowMs),
        action: 'rollback',
        deploySeq: c.deploySeq,
        reason: c.reason,
        rolloutId: c.rolloutId,
      } as ModelCommandPayload);
    },
  };
}
