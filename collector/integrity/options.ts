// Options of the central integrity monitor (issue #9 §3, docs/integrity.md §Central checks). One defaults
// object, units in the names (STYLE.md habit 8). The collector passes staleAfterS and clockSkewMaxMs from
// its own config (collector/config.ts); the rest are tuning knobs with documented defaults.

import { EdgeloopError } from '../../shared/errors.ts';
import { integrityCheckNames } from '../../shared/samples.ts';

/** A plausible band: inside [suspectMin, suspectMax] is good, outside [failMin, failMax] is fail. */
export interface Band {
  readonly failMin: number;
  readonly suspectMin: number;
  readonly suspectMax: number;
  readonly failMax: number;
}

export interface PhysicsOptions {
  /** |gravity estimate − 1 g| above this is suspect, g (plus the vibration allowance). */
  readonly gravitySuspectG: number;
  /** ... and above this fail, g (plus the vibration allowance). */
  readonly gravityFailG: number;
  /** Tolerance added per g of accel.magnitude.std (a running machine's window mean is noisier). */
  readonly gravityVibrationFactor: number;
  /** accel.magnitude.std below this: the machine is at rest (reported in the evidence), g. */
  readonly restStdG: number;
  /** Magnetometer field magnitude (mag.magnitude.mean), µT. */
  readonly magUt: Band;
  /** humidity.mean, %RH. */
  readonly humidityPct: Band;
  /** pressure.mean, hPa. */
  readonly pressureHpa: Band;
  /** temperature.mean, degC. */
  readonly temperatureC: Band;
}

export interface IntegrityMonitorOptions {
  /** No message for this long (collector receive time) is stale (suspect), s. Default 30. */
  readonly staleAfterS: number;
  /** ... and this long is fail, s. Default 300. */
  readonly staleFailAfterS: number;
  /** Sender clock further than this from receive time is suspect, ms. Default 5000. */
  readonly clockSkewMaxMs: number;
  /** ... and further than this is fail, ms. Default 60000. */
  readonly clockSkewFailMs: number;
  /** The span of receive time over which the minimum latency is taken, s. Default 120. */
  readonly clockWindowS: number;
  /** Telemetry messages needed in that span before skew is judged. Default 10. */
  readonly clockMinMessages: number;
  /** A step of the sender's wall clock against device time beyond this is a jump, ms. Default 2000. */
  readonly clockJumpMs: number;
  /** A clock jump keeps the device suspect this long, s. Default 600. */
  readonly clockJumpHoldS: number;
  /** This many reboots (new bootId) within an hour make the device suspect. Default 3. */
  readonly maxRebootsPerHour: number;
  /** Message loss is judged over the last this many msgSeq numbers of the current run. Default 300. */
  readonly lossSpanMsgs: number;
  /** A msgSeq hole counts as lost only once it is this old (backlog replay may still fill it), s. Default 120. */
  readonly lossSettleS: number;
  /** Lost share of the span: suspect at or above. Default 0.01. */
  readonly lossSuspectShare: number;
  /** Lost share of the span: fail at or above. Default 0.1. */
  readonly lossFailShare: number;
  /** Fewest msgSeq numbers in the span before loss is judged. Default 10. */
  readonly lossMinMsgs: number;
  /** Sample loss (agent counters) is judged over the last this many windows. Default 60. */
  readonly sampleLossSpanWindows: number;
  /** samplesMissing / (samples + samplesMissing) over the span: suspect at or above. Default 0.001. */
  readonly sampleLossSuspectShare: number;
  /** ... fail at or above. Default 0.1. */
  readonly sampleLossFailShare: number;
  /** Persistence of per-window checks (edge flags, physics): the last N windows ... Default 5. */
  readonly persistWindows: number;
  /** ... of which at least K flag it. Default 3. */
  readonly persistMinWindows: number;
  /** A flagged channel clears after this many consecutive better windows. Default 5. */
  readonly clearWindows: number;
  /**
   * Edge checks whose SUSPECT flags do not count toward a channel's status (their fail flags do).
   * Default ['spike']: suspect-level spikes are also what real impulsive vibration (bearing wear) raises.
   */
  readonly edgeSuspectIgnored: readonly string[];
  readonly physics: PhysicsOptions;
  /** A subject that stays non-good writes a monitor_results row at most this often, s. Default 60. */
  readonly resultIntervalS: number;
  /**
   * Evaluations for which a subject back to good is still reported (inactive), so the alert manager can
   * count clean cycles. Keep it above the alert manager's clear-after (alertClearAfter, 3). Default 6.
   */
  readonly reportGoodCycles: number;
  /** A device not heard from for this long is forgotten, s. Default 86400 (one day). */
  readonly forgetAfterS: number;
}

