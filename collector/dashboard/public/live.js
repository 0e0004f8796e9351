// The live state every view reads: the fleet rows, alerts, rollouts, update requests and training jobs,
// loaded from the API and kept current by the collector's server-sent events (GET /api/v1/events). On
// every (re)connect the feed says `hello` and the state is read again, so nothing is missed while away.
import { useEffect, useState } from 'preact/hooks';
import { api } from './lib.js';

const state = {
  connected: false,
  /** Which optional APIs the collector mounts: { registry, loop, retraining }; null until loaded. */
  mounted: null,
  devices: new Map(),
  alerts: new Map(),
  rollouts: new Map(),
  requests: new Map(),
  jobs: new Map(),
  /** Alert ids that arrived live (not in the first load), for the "new" marker. */
  fresh: new Set(),
  version: 0,
};
const listeners = new Set();
let loaded = false;

function changed() {
  state.version += 1;
  for (const l of listeners) l(state.version);
}

async function reload() {
  const fleet = await api('/api/v1/fleet');
  // Rollouts, update requests and training jobs exist only with the registry and the loop mounted.
  const m = fleet.mounted;
  const [alerts, rollouts, requests, jobs] = await Promise.all([
    api('/api/v1/alerts?limit=500'),
    m.loop ? api('/api/v1/rollouts?limit=50') : { rollouts: [] },
    m.loop ? api('/api/v1/update-requests?limit=50') : { updateRequests: [] },
    m.retraining ? api('/api/v1/training-jobs?limit=50') : { jobs: [] },
  ]);
  state.mounted = m;
  state.devices = new Map(fleet.devices.map((d) => [d.deviceId, d]));
  state.alerts = new Map(alerts.alerts.map((a) => [a.id, a]));
  state.rollouts = new Map(rollouts.rollouts.map((r) => [r.id, r]));
  state.requests = new Map(requests.updateRequests.map((r) => [r.id, r]));
  state.jobs = new Map(jobs.jobs.map((j) => [j.id, j]));
  loaded = true;
  changed();
}

function connect() {
  const es = new EventSource('/api/v1/events');
  const on = (name, fn) =>
    es.addEventListener(name, (e) => {
      fn(JSON.parse(e.data));
      changed();
    });
  on('hello', () => {
    state.connected = true;
    reload().catch((err) => console.warn('dashboard: reload failed', err.message));
  });
  on('devices', (rows) => {
    for (const r of rows) state.devices.set(r.deviceId, r);
  });
  on('lastSeen', (map) => {
    for (const [id, ms] of Object.entries(map)) {
      const d = state.devices.get(id);
      if (d) state.devices.set(id, { ...d, lastSeenMs: ms });
    }
  });
  on('alert', (a) => {
    if (loaded && !state.alerts.has(a.id)) state.fresh.add(a.id);
    state.alerts.set(a.id, a);
  });
  on('rollout', (r) => state.rollouts.set(r.id, { ...state.rollouts.get(r.id), ...r }));
  on('updateRequest', (r) => state.requests.set(r.id, r));
  on('trainingJob', (j) => state.jobs.set(j.id, { ...state.jobs.get(j.id), ...j }));
  es.onerror = () => {
    // EventSource reconnects by itself (the feed's retry: hint); say so meanwhile.
    if (state.connected) {
      state.connected = false;
      changed();
    }
  };
}

let started = false;
/** The live state; re-renders the calling component on every change. */
export function useLive() {
  const [, setVersion] = useState(state.version);
  useEffect(() => {
    listeners.add(setVersion);
    if (!started) {
      started = true;
      connect();
    }
    return () => listeners.delete(setVersion);
  }, []);
  return state;
}

/** Applies an alert the page itself changed (an acknowledgement) without waiting for the feed. */
export function putAlert(a) {
  state.alerts.set(a.id, a);
  changed();
}
