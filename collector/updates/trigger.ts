// Which monitor observations raise a model-update request (issue #10 §1 "When"; contract-10 U and the
// integrator's 04:10 correction; docs/update-requests.md "When a request is raised"):
//
// - active, from the drift monitor's device-level check against the model (`drift.model_reference`,
//   reference.basis `model_reference`, a model named, a device named: the fleet-wide observation names no
//   model and no device and is left out; its devices each have their own observation);
// - kind `drift` or `environment`;
// - action `request_model_update` (environment change), or cause `calibration_drift` / `environment_change`
//   (the drift monitor recommends `recalibrate_sensor` for calibration drift, yet the issue wants it to
//   raise a request: the model is retrained on data with the drifted sensor, or a version that fits wins);
// - never cause `broken_sensor` or `machine_condition_change` (nor `unknown` without that action);
// - every channel involved passes integrity: ChannelHealth is not `fail` for the sensor group nor for any
//   channel the evidence names. `suspect` passes: it is doubt, not a broken sensor (a calibration bias can
//   make the gravity cross-check suspect), and the drift monitor itself suppresses only `fail`.
//
// Persistence is the drift monitor's (driftPersistence); the cooldown per (model, device) is the store's.

import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { ChannelHealth, Observation } from '../monitor/types.ts';

export interface Trigger {
  readonly model: ModelRef;
  readonly deviceId: string;
  readonly subject: string;
  readonly channels: readonly string[];
  readonly integrity: Readonly<Record<string, string>>;
  readonly observation: Observation;
}

export type TriggerVerdict =
  { readonly raise: true; readonly trigger: Trigger } | { readonly raise: false; readonly why: string };

const TRIGGER_CAUSES: ReadonlySet<string> = new Set(['calibration_drift', 'environment_change']);
const NEVER_CAUSES: ReadonlySet<string> = new Set(['broken_sensor', 'machine_condition_change']);

/** `accel.x.mean` → `accel.x`; a name without a dot is its own channel. */
export function channelOfFeature(feature: string): string {
  const dot = feature.lastIndexOf('.');
  return dot > 0 ? feature.slice(0, dot) : feature;
}

/** The channels an observation's evidence names (detail.feature), in order, without repeats. */
export function evidenceChannels(o: Observation): string[] {
  const out = new Set<string>();
  for (const e of o.evidence) {
    const f = e.detail?.['feature'];
    if (typeof f === 'string' && f.length > 0) out.add(channelOfFeature(f));
  }
  return [...out];
}

/** The subject an estimated-drop trigger carries: the whole model, no sensor group. */
export const MODEL_SUBJECT = 'model';

export function judgeObservation(o: Observation, health: ChannelHealth): TriggerVerdict {
  const no = (why: string): TriggerVerdict => ({ raise: false, why });
  if (!o.active) return no('inactive');
  // An estimated accuracy drop (collector/explain/drop-monitor.ts) says the model no longer fits the
  // device's data as a whole: it raises a request like a drift of the model's inputs does.
  if (o.check === 'performance.estimated_drop') {
    const model = o.reference?.model ?? null;
    if (o.kind !== 'performance' || model === null || o.deviceId === null)
      return no('an estimated drop without a model or a device');
    return {
      raise: true,
      trigger: {
        model,
        deviceId: o.deviceId,
        subject: MODEL_SUBJECT,
        channels: [],
        integrity: {},
        observation: o,
      },
    };
  }
  if (o.check !== 'drift.model_reference' || o.reference?.basis !== 'model_reference')
    return no('not a drift observation against the model reference');
  if (o.kind !== 'drift' && o.kind !== 'environment') return no(`kind ${o.kind}`);
  const model = o.reference.model;
  if (model === null) return no('no model named');
  if (o.deviceId === null) return no('fleet-level observation');
  if (o.subject === null) return no('no sensor group');
  if (o.cause !== null && NEVER_CAUSES.has(o.cause)) return no(`cause ${o.cause}`);
  const byAction = o.action?.kind === 'request_model_update';
  const byCause = o.cause !== null && TRIGGER_CAUSES.has(o.cause);
  if (!byAction && !byCause) return no(`cause ${o.cause ?? 'none'}, action ${o.action?.kind ?? 'none'}`);
  const channels = evidenceChannels(o);
  const integrity: Record<string, string> = {};
  for (const c of [o.subject, ...channels]) integrity[c] = health.channelStatus(o.deviceId, c);
  const failing = Object.entries(integrity).filter(([, s]) => s === 'fail');
  if (failing.length > 0) return no(`integrity fail on ${failing.map(([c]) => c).join(', ')}`);
  return {
    raise: true,
    trigger: {
      model,
      deviceId: o.deviceId,
      subject: o.subject,
      channels: channels.length > 0 ? channels : [o.subject],
      integrity,
      observation: o,
    },
  };
}
