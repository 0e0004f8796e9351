// What the simulator really did, so tests can hold the agent to it exactly (issue #2 §3 "Ground truth").
// Identity the tests rely on: for every sensor, generated = sentIntact + lost, and the frames an agent finds
// missing by sequence gap are exactly `lostFrames` (corrupted + dropped + lost while disconnected).

import type { ScenarioEvent } from './scenario.ts';

export type LossCause = 'corrupt' | 'dropout' | 'disconnect';

export interface LostFrame {
  /** Scenario time the frame was due on the wire, microseconds since the start of the run. */
  readonly atUs: number;
  readonly bootId: number;
  readonly seq: number;
  readonly frameType: 'hello' | 'samples' | 'status';
  /** Sensor name for a samples frame, null otherwise. */
  readonly sensor: string | null;
  readonly firstIndex: number | null;
  readonly samples: number;
  readonly cause: LossCause;
}

export interface SensorTotals {
  /** Samples the device measured. */
  generated: number;
  /** Samples in frames that reached the wire intact. */
  sentIntact: number;
  /** generated - sentIntact. */
  lost: number;
  corrupted: number;
  dropped: number;
  disconnected: number;
}

export interface FrameTotals {
  /** Frames the device built (every seq it assigned). */
  built: number;
  intact: number;
  corrupted: number;
  dropped: number;
  disconnected: number;
}

export interface InjectedEvent {
  readonly category: 'state' | 'drift' | 'fault';
  /** Scenario time the event took effect (start of the first 10 ms block at or after `event.at`). */
  readonly atUs: number;
  /** Scenario time it stops, for faults with a duration; null = until the end. */
  readonly endUs: number | null;
  readonly event: ScenarioEvent;
}

export interface GroundTruth {
  readonly scenario: string;
  readonly seed: number;
  readonly deviceId: string;
  readonly boots: { atUs: number; bootId: number }[];
  readonly events: InjectedEvent[];
  readonly lostFrames: LostFrame[];
  /** Lost frames beyond the record limit: counted in the totals, not listed. */
  lostFramesOmitted: number;
  readonly frames: FrameTotals;
  readonly sensors: Record<string, SensorTotals>;
  /** Scenario time generated so far. */
  endUs: number;
}

export function emptyGroundTruth(
  scenario: string,
  seed: number,
  deviceId: string,
  sensors: readonly string[],
): GroundTruth {
  const totals: Record<string, SensorTotals> = {};
  for (const s of sensors)
    totals[s] = { generated: 0, sentIntact: 0, lost: 0, corrupted: 0, dropped: 0, disconnected: 0 };
  return {
    scenario,
    seed,
    deviceId,
    boots: [],
    events: [],
    lostFrames: [],
    lostFramesOmitted: 0,
    frames: { built: 0, intact: 0, corrupted: 0, dropped: 0, disconnected: 0 },
    sensors: totals,
    endUs: 0,
  };
}

/** The ground truth as JSON Lines: a `run` line, then boots, events and lost frames in time order, then `totals`. */
export function groundTruthLines(gt: GroundTruth): string {
  const lines: unknown[] = [{ type: 'run', scenario: gt.scenario, seed: gt.seed, deviceId: gt.deviceId }];
  const timed: { atUs: number; line: unknown }[] = [
    ...gt.boots.map((b) => ({ atUs: b.atUs, line: { type: 'boot', ...b } })),
    ...gt.events.map((e) => ({
      atUs: e.atUs,
      line: { type: e.category, atUs: e.atUs, endUs: e.endUs, ...e.event },
    })),
    ...gt.lostFrames.map((f) => ({ atUs: f.atUs, line: { type: 'frame_lost', ...f } })),
  ];
  timed.sort((a, b) => a.atUs - b.atUs);
  for (const t of timed) lines.push(t.line);
  lines.push({
    type: 'totals',
    endUs: gt.endUs,
    frames: gt.frames,
    sensors: gt.sensors,
    lostFramesOmitted: gt.lostFramesOmitted,
  });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}
