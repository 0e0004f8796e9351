// Training jobs in the loop database (contract-10 "Shared facts": one SQLite file, each module its own
// tables). Tables are prefixed `training_`; `training_schema` holds the version for later migrations.
// All a job needs after a restart is here: a job `running` when the collector stopped is ended as
// interrupted on the next start, queued jobs run.

import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { RetrainInput, TrainingJobState, TrainingJobView, TrainingProgress } from './types.ts';

const SCHEMA_VERSION = 1;

interface JobRow {
  id: number;
  state: TrainingJobState;
  input_json: string;
  actor: string;
  candidate_version: string;
  production_version: string;
  created_ms: number;
  started_ms: number | null;
  ended_ms: number | null;
  progress_json: string | null;
  code: string | null;
  message: string | null;
  reasons_json: string;
  result_json: string | null;
}

export interface JobPatch {
  readonly state?: TrainingJobState;
  readonly startedMs?: number;
  readonly endedMs?: number;
  readonly progress?: TrainingProgress;
  readonly code?: string | null;
  readonly message?: string | null;
  readonly reasons?: readonly string[];
  readonly result?: unknown;
}

export interface JobsStore {
  insert(job: {
    input: RetrainInput;
    actor: string;
    candidateVersion: string;
    productionVersion: string;
    createdMs: number;
  }): TrainingJobView;
  get(id: string): TrainingJobView | undefined;
  list(options?: { state?: TrainingJobState; limit?: number }): TrainingJobView[];
  /** Oldest queued job. */
  nextQueued(): TrainingJobView | undefined;
  update(id: string, patch: JobPatch): TrainingJobView | undefined;
  /** queued -> running, only if still queued (another service on the same database may have taken it). */
  claim(id: string, startedMs: number): boolean;
  /** Candidate versions of jobs not ended (two queued jobs must not claim the same version). */
  pendingVersions(model: string): string[];
}

export const jobId = (n: number): string => `tj-${n}`;
export function parseJobId(id: string): number | undefined {
  const m = /^tj-([1-9]\d{0,14})$/.exec(id);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function view(r: JobRow): TrainingJobView {
  return {
    id: jobId(r.id),
    state: r.state,
    input: JSON.parse(r.input_json) as RetrainInput,
    actor: r.actor,
    candidateVersion: r.candidate_version,
    productionVersion: r.production_version,
    createdMs: r.created_ms,
    startedMs: r.started_ms,
    endedMs: r.ended_ms,
    progress: r.progress_json === null ? null : (JSON.parse(r.progress_json) as TrainingProgress),
    code: r.code,
    message: r.message,
    reasons: JSON.parse(r.reasons_json) as string[],
    result: r.result_json === null ? null : (JSON.parse(r.result_json) as unknown),
  };
}

export function openJobsStore(db: SqliteDatabase): JobsStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS training_schema (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS training_jobs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      state TEXT NOT NULL,
      input_json TEXT NOT NULL,
      actor TEXT NOT NULL,
      model TEXT NOT NULL,
      candidate_version TEXT NOT NULL,
      production_version TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      started_ms INTEGER,
      ended_ms INTEGER,
      progress_json TEXT,
      code TEXT,
      message TEXT,
      reasons_json TEXT NOT NULL DEFAULT '[]',
      result_json TEXT
    );
    CREATE INDEX IF NOT EXISTS training_jobs_state ON training_jobs (state, id);
  `);
  if (db.get<{ version: number }>('SELECT version FROM training_schema') === undefined)
    db.run('INSERT INTO training_schema (version) VALUES (?)', [SCHEMA_VERSION]);

  const byId = (n: number): JobRow | undefined =>
    db.get<JobRow>('SELECT * FROM training_jobs WHERE id = ?', [n]);

  return {
    insert(job) {
      const r = db.run(
        `INSERT INTO training_jobs (state, input_json, actor, model, candidate_version, production_version, created_ms)
         VALUES ('queued', ?, ?, ?, ?, ?, ?)`,
        [
          JSON.stringify(job.input),
          job.actor,
          job.input.model.name,
          job.candidateVersion,
          job.productionVersion,
          job.createdMs,
        ],
      );
      return view(byId(Number(r.lastInsertRowid)) as JobRow);
    },
    get(id) {
      const n = parseJobId(id);
      const r = n === undefined ? undefined : byId(n);
      return r === undefined ? undefined : view(r);
    },
    list(options = {}) {
      const limit = options.limit ?? 100;
      const rows =
        options.state === undefined
          ? db.all<JobRow>('SELECT * FROM training_jobs ORDER BY id DESC LIMIT ?', [limit])
          : db.all<JobRow>('SELECT * FROM training_jobs WHERE state = ? ORDER BY id DESC LIMIT ?', [
              options.state,
              limit,
            ]);
      return rows.map(view);
    },
    nextQueued() {
      const r = db.get<JobRow>("SELECT * FROM training_jobs WHERE state = 'queued' ORDER BY id LIMIT 1");
      return r === undefined ? undefined : view(r);
    },
    update(id, p) {
      const n = parseJobId(id);
      if (n === undefined) return undefined;
      const sets: string[] = [];
      const params: (string | number | null)[] = [];
      const set = (col: string, v: string | number | null): void => {
        sets.push(`${col} = ?`);
        params.push(v);
      };
      if (p.state !== undefined) set('state', p.state);
      if (p.startedMs !== undefined) set('started_ms', p.startedMs);
      if (p.endedMs !== undefined) set('ended_ms', p.endedMs);
      if (p.progress !== undefined) set('progress_json', JSON.stringify(p.progress));
      if (p.code !== undefined) set('code', p.code);
      if (p.message !== undefined) set('message', p.message);
      if (p.reasons !== undefined) set('reasons_json', JSON.stringify(p.reasons));
      if (p.result !== undefined) set('result_json', JSON.stringify(p.result));
      if (sets.length > 0) db.run(`UPDATE training_jobs SET ${sets.join(', ')} WHERE id = ?`, [...params, n]);
      const r = byId(n);
      return r === undefined ? undefined : view(r);
    },
    claim(id, startedMs) {
      const n = parseJobId(id);
      if (n === undefined) return false;
      return (
        db.run(
          "UPDATE training_jobs SET state = 'running', started_ms = ? WHERE id = ? AND state = 'queued'",
          [startedMs, n],
        ).changes === 1
      );
    },
    pendingVersions(model) {
      return db
        .all<{ v: string }>(
          "SELECT candidate_version AS v FROM training_jobs WHERE model = ? AND state IN ('queued', 'running')",
          [model],
        )
        .map((r) => r.v);
    },
  };
}
