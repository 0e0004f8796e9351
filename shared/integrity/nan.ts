// NaN and infinities: a float sensor (or a CSV board printing "nan") that produced no number. There is
// no "suspect" NaN: any one fails the channel window, because every feature computed over it is NaN too.

import type { IntegrityCheck } from './check.ts';
import { makeFlag } from './check.ts';

export const nanCheck: IntegrityCheck = {
  name: 'nan',
  evaluate({ channel }) {
    let nan = 0;
    let inf = 0;
    for (const v of channel.values) {
      if (Number.isNaN(v)) nan++;
      else if (!Number.isFinite(v)) inf++;
    }
    const bad = nan + inf;
    if (bad === 0) return makeFlag(channel, 'nan', 'good', 'all samples finite');
    return makeFlag(
      channel,
      'nan',
      'fail',
      `${bad} of ${channel.values.length} samples not finite (${nan} NaN, ${inf} infinite)`,
      bad,
      1,
    );
  },
};
