// Reading the end of a training job or a rollout (contract-10 T and R) into what the request records.
// The training job's view (collector/retrain/types.ts TrainingJobView) names its candidate in
// `candidateVersion`, the gate's reasons in `reasons`, a failure in `code` and `message`; a few plain
// alternatives are read too (this module was written beside that service), and "no reasons given" is
// said rather than guessed.

import type { RolloutViewPort, TrainingJobPort } from './types.ts';

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

function versionIn(x: unknown): string | undefined {
  if (typeof x === 'string' && x.length > 0) return x;
  if (isRecord(x)) {
    const v = x['version'];
    if (typeof v === 'string' && v.length > 0) return v;
    return versionIn(x['candidate']);
  }
  return undefined;
}

/** The candidate version a finished job registered, if its view names one. */
export function candidateVersion(job: TrainingJobPort): string | undefined {
  if (typeof job.candidateVersion === 'string' && job.candidateVersion.length > 0)
    return job.candidateVersion;
  const j = job as unknown as Record<string, unknown>;
  for (const k of ['candidate', 'candidateVersion', 'result', 'version']) {
    const v = versionIn(j[k]);
    if (v !== undefined) return v;
  }
  return undefined;
}

function strings(x: unknown): string[] {
  if (typeof x === 'string') return x.length > 0 ? [x] : [];
  if (Array.isArray(x)) return x.flatMap(strings);
  if (isRecord(x)) {
    for (const k of ['reasons', 'message', 'reason', 'detail']) {
      const s = strings(x[k]);
      if (s.length > 0) return s;
    }
  }
  return [];
}

/** The gate's reasons (or the failure's message) of a finished job. */
export function jobReasons(job: TrainingJobPort): string[] {
  const given = (job.reasons ?? []).filter((r) => r.length > 0);
  if (given.length > 0) return [...given];
  if (typeof job.message === 'string' && job.message.length > 0)
    return [job.code === null || job.code === undefined ? job.message : `${job.message} [${job.code}]`];
  const j = job as unknown as Record<string, unknown>;
  for (const k of ['gate', 'reasons', 'refusal', 'result', 'error', 'message']) {
    const s = strings(j[k]);
    if (s.length > 0) return s;
  }
  return [];
}

export type JobEnd =
  | { readonly kind: 'succeeded'; readonly version: string | undefined }
  | { readonly kind: 'refused'; readonly reasons: readonly string[] }
  | { readonly kind: 'failed'; readonly reasons: readonly string[] };

/** undefined while the job is still queued or running. */
export function jobEnd(job: TrainingJobPort): JobEnd | undefined {
  switch (job.state) {
    case 'succeeded':
      return { kind: 'succeeded', version: candidateVersion(job) };
    case 'refused':
      return { kind: 'refused', reasons: jobReasons(job) };
    case 'failed':
    case 'cancelled':
      return { kind: 'failed', reasons: [job.state, ...jobReasons(job)] };
    default:
      return undefined;
  }
}

/** undefined while the rollout has not ended (running, paused, rolling_back). */
export function rolloutEnd(r: RolloutViewPort): 'completed' | 'rolled_back' | 'aborted' | undefined {
  return r.state === 'completed' || r.state === 'rolled_back' || r.state === 'aborted' ? r.state : undefined;
}
