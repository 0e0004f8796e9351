// The demo's milestones: what changed between two snapshots, as one line each (an alert opened or
// resolved, an update request raised or moved on, a retraining job's end, a rollout's phases and end).
// Pure, so a test can feed it snapshots.

import type { AlertView, RolloutView, Snapshot } from './watch.ts';

const where = (a: AlertView): string =>
  [a.deviceId, a.subject].filter((x) => x !== '').join(' ') || 'the fleet';

function alertLine(a: AlertView): string {
  const cause = a.cause === null ? '' : ` (${a.cause.replaceAll('_', ' ')})`;
  return `ALERT    ${a.kind}${cause} on ${where(a)}: ${a.message}`;
}

function rolloutLines(r: RolloutView, seen: Set<string>): string[] {
  const out: string[] = [];
  const once = (key: string, line: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(line);
  };
  once(
    `r:${r.id}`,
    `ROLLOUT  ${r.id}: ${r.fromVersion ?? '?'} -> ${r.toVersion}, canary first (${r.reason})`,
  );
  r.phases.forEach((p, i) => {
    if (p.verdict === null) return;
    const a = r.analyses.find((x) => x.phase === i);
    const checks = a === undefined ? '' : `: ${a.checks.map((c) => `${c.name} ${c.detail}`).join('; ')}`;
    once(
      `r:${r.id}:p${String(i)}`,
      `ROLLOUT  ${r.id} ${i === 0 ? 'canary' : `phase ${String(i)}`} [${p.devices.join(', ')}] ${p.verdict}${checks}`,
    );
  });
  if (['completed', 'rolled_back', 'aborted'].includes(r.state)) {
    const prod =
      r.production === null
        ? ''
        : r.production.moved
          ? `; production is now ${r.toVersion}`
          : `; ${r.production.message}`;
    once(`r:${r.id}:end`, `ROLLOUT  ${r.id} ${r.state.replaceAll('_', ' ')}${prod}`);
  }
  return out;
}

export class Story {
  readonly #seen = new Set<string>();
  readonly #requestState = new Map<string, string>();
  readonly #resolved = new Set<number>();
  /** kind and cause last printed, by alert id: a re-diagnosis is a line of its own. */
  readonly #diagnosis = new Map<number, string>();

  /**
   * focus: the devices whose alerts are milestones; others (the --fleet filler) are counted in the status
   * lines instead, so a hundred of them do not bury the story. Undefined: every device.
   */
  constructor(private readonly focus?: ReadonlySet<string>) {}

  /** The milestone lines since the last call (info alerts are not milestones). */
  next(s: Snapshot): string[] {
    const out: string[] = [];
    for (const a of [...s.alerts].reverse()) {
      if (a.severity === 'info') continue;
      if (this.focus !== undefined && a.deviceId !== '' && !this.focus.has(a.deviceId)) continue;
      const diagnosis = `${a.kind}|${a.cause ?? ''}`;
      const before = this.#diagnosis.get(a.id);
      if (before === undefined) out.push(alertLine(a));
      else if (before !== diagnosis)
        out.push(
          `CHANGED  ${where(a)} is now ${a.kind}${a.cause === null ? '' : ` (${a.cause.replaceAll('_', ' ')})`}: ${a.message}`,
        );
      this.#diagnosis.set(a.id, diagnosis);
      if (a.state === 'resolved' && !this.#resolved.has(a.id)) {
        this.#resolved.add(a.id);
        out.push(`RESOLVED ${a.kind} on ${where(a)}`);
      }
    }
    for (const r of s.requests) {
      const before = this.#requestState.get(r.id);
      if (before === undefined)
        out.push(
          `REQUEST  ${r.id}: the model no longer fits ${r.devices.join(', ')} (${r.channels.join(', ')}); ${r.state.replaceAll('_', ' ')}`,
        );
      else if (before !== r.state)
        out.push(
          `REQUEST  ${r.id}: ${r.state.replaceAll('_', ' ')}${r.outcome === null ? '' : `: ${r.outcome}`}${r.blocked === null ? '' : `: ${r.blocked}`}`,
        );
      this.#requestState.set(r.id, r.state);
      const job = r.trainingJobId === null ? undefined : s.jobs[r.trainingJobId];
      if (job !== undefined && !this.#seen.has(`j:${job.id}`)) {
        this.#seen.add(`j:${job.id}`);
        out.push(`RETRAIN  job ${job.id}: candidate ${job.candidateVersion} on captured data + lab data`);
      }
      if (job !== undefined && ['succeeded', 'refused', 'failed', 'cancelled'].includes(job.state))
        if (!this.#seen.has(`j:${job.id}:end`)) {
          this.#seen.add(`j:${job.id}:end`);
          const why =
            job.state === 'succeeded' ? 'passed the gate, staged' : (job.reasons[0] ?? job.message ?? '');
          out.push(`RETRAIN  job ${job.id} ${job.state}: ${job.candidateVersion} ${why}`);
        }
      const rollout = r.rolloutId === null ? undefined : s.rollouts[r.rolloutId];
      if (rollout !== undefined) out.push(...rolloutLines(rollout, this.#seen));
    }
    return out;
  }
}
