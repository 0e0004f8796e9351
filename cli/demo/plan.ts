// What `edgeloop demo` plays (docs/demo.md): which device gets which trouble, and when, in device time.
// Pure: the scenarios are plain objects for firmware-sim's parser, so a test can check the plan without
// running anything.

/** The model the demo trains, registers and rolls out. */
export const DEMO_MODEL = 'pump-condition';

export type DemoRole = 'recalibrated' | 'stuck-sensor' | 'environment' | 'steady';

export interface DemoDevice {
  readonly deviceId: string;
  readonly role: DemoRole;
  /** What the collector should make of it, for the plan printed at the start. */
  readonly expect: string;
  /** A firmware-sim scenario object (docs/scenarios.md). */
  readonly scenario: unknown;
  readonly seed: number;
}

/**
 * Device-time marks of the story, s. Installing the baseline restarts each device's baseline (its
 * commissioning), and at --speed 8 that install ends around 80 s of device time: the trouble starts well
 * after install + commissioning, so every device baseline is learned on clean data whatever the speed
 * (the demo warns when the install came too late for that).
 */
export const demoTimeline = {
  /** The device baselines are learned over this much device time first. */
  commissioningS: 60,
  /** The environment of part of the fleet warms and gets damper from here, over rampS. */
  environmentAtS: 240,
  environmentRampS: 20,
  /**
   * Above the monitors' physical floors (4 degC, 10 %RH: docs/monitors.md), so both move against the
   * device's own baseline; inside the lab data's spread, so neither leaves the model's reference.
   */
  environmentDeltaC: 6,
  environmentDeltaPct: 20,
  /** One device's accel.z freezes here for stuckS. */
  stuckAtS: 250,
  stuckS: 120,
  /** One device's accelerometer is recalibrated: accel.x gains a bias over biasRampS. */
  biasAtS: 260,
  biasRampS: 30,
  biasG: 0.15,
} as const;

const ROLE_ORDER: readonly DemoRole[] = ['recalibrated', 'stuck-sensor', 'environment'];

const EXPECT: Readonly<Record<DemoRole, string>> = {
  recalibrated: `accel.x gains a ${demoTimeline.biasG} g bias at ${demoTimeline.biasAtS} s: a drift alert (calibration drift), an update request, retraining, canary`,
  'stuck-sensor': `accel.z freezes from ${demoTimeline.stuckAtS} s for ${demoTimeline.stuckS} s: an integrity alert, no update request`,
  environment: `the room warms ${demoTimeline.environmentDeltaC} degC and gets ${demoTimeline.environmentDeltaPct} %RH damper from ${demoTimeline.environmentAtS} s: an environment change, no update request`,
  steady: 'runs normally throughout: no alert',
};

/** Device ids: pump-1, pump-2, ... */
export function demoDeviceId(i: number): string {
  return `pump-${String(i + 1)}`;
}

/** The simulated telemetry-only devices of --fleet: fleet-01, fleet-02, ... (sim --fleet's ids). */
export const FLEET_PREFIX = 'fleet-';

function eventsOf(role: DemoRole): unknown[] {
  const t = demoTimeline;
  switch (role) {
    case 'recalibrated':
      return [
        { kind: 'bias_ramp', at: t.biasAtS, channel: 'accel.x', delta: t.biasG, durationS: t.biasRampS },
      ];
    case 'stuck-sensor':
      return [{ kind: 'stuck', at: t.stuckAtS, channel: 'accel.z', durationS: t.stuckS }];
    case 'environment':
      return environmentEvents();
    case 'steady':
      return [];
  }
}

function environmentEvents(): unknown[] {
  const t = demoTimeline;
  return [
    {
      kind: 'ambient_shift',
      at: t.environmentAtS,
      sensor: 'temperature',
      delta: t.environmentDeltaC,
      durationS: t.environmentRampS,
    },
    {
      kind: 'ambient_shift',
      at: t.environmentAtS,
      sensor: 'humidity',
      delta: t.environmentDeltaPct,
      durationS: t.environmentRampS,
    },
  ];
}

/** A scenario object for one device: a pump at load 0.8, running normally, with the role's events. */
export function demoScenario(name: string, deviceId: string, durationS: number, events: unknown[]): unknown {
  return {
    name,
    description: `edgeloop demo: ${name}`,
    durationS,
    deviceId,
    machine: { state: 'normal', load: 0.8 },
    ambient: { temperatureC: 22, humidityPct: 45, startHour: 9 },
    events,
  };
}

/**
 * The demo's devices: the first three get the recalibration, the stuck sensor and the environment shift
 * (in that order, as far as there are devices), the rest run steadily. Seeds derive from the demo's seed.
 */
export function demoDevices(count: number, seed: number, durationS: number): DemoDevice[] {
  return Array.from({ length: count }, (_, i) => {
    const role = ROLE_ORDER[i] ?? 'steady';
    const deviceId = demoDeviceId(i);
    return {
      deviceId,
      role,
      expect: EXPECT[role],
      scenario: demoScenario(`demo-${role}`, deviceId, durationS, eventsOf(role)),
      seed: (seed * 1009 + i * 7919) % 2 ** 31,
    };
  });
}
