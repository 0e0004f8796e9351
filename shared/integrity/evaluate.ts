// Runs every enabled integrity check on every channel window and aggregates the flags into the window's
// IntegritySummary: the worst status per channel and overall, and only the non-good flags (a dashboard
// wants the problems, not 104 "good" lines per window). The agent and the collector both call this, so a
// channel is judged by the same rules at the edge and centrally.

import { EdgeloopError } from '../errors.ts';
import type { ChannelWindow, FlagStatus, IntegrityFlag, IntegritySummary } from '../samples.ts';
import type { SensorDescriptor } from '../sensors.ts';
import type { IntegrityCheck } from './check.ts';
import { worse } from './check.ts';
import { clippingCheck } from './clipping.ts';
import { defaultIntegrityConfig, type IntegrityConfig } from './config.ts';
import { flatlineCheck } from './flatline.ts';
import { gapCheck } from './gap.ts';
import { jitterCheck } from './jitter.ts';
import { nanCheck } from './nan.ts';
import { rangeCheck } from './range.ts';
import { spikeCheck } from './spike.ts';
import type { IndexGaps, IntegrityState, TimestampEvent } from './state.ts';
import { timestampCheck } from './timestamp.ts';

/** Every check, in the order of `integrityCheckNames`. */
export const integrityChecks: readonly IntegrityCheck[] = [
  rangeCheck,
  clippingCheck,
  nanCheck,
  flatlineCheck,
  spikeCheck,
  gapCheck,
  jitterCheck,
  timestampCheck,
];

/**
 * Judges one window's channels. With `state` the checks see each channel's recent history (needed for
 * slow sensors, and for runs longer than a window) and the state advances past this window; without it
 * the evaluation is stateless (one window on its own, e.g. `edgeloop decode` of a short capture).
 * `events` are time-base anomalies the windower saw while this window was open; `gaps` the recent losses
 * the sample index explains, per sensor, so timing checks do not read them as jitter.
 */
export function evaluateIntegrity(
  channels: readonly ChannelWindow[],
  sensors: readonly SensorDescriptor[],
  config: IntegrityConfig = defaultIntegrityConfig,
  state?: IntegrityState,
  events: readonly TimestampEvent[] = [],
  gaps: IndexGaps = new Map(),
): IntegritySummary {
  const byId = new Map(sensors.map((s) => [s.id, s]));
  const perChannel: Record<string, FlagStatus> = {};
  const flags: IntegrityFlag[] = [];
  let overall: FlagStatus = 'good';
  for (const channel of channels) {
    const sensor = byId.get(channel.sensorId);
    if (sensor === undefined) {
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `channel ${channel.channel} names sensor id ${channel.sensorId}, which no descriptor has`,
      );
    }
    const history = state?.channel(channel.channel);
    const context =
      history === undefined
        ? { values: channel.values, timestampsUs: channel.timestampsUs, windowStart: 0 }
        : history.context(channel.values, channel.timestampsUs);
    let status: FlagStatus = 'good';
    for (const check of integrityChecks) {
      if (!config[check.name].enabled) continue;
      const lostAfterUs = gaps.get(channel.sensorId);
      const flag = check.evaluate({
        channel,
        sensor,
        config,
        context,
        history,
        events,
        ...(lostAfterUs === undefined ? {} : { lostAfterUs }),
      });
      if (flag.status === 'good') continue;
      flags.push(flag);
      status = worse(status, flag.status);
    }
    history?.absorb(channel.values, channel.timestampsUs);
    perChannel[channel.channel] = status;
    overall = worse(overall, status);
  }
  return { status: overall, channels: perChannel, flags };
}
