// Time base: device time going backwards, or jumping forward further than any sample gap explains. The
// windower detects these between blocks (it must restart alignment) and hands them over as events; this
// check reports them on the affected sensor's channels, and also catches timestamps out of order inside
// a window built elsewhere (training, tests).

import type { IntegrityCheck } from './check.ts';
import { fmt, makeFlag } from './check.ts';

export const timestampCheck: IntegrityCheck = {
  name: 'timestamp',
  evaluate({ channel, config, events }) {
    const cfg = config.timestamp;
    const mine = events.filter((e) => e.sensorId === channel.sensorId);
    const back = mine.find((e) => e.kind === 'backwards');
    if (back !== undefined) {
      return makeFlag(
        channel,
        'timestamp',
        cfg.backwardStatus,
        `device time went backwards by ${fmt(-back.deltaUs / 1e6)} s at sample ${back.atIndex}; window alignment restarted`,
        back.deltaUs / 1e6,
        0,
      );
    }
    const jump = mine.find((e) => e.kind === 'jump');
    if (jump !== undefined) {
      return makeFlag(
        channel,
        'timestamp',
        cfg.jumpStatus,
        `device time jumped ${fmt(jump.deltaUs / 1e6)} s ahead of the sample count at sample ${jump.atIndex} (limit ${fmt(cfg.clockJumpMs / 1000)} s); window alignment restarted`,
        jump.deltaUs / 1e6,
        cfg.clockJumpMs / 1000,
      );
    }
    const ts = channel.timestampsUs;
    let backwards = 0;
    let worst = 0;
    for (let i = 1; i < ts.length; i++) {
      const d = (ts[i] as number) - (ts[i - 1] as number);
      if (d < 0) {
        backwards++;
        worst = Math.min(worst, d);
      }
    }
    if (backwards > 0) {
      return makeFlag(
        channel,
        'timestamp',
        cfg.backwardStatus,
        `${backwards} timestamps go backwards inside the window, worst by ${fmt(-worst / 1e6)} s`,
        worst / 1e6,
        0,
      );
    }
    return makeFlag(channel, 'timestamp', 'good', 'timestamps increase');
  },
};
