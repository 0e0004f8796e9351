// What every view shares: the html tag, JSON fetches that surface the API's error codes, and formatting.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** GET or POST JSON; throws an Error whose message carries the API's `[EDGELOOP_ERR_...]` code. */
export async function api(path, options = {}) {
  const init = { headers: { accept: 'application/json' }, ...options };
  if (options.body !== undefined) {
    init.method = options.method ?? 'POST';
    init.body = JSON.stringify(options.body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  const res = await fetch(path, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = body?.error;
    throw new Error(e ? `${e.message} [${e.code}]` : `HTTP ${res.status} for ${path}`);
  }
  return body;
}

/**
 * GET `path` whenever `deps` change (nothing while `path` is null): `{ data, error }`. By default the last
 * answer stays while the next is read, so a chart that re-reads does not flicker; `clear` empties it first
 * (a different object is being read, and the old one must not show as if it were the new one).
 */
export function useApi(path, deps, { clear = false } = {}) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    if (path === null) return undefined;
    if (clear) setState({ data: null, error: null });
    api(path)
      .then((data) => live && setState({ data, error: null }))
      .catch((err) => live && setState({ data: null, error: err.message }));
    return () => (live = false);
  }, deps);
  return state;
}

export function ago(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const time = (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toLocaleTimeString());
export const dateTime = (ms) => (ms === null || ms === undefined ? '—' : new Date(ms).toLocaleString());

export function num(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(digits)).toString();
}

export const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)} %`);

/**
 * A status shown with a symbol and a word as well as a colour, so colour is never the only signal.
 * tone: ok | warn | bad | info | muted.
 */
const symbols = { ok: '✓', warn: '▲', bad: '✖', info: 'ℹ', muted: '·' };
export function Badge({ tone, children, title }) {
  return html`<span class=${`badge ${tone}`} title=${title}>
    <span aria-hidden="true">${symbols[tone] ?? ''}</span> ${children}
  </span>`;
}

const tones = {
  online: 'ok',
  good: 'ok',
  ok: 'ok',
  pass: 'ok',
  completed: 'ok',
  committed: 'ok',
  approved: 'ok',
  resolved: 'ok',
  stale: 'warn',
  suspect: 'warn',
  warning: 'warn',
  learning: 'info',
  running: 'info',
  paused: 'warn',
  inconclusive: 'warn',
  acknowledged: 'info',
  info: 'info',
  offline: 'bad',
  fail: 'bad',
  failed: 'bad',
  drift: 'bad',
  critical: 'bad',
  open: 'bad',
  rolled_back: 'bad',
  aborted: 'bad',
};
export const toneOf = (word) => tones[word] ?? 'muted';
export const StatusBadge = ({ word, title }) =>
  html`<${Badge} tone=${toneOf(word)} title=${title}>${word ?? 'unknown'}<//>`;

export const causeText = {
  broken_sensor: 'a broken sensor',
  calibration_drift: 'calibration drift (the sensor was recalibrated or moved)',
  environment_change: 'a change in the environment (temperature, humidity, pressure)',
  machine_condition_change: 'a change in the machine’s condition',
  unknown: 'unknown',
};
export const actionText = {
  check_sensor: 'check the sensor and its wiring',
  check_connectivity: 'check the device’s network and power',
  check_clock: 'check the device clock (NTP)',
  recalibrate_sensor: 'recalibrate or remount the sensor',
  request_model_update: 'a model update (the collector requests one)',
  inspect_machine: 'inspect the machine',
  none: 'none needed',
};