/** Defaults; docs/integrity.md §Central checks explains each number. */
export const defaultIntegrityMonitorOptions: IntegrityMonitorOptions = Object.freeze({
  staleAfterS: 30,
  staleFailAfterS: 300,
  clockSkewMaxMs: 5000,
  clockSkewFailMs: 60_000,
  clockWindowS: 120,
  clockMinMessages: 10,
  clockJumpMs: 2000,
  clockJumpHoldS: 600,
  maxRebootsPerHour: 3,
  lossSpanMsgs: 300,
  lossSettleS: 120,
  lossSuspectShare: 0.01,
  lossFailShare: 0.1,
  lossMinMsgs: 10,
  sampleLossSpanWindows: 60,
  sampleLossSuspectShare: 0.001,
  sampleLossFailShare: 0.1,
  persistWindows: 5,
  persistMinWindows: 3,
  clearWindows: 5,
  edgeSuspectIgnored: Object.freeze(['spike']),
  physics: Object.freeze({
    gravitySuspectG: 0.1,
    gravityFailG: 0.3,
    gravityVibrationFactor: 0.2,
    restStdG: 0.05,
    magUt: Object.freeze({ failMin: 3, suspectMin: 10, suspectMax: 100, failMax: 400 }),
    humidityPct: Object.freeze({ failMin: -2, suspectMin: 0.5, suspectMax: 99.5, failMax: 102 }),
    pressureHpa: Object.freeze({ failMin: 300, suspectMin: 700, suspectMax: 1085, failMax: 1150 }),
    temperatureC: Object.freeze({ failMin: -45, suspectMin: -30, suspectMax: 80, failMax: 95 }),
  }),
  resultIntervalS: 60,
  reportGoodCycles: 6,
  forgetAfterS: 86_400,
});

export type IntegrityMonitorOverrides = Partial<Omit<IntegrityMonitorOptions, 'physics'>> & {
  readonly physics?: Partial<PhysicsOptions>;
};

function invalid(detail: string): EdgeloopError {
  return new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `integrity monitor: ${detail}`);
}

function checkBand(name: string, b: Band): void {
  const v = [b.failMin, b.suspectMin, b.suspectMax, b.failMax];
  if (
    !v.every(Number.isFinite) ||
    !(b.failMin <= b.suspectMin && b.suspectMin < b.suspectMax && b.suspectMax <= b.failMax)
  )
    throw invalid(`physics.${name}: expected failMin <= suspectMin < suspectMax <= failMax`);
}

/** Defaults overlaid with `overrides`, validated and frozen. Throws EDGELOOP_ERR_CONFIG_INVALID (bad config). */
export function resolveIntegrityMonitorOptions(
  overrides: IntegrityMonitorOverrides = {},
): IntegrityMonitorOptions {
  const d = defaultIntegrityMonitorOptions;
  const physics: PhysicsOptions = Object.freeze({ ...d.physics, ...overrides.physics });
  const o: IntegrityMonitorOptions = Object.freeze({ ...d, ...overrides, physics });
  for (const [k, v] of Object.entries(o)) {
    if (k === 'physics') continue;
    if (k === 'edgeSuspectIgnored') {
      if (!Array.isArray(v) || !v.every((x) => (integrityCheckNames as readonly unknown[]).includes(x)))
        throw invalid(`edgeSuspectIgnored: expected edge check names (${integrityCheckNames.join(', ')})`);
      continue;
    }
    if (!known.has(k)) throw invalid(`unknown option ${k}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw invalid(`${k}: expected a number >= 0, got ${String(v)}`);
  }
  for (const k of Object.keys(physics)) if (!(k in d.physics)) throw invalid(`unknown option physics.${k}`);
  for (const k of ['gravitySuspectG', 'gravityFailG', 'gravityVibrationFactor', 'restStdG'] as const) {
    if (!Number.isFinite(physics[k]) || physics[k] < 0) throw invalid(`physics.${k}: expected a number >= 0`);
  }
  if (physics.gravitySuspectG > physics.gravityFailG)
    throw invalid('physics.gravitySuspectG above gravityFailG');
  for (const k of ['magUt', 'humidityPct', 'pressureHpa', 'temperatureC'] as const) checkBand(k, physics[k]);
  const pairs: [keyof IntegrityMonitorOptions, keyof IntegrityMonitorOptions][] = [
    ['staleAfterS', 'staleFailAfterS'],
    ['clockSkewMaxMs', 'clockSkewFailMs'],
    ['lossSuspectShare', 'lossFailShare'],
    ['sampleLossSuspectShare', 'sampleLossFailShare'],
    ['persistMinWindows', 'persistWindows'],
  ];
  for (const [a, b] of pairs) if ((o[a] as number) > (o[b] as number)) throw invalid(`${a} above ${b}`);
  for (const k of [
    'persistWindows',
    'persistMinWindows',
    'clearWindows',
    'sampleLossSpanWindows',
    'lossSpanMsgs',
  ] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw invalid(`${k}: expected an integer >= 1`);
  }
  if (o.persistWindows > 64) throw invalid('persistWindows: at most 64');
  return o;
}

const known = new Set(Object.keys(defaultIntegrityMonitorOptions));
