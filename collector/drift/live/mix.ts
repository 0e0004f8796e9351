// The prediction stream's side of drift (issue #9 §4, "Predictions"): the class mix of a device's recent
// windows, the Jensen–Shannon distance between two mixes, and the drop in mean top-class confidence.
// A moved mix with features still inside the class-conditional reference is a machine condition change,
// not data drift (docs/monitors.md, "Condition changes").

import type { WindowRing } from './ring.ts';

/** Label name ↔ small index, shared by every device of one monitor (rings store the index). */
export class LabelTable {
  private readonly index = new Map<string, number>();
  readonly names: string[] = [];
  /** Labels past this many are not tracked (index -1): a ring stores Int16 and a mix must stay small. */
  static readonly MAX = 256;

  of(label: string): number {
    let i = this.index.get(label);
    if (i === undefined) {
      if (this.names.length >= LabelTable.MAX) return -1;
      i = this.names.length;
      this.names.push(label);
      this.index.set(label, i);
    }
    return i;
  }
}

export interface RingPredictions {
  /** Windows with a prediction. */
  readonly n: number;
  /** Fraction per label name (sums to 1 when n > 0). */
  readonly mix: ReadonlyMap<string, number>;
  /** Mean top-class probability, NaN when n = 0. */
  readonly meanConfidence: number;
}

/** The class mix and mean confidence of the windows in a ring. */
export function ringPredictions(ring: WindowRing, labels: LabelTable): RingPredictions {
  const counts = new Map<number, number>();
  let n = 0;
  let conf = 0;
  for (let i = 0; i < ring.size; i++) {
    const s = ring.slot(i);
    const l = ring.label[s] as number;
    if (l < 0) continue;
    counts.set(l, (counts.get(l) ?? 0) + 1);
    conf += ring.confidence[s] as number;
    n++;
  }
  return { n, mix: toMix(counts, labels), meanConfidence: n > 0 ? conf / n : Number.NaN };
}

/** Counts per label index → fractions per label name. */
export function toMix(counts: ReadonlyMap<number, number>, labels: LabelTable): Map<string, number> {
  let total = 0;
  for (const c of counts.values()) total += c;
  const out = new Map<string, number>();
  if (total === 0) return out;
  for (const [i, c] of counts) out.set(labels.names[i] ?? `#${i}`, c / total);
  return out;
}

/**
 * Jensen–Shannon distance (the square root of the divergence, base 2): 0 for equal mixes, 1 for mixes
 * with no label in common. Symmetric and finite when a label is missing on one side, unlike KL.
 */
export function jensenShannonDistance(
  p: ReadonlyMap<string, number>,
  q: ReadonlyMap<string, number>,
): number {
  const keys = new Set([...p.keys(), ...q.keys()]);
  let js = 0;
  for (const k of keys) {
    const a = p.get(k) ?? 0;
    const b = q.get(k) ?? 0;
    const m = (a + b) / 2;
    if (a > 0) js += 0.5 * a * Math.log2(a / m);
    if (b > 0) js += 0.5 * b * Math.log2(b / m);
  }
  return Math.sqrt(Math.max(0, Math.min(1, js)));
}

/** A mix as a plain object, for evidence and the snapshot. */
export function mixRecord(mix: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...mix].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out[k] = Math.round(v * 1e4) / 1e4;
  return out;
}
