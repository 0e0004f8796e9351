// What the dashboard's live feed follows (feed.ts): fleet rows, alerts, and, with the loop mounted,
// rollouts, update requests and training jobs. Each channel says which fields make a row "changed".

import { alertView } from '../alerts/payload.ts';
import type { RolloutController } from '../rollout/types.ts';
import type { Retraining } from '../retrain/types.ts';
import type { UpdateRequests } from '../updates/requests.ts';
import type { AlertRecord, TelemetryStore } from '../storage/types.ts';
import type { FeedChannel } from './feed.ts';
import { fleetRows, type FleetRow, type FleetSources } from './fleet.ts';

/** Alerts the feed compares each pass (newest first): more than a page shows at once. */
const ALERT_ROWS = 200;
/** Rollouts, requests and jobs compared each pass. */
const LOOP_ROWS = 20;

export interface DashboardSources {
  readonly fleet: FleetSources;
  readonly store: TelemetryStore;
  readonly rollouts?: RolloutController | undefined;
  readonly updates?: UpdateRequests | undefined;
  readonly retraining?: Retraining | undefined;
}

const channel = <T>(c: FeedChannel<T>): FeedChannel => c;

export function dashboardChannels(s: DashboardSources): FeedChannel[] {
  const out: FeedChannel[] = [
    channel<FleetRow>({
      event: 'devices',
      batched: true,
      rows: () => fleetRows(s.fleet),
      key: (r) => r.deviceId,
      // Last seen moves with every message; the `lastSeen` event carries it.
      fingerprint: (r) => JSON.stringify({ ...r, lastSeenMs: 0 }),
    }),
    channel<AlertRecord>({
      event: 'alert',
      rows: () => s.store.alerts({ limit: ALERT_ROWS }),
      key: (a) => String(a.id),
      fingerprint: (a) =>
        [a.state, a.severity, a.occurrences, a.message, a.acknowledgedMs, a.resolvedMs].join('|'),
      view: alertView,
    }),
  ];
  const { rollouts, updates, retraining } = s;
  if (rollouts !== undefined)
    out.push(
      channel({
        event: 'rollout',
        rows: () => rollouts.list({ limit: LOOP_ROWS }),
        key: (r) => r.id,
        fingerprint: (r) => `${r.state}|${r.updatedMs}|${JSON.stringify(r.counts)}`,
        // The summary; the page reads the whole record (devices, analyses) when it shows that rollout.
        view: (r) => ({
          id: r.id,
          model: r.model,
          fromVersion: r.fromVersion,
          toVersion: r.toVersion,
          state: r.state,
          currentPhase: r.currentPhase,
          counts: r.counts,
          updatedMs: r.updatedMs,
        }),
      }),
    );
  if (updates !== undefined)
    out.push(
      channel({
        event: 'updateRequest',
        rows: () => updates.list({ limit: LOOP_ROWS }),
        key: (r) => r.id,
        fingerprint: (r) => `${r.state}|${r.updatedMs}`,
      }),
    );
  if (retraining !== undefined)
    out.push(
      channel({
        event: 'trainingJob',
        rows: () => retraining.list({ limit: LOOP_ROWS }),
        key: (j) => j.id,
        fingerprint: (j) => `${j.state}|${JSON.stringify(j.progress)}`,
        view: (j) => ({
          id: j.id,
          state: j.state,
          progress: j.progress,
          candidateVersion: j.candidateVersion,
        }),
      }),
    );
  return out;
}
