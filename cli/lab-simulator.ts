// Composition-root glue (issue #7 §3): firmware-sim's boards behind the collector's LabSimulator
// interface, so lab data (and later retraining under estimated conditions) runs the real simulator while
// collector/ never imports firmware-sim.

import type { LabSimulator } from '../collector/index.ts';
import { createBoard, machineStates, parseScenario } from '../firmware-sim/index.ts';
import { EdgeloopError } from '../shared/errors.ts';

/** One steady machine state at the given operating point, no events, heartbeats every 10 s. */
export const firmwareSimLab: LabSimulator = {
  machineStates,
  createBoard(spec) {
    const { load, severity, shaftHz, ambientC, humidityPct, pressureHpa, startHour, offsets } =
      spec.conditions;
    // A calibration offset is firmware-sim's bias_ramp reached at once (durationS 0) at t = 0.
    const events = Object.entries(offsets ?? {})
      .filter(([, delta]) => delta !== 0)
      .map(([channel, delta]) => ({ kind: 'bias_ramp', at: 0, channel, delta, durationS: 0 }));
    const parsed = parseScenario(
      {
        name: `lab-${spec.state}`,
        description: `edgeloop train lab data: ${spec.state}`,
        durationS: spec.seconds,
        deviceId: spec.deviceId,
        machine: { state: spec.state, load, severity, shaftHz },
        ambient: { temperatureC: ambientC, humidityPct, pressureHpa, startHour },
        heartbeatS: 10,
        events,
      },
      `lab scenario ${spec.deviceId}`,
    );
    // lab-data draws every value in range; a failure here is a bug, not bad input.
    if (!parsed.ok) throw new EdgeloopError('EDGELOOP_ERR_SCENARIO_INVALID', parsed.message);
    return createBoard({ scenario: parsed.value, seed: spec.seed, deviceId: spec.deviceId });
  },
};
