// Device time between a sensor's last sample and its next block: a step backwards, or a jump forward
// further than the sample count explains. The windower restarts alignment on either; a board has one
// clock, so after a restart the other sensors are judged against their own last samples too.

import type { TimestampEvent } from '../integrity/state.ts';
import type { SampleBlock } from '../samples.ts';

/** A sensor's last sample on the time base being judged. */
export interface TimeBaseMark {
  readonly lastTsUs: number;
  readonly lastIndex: number;
}

/** A backwards step or a forward jump of device time between a sensor's last sample and `block`. */
export function timeBaseEvent(
  last: TimeBaseMark,
  block: SampleBlock,
  periodUs: number,
  jumpUs: number,
): TimestampEvent | undefined {
  const predicted = last.lastTsUs + Math.max(1, block.firstIndex - last.lastIndex) * periodUs;
  const base = { sensorId: block.sensor.id, atIndex: block.firstIndex };
  if (block.timestampUs < last.lastTsUs)
    return { kind: 'backwards', ...base, deltaUs: block.timestampUs - last.lastTsUs };
  if (block.timestampUs - predicted > jumpUs)
    return { kind: 'jump', ...base, deltaUs: block.timestampUs - predicted };
  return undefined;
}
