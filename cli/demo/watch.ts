// What the demo reads from the collector, through its HTTP API as any client would (docs/collector.md,
// docs/update-requests.md, docs/retraining.md, docs/rollouts.md): one snapshot a second, reduced to what
// the live view and the summary show.

import { EdgeloopError } from '../../shared/errors.ts';

export interface DeviceView {
  readonly deviceId: string;
  readonly online: boolean;
  readonly model: string | null;
  readonly lastSeenMs: number;
  /** Messages received and missing (msgSeq holes) since the collector started. */
  readonly received: number;
  readonly missing: number;
}

export interface AlertView {
  readonly id: number;
  readonly deviceId: string;
  readonly kind: string;
  readonly severity: string;
  /** What the alert is about: a channel, a sensor group, a check's subject, or a model ('' for none). */
  readonly subject: string;
  readonly state: string;
  readonly cause: string | null;
  readonly message: string;
  readonly openedMs: number;
}

export interface RequestView {
  readonly id: string;
  readonly state: string;
  readonly devices: readonly string[];
  readonly channels: readonly string[];
  readonly trainingJobId: string | null;
  readonly rolloutId: string | null;
  readonly outcome: string | null;
  readonly blocked: string | null;
  readonly endedMs: number | null;
}

export interface JobView {
  readonly id: string;
  readonly state: string;
  readonly candidateVersion: string;
  readonly progress: { phase: string; done: number; of: number; message?: string } | null;
  readonly message: string | null;
  readonly reasons: readonly string[];
}

export interface RolloutView {
  readonly id: string;
  readonly state: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly createdMs: number;
  readonly currentPhase: number;
  readonly phases: readonly { devices: readonly string[]; verdict: string | null }[];
  readonly counts: Readonly<Record<string, number>>;
  readonly reason: string;
  readonly production: { moved: boolean; message: string } | null;
  readonly analyses: readonly {
    phase: number;
    verdict: string;
    checks: { name: string; status?: string; detail: string }[];
  }[];
}

export interface Snapshot {
  readonly atMs: number;
  readonly devices: readonly DeviceView[];
  readonly alerts: readonly AlertView[];
  readonly requests: readonly RequestView[];
  readonly jobs: Readonly<Record<string, JobView>>;
  readonly rollouts: Readonly<Record<string, RolloutView>>;
  readonly production: string | null;
}

type Json = Record<string, unknown>;

export interface CollectorClient {
  get(path: string): Promise<Json>;
  post(path: string, body: unknown): Promise<Json>;
}

/** A small JSON client for the collector's API; a refusal is an error naming the path and the code. */
export function collectorClient(baseUrl: string, token: string): CollectorClient {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Json;
    if (!res.ok) {
      const e = json.error as { code?: string; message?: string } | undefined;
      throw new EdgeloopError(
        'EDGELOOP_ERR_DEMO_FAILED',
        `${method} ${path}: ${String(res.status)} ${e?.code ?? ''} ${e?.message ?? JSON.stringify(json)}`,
      );
    }
    return json;
  };
  return { get: (p) => call('GET', p), post: (p, b) => call('POST', p, b) };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** Reads one snapshot: devices, alerts, update requests and the jobs and rollouts they name. */
export async function readSnapshot(c: CollectorClient, model: string): Promise<Snapshot> {
  const [devices, alerts, requests, aliases] = await Promise.all([
    c.get('/api/v1/devices'),
    c.get('/api/v1/alerts?limit=500'),
    c.get('/api/v1/update-requests'),
    c.get(`/api/v1/models/${encodeURIComponent(model)}/aliases`),
  ]);
  const requestViews: RequestView[] = (requests.updateRequests as Json[]).map((r) => ({
    id: str(r.id),
    state: str(r.state),
    devices: (r.devices as Json[]).map((d) => str(d.deviceId)),
    channels: (r.channels as string[] | undefined) ?? [],
    trainingJobId: typeof r.trainingJobId === 'string' ? r.trainingJobId : null,
    rolloutId: typeof r.rolloutId === 'string' ? r.rolloutId : null,
    outcome: typeof r.outcome === 'string' ? r.outcome : null,
    blocked: r.blocked === null || r.blocked === undefined ? null : str((r.blocked as Json).reason),
    endedMs: typeof r.endedMs === 'number' ? r.endedMs : null,
  }));
  const jobs: Record<string, JobView> = {};
  const rollouts: Record<string, RolloutView> = {};
  for (const r of requestViews) {
    if (r.trainingJobId !== null) jobs[r.trainingJobId] = await readJob(c, r.trainingJobId);
    if (r.rolloutId !== null) rollouts[r.rolloutId] = await readRollout(c, r.rolloutId);
  }
  const production = (aliases.aliases as Json[]).find((a) => a.alias === 'production');
  return {
    atMs: Date.now(),
    devices: (devices.devices as Json[]).map((d) => {
      const status = d.lastStatus as Json | null;
      const seq = d.sequence as Json | null;
      const m = d.model as Json | null;
      return {
        deviceId: str(d.deviceId),
        online: status?.state === 'online',
        model: m === null ? null : str(m.version),
        lastSeenMs: num(d.lastSeenMs),
        received: num(seq?.received),
        missing: num(seq?.missing),
      };
    }),
    alerts: (alerts.alerts as Json[]).map((a) => ({
      id: num(a.id),
      deviceId: str(a.deviceId),
      kind: str(a.kind),
      severity: str(a.severity),
      subject: str(a.subject),
      state: str(a.state),
      cause: str((a.details as Json | null)?.cause) || null,
      message: str(a.message),
      openedMs: num(a.openedMs),
    })),
    requests: requestViews,
    jobs,
    rollouts,
    production: production === undefined ? null : str(production.version),
  };
}

export async function readJob(c: CollectorClient, id: string): Promise<JobView> {
  const j = (await c.get(`/api/v1/training-jobs/${encodeURIComponent(id)}`)).job as Json;
  return {
    id: str(j.id),
    state: str(j.state),
    candidateVersion: str(j.candidateVersion),
    progress: (j.progress as JobView['progress']) ?? null,
    message: typeof j.message === 'string' ? j.message : null,
    reasons: (j.reasons as string[] | undefined) ?? [],
  };
}

export async function readRollout(c: CollectorClient, id: string): Promise<RolloutView> {
  const r = (await c.get(`/api/v1/rollouts/${encodeURIComponent(id)}`)).rollout as Json;
  return {
    id: str(r.id),
    state: str(r.state),
    fromVersion: typeof r.fromVersion === 'string' ? r.fromVersion : null,
    toVersion: str(r.toVersion),
    createdMs: num(r.createdMs),
    currentPhase: num(r.currentPhase),
    phases: (r.phases as RolloutView['phases'] | undefined) ?? [],
    counts: (r.counts as Record<string, number> | undefined) ?? {},
    reason: str(r.reason),
    production: (r.production as RolloutView['production']) ?? null,
    analyses: (r.analyses as RolloutView['analyses'] | undefined) ?? [],
  };
}
