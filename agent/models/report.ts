// The model manager reports each transition as the body of a modelState payload (shared/mqtt/schemas.ts,
// docs/mqtt.md "modelState"). The envelope (v, deviceId, runId, msgSeq, tsMs) belongs to the MQTT sender,
// which numbers every message it publishes; modelStatePayload() joins the two and validates the result.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { formatIssues } from '../../shared/bundle/manifest.ts';
import { modelStateSchema, PAYLOAD_VERSION, type ModelStatePayload } from '../../shared/mqtt/schemas.ts';

export type ModelStateReport = Omit<ModelStatePayload, 'v' | 'deviceId' | 'runId' | 'msgSeq' | 'tsMs'>;

export interface Envelope {
  readonly deviceId: string;
  readonly runId: number;
  readonly msgSeq: number;
  readonly tsMs: number;
}

/** The full retained payload for a report, validated against modelStateSchema. */
export function modelStatePayload(report: ModelStateReport, envelope: Envelope): Result<ModelStatePayload> {
  const r = modelStateSchema.safeParse({ v: PAYLOAD_VERSION, ...envelope, ...report });
  return r.success ? ok(r.data) : fail('EDGELOOP_ERR_MQTT_PAYLOAD', `modelState: ${formatIssues(r.error)}`);
}
