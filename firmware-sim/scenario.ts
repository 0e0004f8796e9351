// Scenario files: a machine, its surroundings and a timeline of machine-state changes, drift and faults
// (docs/scenarios.md). Validated with zod at load; an error names the field at fault
// (EDGELOOP_ERR_SCENARIO_INVALID). Pure code: reading files is firmware-sim/adapters/scenario-files.ts.

import { z } from 'zod';
import { describeIssue } from '../shared/config.ts';
import { fail, ok, type Result } from '../shared/errors.ts';
import { allChannelNames, referenceSensors } from '../shared/sensors.ts';

export const machineStates = ['normal', 'imbalance', 'misalignment', 'bearing_wear', 'overheating'] as const;
export type MachineState = (typeof machineStates)[number];

const sensorNames = referenceSensors.map((s) => s.name) as [string, ...string[]];
/** A channel (`accel.x`, `temperature`) or a whole multi-axis sensor (`accel`). */
export const channelTargets: readonly string[] = [
  ...new Set([...allChannelNames(referenceSensors), ...sensorNames]),
];

const seconds = z.number().nonnegative();
const channel = z
  .string()
  .refine((c) => channelTargets.includes(c), { message: `must be one of ${channelTargets.join(', ')}` });
const sensor = z.enum(sensorNames);
const probability = z.number().gt(0).lte(1);

const stateEvent = z.strictObject({
  kind: z.literal('state'),
  at: seconds,
  state: z.enum(machineStates),
  /** 0..1: how pronounced the fault signature is. */
  severity: z.number().min(0).max(1).default(1),
  /** Seconds over which the signature blends from the previous state into this one. */
  rampS: seconds.default(0),
  /** Motor load 0..1 from this point on; unchanged when absent. */
  load: z.number().min(0).max(1).optional(),
});

const biasRamp = z.strictObject({
  kind: z.literal('bias_ramp'),
  at: seconds,
  channel,
  delta: z.number(),
  durationS: seconds.default(0),
});
const gainChange = z.strictObject({
  kind: z.literal('gain_change'),
  at: seconds,
  channel,
  factor: z.number().positive(),
  durationS: seconds.default(0),
});
const noiseGrowth = z.strictObject({
  kind: z.literal('noise_growth'),
  at: seconds,
  channel,
  factor: z.number().positive(),
  durationS: seconds.default(0),
});
const ambientShift = z.strictObject({
  kind: z.literal('ambient_shift'),
  at: seconds,
  sensor: z.enum(['temperature', 'humidity']),
  delta: z.number(),
  durationS: seconds.default(0),
});

const stuck = z.strictObject({
  kind: z.literal('stuck'),
  at: seconds,
  channel,
  durationS: seconds.optional(),
});
const spikes = z.strictObject({
  kind: z.literal('spikes'),
  at: seconds,
  channel,
  durationS: seconds.optional(),
  ratePerS: z.number().positive().default(1),
  /** Spike height in physical units; default half the full-scale range. */
  magnitude: z.number().positive().optional(),
});
const clipping = z.strictObject({
  kind: z.literal('clipping'),
  at: seconds,
  channel,
  durationS: seconds.optional(),
  /**
   * The front end's gain runs away by this factor and readings saturate at full scale. Absent: every
   * reading rails at the end of the range its sign points to.
   */
  factor: z.number().positive().optional(),
});
const dropout = z.strictObject({
  kind: z.literal('dropout'),
  at: seconds,
  durationS: seconds,
  sensor: sensor.optional(),
  probability: probability.default(1),
});
const corrupt = z.strictObject({
  kind: z.literal('corrupt'),
  at: seconds,
  durationS: seconds.optional(),
  sensor: sensor.optional(),
  probability,
  /** Bytes flipped per corrupted frame. */
  bytes: z.number().int().min(1).max(8).default(1),
});
const clockJump = z.strictObject({ kind: z.literal('clock_jump'), at: seconds, deltaUs: z.number().int() });
const disconnect = z.strictObject({
  kind: z.literal('disconnect'),
  // After boot: the board's first HELLO must reach the host.
  at: z.number().positive(),
  durationS: z.number().positive(),
  /** True: the board loses power and reboots (new bootId, seq and device time restart). */
  reboot: z.boolean().default(false),
});

const event = z.discriminatedUnion('kind', [
  stateEvent,
  biasRamp,
  gainChange,
  noiseGrowth,
  ambientShift,
  stuck,
  spikes,
  clipping,
  dropout,
  corrupt,
  clockJump,
  disconnect,
]);

const scenarioSchema = z.strictObject({
  name: z.string().min(1).max(64),
  description: z.string().default(''),
  /** Default run length in seconds (the CLI's --duration overrides it). */
  durationS: z.number().positive().default(600),
  deviceId: z.string().min(1).max(64).default('sim-0001'),
  machine: z
    .strictObject({
      shaftHz: z.number().min(1).max(200).default(24.7),
      load: z.number().min(0).max(1).default(0.8),
      state: z.enum(machineStates).default('normal'),
      severity: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
  ambient: z
    .strictObject({
      temperatureC: z.number().min(-30).max(60).default(22),
      humidityPct: z.number().min(0).max(100).default(45),
      pressureHpa: z.number().min(800).max(1100).default(1013.25),
      /** Hour of day at t = 0, for the daily temperature and humidity cycle. */
      startHour: z.number().min(0).lt(24).default(8),
    })
    .prefault({}),
  /** Seconds between STATUS heartbeats; 0 disables them. */
  heartbeatS: seconds.default(10),
  events: z.array(event).max(10_000).default([]),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioEvent = Scenario['events'][number];
export type ScenarioEventKind = ScenarioEvent['kind'];

export const driftKinds: readonly ScenarioEventKind[] = [
  'bias_ramp',
  'gain_change',
  'noise_growth',
  'ambient_shift',
];
export const faultKinds: readonly ScenarioEventKind[] = [
  'stuck',
  'spikes',
  'clipping',
  'dropout',
  'corrupt',
  'clock_jump',
  'disconnect',
];

export function eventCategory(kind: ScenarioEventKind): 'state' | 'drift' | 'fault' {
  if (kind === 'state') return 'state';
  return driftKinds.includes(kind) ? 'drift' : 'fault';
}

/** Validates a parsed JSON value; `source` (file or name) prefixes the error message. */
export function parseScenario(value: unknown, source: string): Result<Scenario> {
  const r = scenarioSchema.safeParse(value);
  if (!r.success) {
    const lines = r.error.issues.slice(0, 3).map((i) => describeIssue(i.path, i.message));
    return fail('EDGELOOP_ERR_SCENARIO_INVALID', `${source}: ${lines.join('; ')}`);
  }
  // Stable sort: events at the same time apply in file order.
  const events = r.data.events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i);
  return ok({ ...r.data, events: events.map((x) => x.e) });
}

export function parseScenarioText(text: string, source: string): Result<Scenario> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_SCENARIO_INVALID',
      `${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  return parseScenario(value, source);
}
