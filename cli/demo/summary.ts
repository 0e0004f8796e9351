// The demo's summary (docs/demo.md "The summary"): a table on stdout and, with --summary-json, the same
// figures as JSON. Pure: built from the last snapshot and the counts the demo gathered.

import type { DemoDevice } from './plan.ts';
import type { AlertView, Snapshot } from './watch.ts';

export type DemoOutcome =
  /** The retrained model runs fleet-wide and is production. */
  | 'updated'
  /** The rollout failed its analysis and every device went back. */
  | 'rolled_back'
  /** The gate refused the candidate: nothing shipped. */
  | 'refused'
  /** The loop did not finish within --duration. */
  | 'unfinished'
  /** No update request was raised. */
  | 'no_request';

export interface DemoSummary {
  readonly seed: number;
  readonly speed: number;
  readonly deviceTimeS: number;
  readonly wallS: number;
  readonly outcome: DemoOutcome;
  readonly modelBefore: string | null;
  readonly modelAfter: string | null;
  readonly devices: readonly {
    readonly deviceId: string;
    readonly role: string;
    readonly windows: number;
    readonly alerts: readonly string[];
    readonly modelAfter: string | null;
    readonly messagesLost: number;
    readonly samplesLost: number;
  }[];
  readonly fleet: { readonly devices: number; readonly messages: number; readonly alerts: number };
  readonly alertsByKind: Readonly<Record<string, number>>;
  /**
   * The alerts that are not info, one entry per device, kind, subject and cause (sorted), with how many
   * alerts it stands for, how many are still live, and whether the first was opened before edgeloop
   * acted: before the update request's rollout started, or before the request ended without one
   * (`story`: the same seed gives the same story entries; what comes after depends on the rollout's
   * outcome and on how long the demo goes on, which is wall time).
   */
  readonly alerts: readonly {
    readonly deviceId: string;
    readonly kind: string;
    readonly subject: string;
    readonly cause: string | null;
    readonly count: number;
    readonly live: number;
    readonly story: boolean;
  }[];
  readonly updateRequests: readonly {
    readonly id: string;
    readonly state: string;
    readonly devices: readonly string[];
    readonly channels: readonly string[];
    readonly outcome: string | null;
  }[];
  readonly rollout: {
    readonly id: string;
    readonly fromVersion: string | null;
    readonly toVersion: string;
    readonly state: string;
    readonly reason: string | null;
  } | null;
  readonly lost: { readonly messages: number; readonly samples: number };
}

export interface SummaryInput {
  readonly seed: number;
  readonly speed: number;
  readonly deviceTimeS: number;
  readonly wallS: number;
  readonly devices: readonly DemoDevice[];
  readonly fleet: number;
  readonly modelBefore: string | null;
  readonly last: Snapshot;
  /** Samples the agent saw missing (sample index gaps), per device, from its last telemetry counters. */
  readonly samplesLost: Readonly<Record<string, number>>;
  /** Windows stored per device. */
  readonly windows: Readonly<Record<string, number>>;
}

export function buildSummary(i: SummaryInput): DemoSummary {
  const s = i.last;
  const alerts = s.alerts.filter((a) => a.severity !== 'info').sort((a, b) => a.id - b.id);
  const byId = new Map(s.devices.map((d) => [d.deviceId, d]));
  const request = s.requests.at(-1);
  const rollout = request?.rolloutId == null ? undefined : s.rollouts[request.rolloutId];
  const lastRolloutAnalysis = rollout?.analyses.find((a) => a.verdict === 'fail');
  const outcome: DemoOutcome =
    request === undefined
      ? 'no_request'
      : request.state === 'resolved'
        ? 'updated'
        : request.state === 'candidate_refused'
          ? 'refused'
          : rollout !== undefined && ['rolled_back', 'aborted'].includes(rollout.state)
            ? 'rolled_back'
            : 'unfinished';
  const alertsByKind: Record<string, number> = {};
  for (const a of alerts) alertsByKind[a.kind] = (alertsByKind[a.kind] ?? 0) + 1;
  const demoIds = new Set(i.devices.map((d) => d.deviceId));
  const fleetDevices = s.devices.filter((d) => !demoIds.has(d.deviceId));
  const devices = i.devices.map((d) => {
    const v = byId.get(d.deviceId);
    return {
      deviceId: d.deviceId,
      role: d.role,
      windows: i.windows[d.deviceId] ?? 0,
      alerts: [
        ...new Set(
          alerts.filter((a) => a.deviceId === d.deviceId).map((a) => `${a.kind} ${a.subject}`.trim()),
        ),
      ],
      modelAfter: v?.model ?? null,
      messagesLost: v?.missing ?? 0,
      samplesLost: i.samplesLost[d.deviceId] ?? 0,
    };
  });
  return {
    seed: i.seed,
    speed: i.speed,
    deviceTimeS: Math.round(i.deviceTimeS),
    wallS: Math.round(i.wallS),
    outcome,
    modelBefore: i.modelBefore,
    modelAfter: s.production,
    devices,
    fleet: {
      devices: fleetDevices.length,
      messages: fleetDevices.reduce((n, d) => n + d.received, 0),
      alerts: alerts.filter((a) => !demoIds.has(a.deviceId)).length,
    },
    alertsByKind,
    alerts: distinctAlerts(alerts, rollout?.createdMs ?? request?.endedMs ?? Number.POSITIVE_INFINITY),
    updateRequests: s.requests.map((r) => ({
      id: r.id,
      state: r.state,
      devices: r.devices,
      channels: r.channels,
      outcome: r.outcome,
    })),
    rollout:
      rollout === undefined
        ? null
        : {
            id: rollout.id,
            fromVersion: rollout.fromVersion,
            toVersion: rollout.toVersion,
            state: rollout.state,
            reason:
              lastRolloutAnalysis === undefined
                ? null
                : lastRolloutAnalysis.checks
                    .filter((c) => c.status === undefined || c.status === 'fail')
                    .map((c) => `${c.name} ${c.detail}`)
                    .join('; '),
          },
    lost: {
      messages: s.devices.reduce((n, d) => n + d.missing, 0),
      samples: devices.reduce((n, d) => n + d.samplesLost, 0),
    },
  };
}

