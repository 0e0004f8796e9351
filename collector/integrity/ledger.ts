// Turns each evaluation's verdicts into what the monitor contract asks for (collector/monitor/types.ts):
// - observations: an active one for every subject that is not good; once a subject is good again, an
//   inactive one for `reportGoodCycles` more evaluations (the alert manager counts clean cycles before it
//   resolves), then nothing;
// - monitor_results rows: one when a (device, check, subject) status changes, and at most one per
//   `resultIntervalS` while it stays non-good. Never one per device per cycle: 1,000 devices every 10 s
//   would write 8.6 M rows a day of "still good".

import type { MonitorResultInput } from '../storage/types.ts';
import type { Observation, QcStatus } from '../monitor/types.ts';
import type { CheckHealth, Severity, Verdict } from './types.ts';

interface Entry {
  status: QcStatus;
  /** Collector time the status began. */
  changedMs: number;
  lastRowMs: number;
  /** Evaluations good since it was last non-good. */
  goodCycles: number;
  verdict: Verdict;
}

export function severityOf(v: Verdict): Severity {
  return v.severity ?? (v.status === 'fail' ? 'critical' : v.status === 'suspect' ? 'warning' : 'info');
}

const keyOf = (v: Pick<Verdict, 'check' | 'subject'>): string => `${v.check}|${v.subject ?? ''}`;

export class Ledger {
  /** Subjects that are, or were recently, non-good. Good-forever subjects cost nothing. */
  readonly #entries = new Map<string, Entry>();
  /** The last evaluation's verdicts (good ones too), for the HTTP API. */
  #verdicts: readonly Verdict[] = [];
  evaluatedMs: number | null = null;

  constructor(
    private readonly deviceId: string,
    private readonly resultIntervalMs: number,
    private readonly reportGoodCycles: number,
  ) {}

  update(verdicts: readonly Verdict[], nowMs: number, obs: Observation[], rows: MonitorResultInput[]): void {
    this.#verdicts = verdicts;
    this.evaluatedMs = nowMs;
    // The common case, every subject good and none tracked, builds no key at all (1,000 devices × ~25
    // subjects per cycle).
    if (this.#entries.size === 0) {
      for (const v of verdicts) if (v.status !== 'good') this.#apply(keyOf(v), v, nowMs, obs, rows);
      return;
    }
    const seen = new Set<string>();
    for (const v of verdicts) {
      const key = keyOf(v);
      seen.add(key);
      this.#apply(key, v, nowMs, obs, rows);
    }
    // A subject no longer judged (its channel left the telemetry) counts as good.
    for (const [key, e] of this.#entries) {
      if (seen.has(key)) continue;
      this.#apply(
        key,
        { ...e.verdict, status: 'good', summary: 'no longer judged', severity: 'info' },
        nowMs,
        obs,
        rows,
      );
    }
  }

  /** One last inactive observation for each subject still tracked (the device is being forgotten). */
  release(nowMs: number, obs: Observation[]): void {
    for (const e of this.#entries.values()) {
      if (e.status !== 'good')
        obs.push(
          this.#observation({ ...e.verdict, summary: `forgotten: ${e.verdict.summary}` }, false, nowMs),
        );
    }
    this.#entries.clear();
  }

  #apply(key: string, v: Verdict, nowMs: number, obs: Observation[], rows: MonitorResultInput[]): void {
    let e = this.#entries.get(key);
    if (e === undefined) {
      if (v.status === 'good') return;
      e = {
        status: 'good',
        changedMs: nowMs,
        lastRowMs: Number.NEGATIVE_INFINITY,
        goodCycles: 0,
        verdict: v,
      };
      this.#entries.set(key, e);
    }
    const changed = e.status !== v.status;
    if (changed) {
      e.status = v.status;
      e.changedMs = nowMs;
    }
    e.verdict = v;
    if (changed || (v.status !== 'good' && nowMs - e.lastRowMs >= this.resultIntervalMs)) {
      rows.push(this.#row(v, nowMs));
      e.lastRowMs = nowMs;
    }
    if (v.status !== 'good') {
      e.goodCycles = 0;
      obs.push(this.#observation(v, true, nowMs));
      return;
    }
    obs.push(this.#observation(v, false, nowMs));
    if (++e.goodCycles >= this.reportGoodCycles) this.#entries.delete(key);
  }

  #row(v: Verdict, nowMs: number): MonitorResultInput {
    const ev = v.evidence[0];
    return {
      deviceId: this.deviceId,
      monitor: v.check,
      channel: v.subject,
      tsMs: nowMs,
      status: v.status,
      statistic: ev?.statistic ?? null,
      threshold: ev?.threshold ?? null,
      details: {
        summary: v.summary,
        severity: severityOf(v),
        sinceMs: v.sinceMs ?? null,
        evidence: v.evidence,
      },
    };
  }

  #observation(v: Verdict, active: boolean, nowMs: number): Observation {
    return {
      kind: 'integrity',
      deviceId: this.deviceId,
      subject: v.subject,
      check: v.check,
      active,
      severity: severityOf(v),
      atMs: nowMs,
      sinceMs: v.sinceMs ?? null,
      window: v.window ?? null,
      summary: v.summary,
      evidence: v.evidence,
      reference: null,
      cause: v.cause,
      action: { kind: v.action, automatic: false },
    };
  }

  /** The last evaluation, as the HTTP API shows it. */
  checks(): CheckHealth[] {
    return this.#verdicts.map((v) => {
      const e = this.#entries.get(keyOf(v));
      return {
        check: v.check,
        subject: v.subject,
        status: v.status,
        severity: severityOf(v),
        statusSinceMs: e === undefined ? null : e.changedMs,
        sinceMs: v.sinceMs ?? null,
        summary: v.summary,
        evidence: v.evidence,
      };
    });
  }
}
