// The message streams of one device, (deviceId, runId) each (docs/mqtt.md §Message identity), with the
// monitor's own SequenceTracker per stream: duplicates, holes, and which message is the newest of the run.
// Only the current run and the one before are kept (an agent restart replays the old run's outbox after
// the new run's live data), so memory per device is bounded.

import { SequenceTracker, type SeqVerdict } from '../../shared/mqtt/sequence.ts';

/** Most ranges a stream remembers; each open hole costs one (SequenceTracker maxRanges). */
const MAX_RANGES = 64;

export interface Stream {
  readonly runId: number;
  readonly tracker: SequenceTracker;
  /**
   * msgSeq holes below this are not counted: the collector joined this run late (restart, new device).
   * NaN until the first message that is not retained has set it (see place()).
   */
  lossFloor: number;
}

export interface Placement {
  readonly verdict: SeqVerdict;
  /** Newest message of the current run so far. */
  readonly newest: boolean;
  readonly stream: Stream;
}

export class DeviceStreams {
  current: Stream | null = null;
  previous: Stream | null = null;

  /**
   * Places a message with msgSeq >= 1 (the last will, 0, is outside every sequence). A runId never seen
   * becomes the current run: runs start with live data, and the previous run's backlog follows it.
   */
  place(runId: number, msgSeq: number, retained: boolean): Placement {
    let s =
      this.current?.runId === runId ? this.current : this.previous?.runId === runId ? this.previous : null;
    if (s === null) {
      // The first run the collector sees of a device may be well under way (collector restart): count
      // holes only from its first message. A later run started while we watched: count from 1.
      s = {
        runId,
        tracker: new SequenceTracker({ maxRanges: MAX_RANGES }),
        lossFloor: this.current === null ? Number.NaN : 1,
      };
      this.previous = this.current;
      this.current = s;
    }
    // A retained message (status, model state) delivered when the collector subscribes may be hours
    // older than the live stream: it does not set where counting starts.
    if (Number.isNaN(s.lossFloor) && !retained) s.lossFloor = msgSeq;
    const before = s.tracker.highest;
    const verdict = s.tracker.accept(msgSeq);
    return { verdict, newest: s === this.current && verdict === 'new' && msgSeq > before, stream: s };
  }
}
