// Per-group performance (docs/explanations.md, "Test reports"): the test metrics per device and per
// machine state, with the worst group named. A group whose accuracy is more than `margin` below the
// overall accuracy is flagged, and the promotion gate can refuse the model for it (policy maxGroupGap).

import { classificationMetrics } from '../training/metrics.ts';

export interface GroupMetrics {
  readonly kind: 'device' | 'state';
  readonly name: string;
  readonly rows: number;
  readonly accuracy: number;
  readonly macroF1: number;
  /** Overall accuracy minus this group's. */
  readonly gap: number;
}

export interface GroupPerformance {
  readonly accuracy: number;
  readonly margin: number;
  readonly devices: readonly GroupMetrics[];
  readonly states: readonly GroupMetrics[];
  /** The device and the state with the lowest accuracy. */
  readonly worstDevice: GroupMetrics | null;
  readonly worstState: GroupMetrics | null;
  /** Groups more than `margin` below the overall accuracy, largest gap first. */
  readonly flagged: readonly GroupMetrics[];
}

/** Default margin: a group 10 points of accuracy below the whole test set is flagged. */
export const DEFAULT_GROUP_MARGIN = 0.1;

/** The device of a dataset row's group key (`sim-1@12` -> `sim-1`). */
export const deviceOfGroup = (group: string): string => {
  const at = group.lastIndexOf('@');
  return at > 0 ? group.slice(0, at) : group;
};

export function groupPerformance(
  rows: readonly { readonly group: string; readonly label: string }[],
  actual: Int32Array,
  predicted: Int32Array,
  labels: readonly string[],
  margin = DEFAULT_GROUP_MARGIN,
): GroupPerformance {
  const overall = classificationMetrics(actual, predicted, labels).accuracy;
  const collect = (kind: GroupMetrics['kind'], keyOf: (i: number) => string): GroupMetrics[] => {
    const members = new Map<string, number[]>();
    rows.forEach((_, i) => {
      const k = keyOf(i);
      const list = members.get(k) ?? [];
      list.push(i);
      members.set(k, list);
    });
    return [...members.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, idx]) => {
        const m = classificationMetrics(
          Int32Array.from(idx, (i) => actual[i] as number),
          Int32Array.from(idx, (i) => predicted[i] as number),
          labels,
        );
        return {
          kind,
          name,
          rows: idx.length,
          accuracy: m.accuracy,
          macroF1: m.macroF1,
          gap: overall - m.accuracy,
        };
      });
  };
  const devices = collect('device', (i) => deviceOfGroup((rows[i] as { group: string }).group));
  const states = collect('state', (i) => (rows[i] as { label: string }).label);
  const worst = (list: GroupMetrics[]): GroupMetrics | null =>
    list.reduce<GroupMetrics | null>((w, g) => (w === null || g.accuracy < w.accuracy ? g : w), null);
  return {
    accuracy: overall,
    margin,
    devices,
    states,
    worstDevice: worst(devices),
    worstState: worst(states),
    flagged: [...devices, ...states].filter((g) => g.gap > margin).sort((a, b) => b.gap - a.gap),
  };
}