function distinctAlerts(alerts: readonly AlertView[], storyEndMs: number): DemoSummary['alerts'] {
  type Entry = { -readonly [K in keyof DemoSummary['alerts'][number]]: DemoSummary['alerts'][number][K] };
  const by = new Map<string, Entry>();
  for (const a of alerts) {
    const key = JSON.stringify([a.deviceId, a.kind, a.subject, a.cause]);
    const e: Entry = by.get(key) ?? {
      deviceId: a.deviceId,
      kind: a.kind,
      subject: a.subject,
      cause: a.cause,
      count: 0,
      live: 0,
      story: false,
    };
    e.count++;
    if (a.state !== 'resolved') e.live++;
    if (a.openedMs <= storyEndMs) e.story = true;
    by.set(key, e);
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

const pad = (s: string, n: number): string => s.padEnd(n);

/** The summary as the table printed at the end. */
export function summaryText(s: DemoSummary): string {
  const lines: string[] = [];
  lines.push(`device       role           windows  model after  msgs lost  samples lost  alerts`);
  for (const d of s.devices)
    lines.push(
      `${pad(d.deviceId, 12)} ${pad(d.role, 14)} ${String(d.windows).padStart(7)}  ${pad(d.modelAfter ?? '-', 11)}  ${String(d.messagesLost).padStart(9)}  ${String(d.samplesLost).padStart(12)}  ${d.alerts.length === 0 ? '-' : d.alerts.join(', ')}`,
    );
  if (s.fleet.devices > 0)
    lines.push(
      `${pad(`fleet (${String(s.fleet.devices)})`, 12)} ${pad('telemetry only', 14)} ${String(s.fleet.messages).padStart(7)}  ${pad('-', 11)}  ${'-'.padStart(9)}  ${'-'.padStart(12)}  ${String(s.fleet.alerts)} alerts`,
    );
  lines.push('');
  const kinds = Object.entries(s.alertsByKind);
  lines.push(
    `alerts by kind: ${kinds.length === 0 ? 'none' : kinds.map(([k, n]) => `${k} ${String(n)}`).join(', ')}`,
  );
  for (const r of s.updateRequests)
    lines.push(
      `update request ${r.id}: ${r.devices.join(', ')} (${r.channels.join(', ')}), ${r.state.replaceAll('_', ' ')}${r.outcome === null ? '' : `: ${r.outcome}`}`,
    );
  if (s.rollout !== null)
    lines.push(
      `rollout ${s.rollout.id}: ${s.rollout.fromVersion ?? '?'} -> ${s.rollout.toVersion}, ${s.rollout.state.replaceAll('_', ' ')}${s.rollout.reason === null ? '' : ` (${s.rollout.reason})`}`,
    );
  lines.push(`model (production): ${s.modelBefore ?? '-'} before, ${s.modelAfter ?? '-'} after`);
  lines.push(`outcome: ${s.outcome.replaceAll('_', ' ')}`);
  lines.push(`lost: ${String(s.lost.messages)} messages, ${String(s.lost.samples)} samples`);
  lines.push(
    `${String(s.deviceTimeS)} s of device time in ${String(s.wallS)} s (speed ${String(s.speed)}), seed ${String(s.seed)}`,
  );
  return `${lines.join('\n')}\n`;
}
