// One device: its state, then charts — a feature's reference distribution against its current one, drift
// scores over time against their thresholds, integrity flags over time, the prediction mix over time, and
// (with the registry) why the model predicts what it does and how accurate it is (device-explain.js).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ago, html, num, StatusBadge, useApi } from '../lib.js';
import { useLive } from '../live.js';
import { bars, Chart, line, steps } from '../chart.js';
import { DeviceExplanations } from './device-explain.js';

const MIN = 60_000;
const enc = encodeURIComponent;

/** Drift scores as score / threshold per group and basis: 1 is the threshold line. */
function DriftChart({ id, tick }) {
  const since = useMemo(() => Date.now() - 6 * 60 * MIN, [tick]);
  const ref = useApi(
    `/api/v1/monitor-results?deviceId=${enc(id)}&monitor=drift.model_reference&from=${since}&limit=10000`,
    [id, tick],
  );
  const base = useApi(
    `/api/v1/monitor-results?deviceId=${enc(id)}&monitor=drift.device_baseline&from=${since}&limit=10000`,
    [id, tick],
  );
  const rows = [...(ref.data?.results ?? []), ...(base.data?.results ?? [])].filter(
    (r) => r.statistic !== null && r.threshold !== null && r.threshold > 0,
  );
  if (rows.length === 0)
    return html`<p class="muted">
      No drift scores yet (the monitor evaluates once the device has enough windows).
    </p>`;
  const keys = [...new Set(rows.map((r) => `${r.monitor.replace('drift.', '')}:${r.channel}`))].sort();
  const times = [...new Set(rows.map((r) => r.tsMs))].sort((a, b) => a - b);
  const at = new Map(times.map((t, i) => [t, i]));
  const cols = keys.map(() => times.map(() => null));
  for (const r of rows)
    cols[keys.indexOf(`${r.monitor.replace('drift.', '')}:${r.channel}`)][at.get(r.tsMs)] =
      r.statistic / r.threshold;
  const threshold = times.map(() => 1);
  return html`<${Chart}
    title="Drift score ÷ threshold per sensor group (W1; above 1 = over its threshold)"
    data=${[times.map((t) => t / 1000), ...cols, threshold]}
    series=${[...keys.map((k, i) => line(k, i)), { label: 'threshold', stroke: '#111', width: 1, dash: [4, 4] }]}
  />`;
}

function Distribution({ id, features, initial, tick }) {
  const [feature, setFeature] = useState(initial);
  useEffect(() => setFeature(initial), [initial]);
  const r = useApi(feature ? `/api/v1/devices/${enc(id)}/distribution?feature=${enc(feature)}` : null, [
    id,
    feature,
    tick,
  ]);
  const d = r.data;
  return html`<section class="panel">
    <h2>Reference against current distribution</h2>
    <label
      >Feature
      <select value=${feature} onChange=${(e) => setFeature(e.target.value)}>
        ${features.map((f) => html`<option value=${f}>${f}</option>`)}
      </select></label
    >
    ${r.error ? html`<p class="error">${r.error}</p>` : ''}
    ${
      d && d.x.length > 0
        ? html`<${Chart}
              title=${`${feature}: share of windows per bin, model reference (training data) against the device's latest ${d.currentStats?.n ?? 0} windows`}
              summary=${`reference mean ${num(d.referenceStats?.mean)}, current mean ${num(d.currentStats?.mean)}`}
              data=${[d.x, d.reference ?? d.x.map(() => null), d.current ?? d.x.map(() => null)]}
              series=${[bars(0, { label: 'reference' }), bars(1, { label: 'current' })]}
              options=${{ scales: { x: { time: false } } }}
            />
            <p class="muted">
              Reference mean ${num(d.referenceStats?.mean)} (σ ${num(d.referenceStats?.std)}), current mean ${num(d.currentStats?.mean)} (σ ${num(d.currentStats?.std)}).
            </p>`
        : ''
    }
  </section>`;
}

const levels = { good: 0, ok: 0, suspect: 1, fail: 2 };

function IntegrityChart({ id, tick }) {
  const r = useApi(`/api/v1/devices/${enc(id)}/integrity-events?limit=10000`, [id, tick]);
  const events = r.data?.events ?? [];
  if (events.length === 0)
    return html`<p class="muted">No integrity flag changes reported by the device in the last 24 h.</p>`;
  const channels = [...new Set(events.map((e) => e.channel))].sort().slice(0, 8);
  const times = [...new Set(events.map((e) => e.tsMs))].sort((a, b) => a - b);
  const now = Date.now();
  if (times[times.length - 1] < now) times.push(now);
  // A channel's level is its worst check at each moment (each event sets one check's status).
  const cols = channels.map((ch) => {
    const checks = new Map();
    const own = events.filter((e) => e.channel === ch);
    return times.map((t) => {
      for (const e of own) if (e.tsMs === t) checks.set(e.check, levels[e.status] ?? 0);
      return Math.max(0, ...checks.values());
    });
  });
  return html`<${Chart}
    title="Edge integrity flags per channel over time (0 good, 1 suspect, 2 fail)"
    data=${[times.map((t) => t / 1000), ...cols]}
    series=${channels.map((c, i) => steps(c, i))}
    options=${{ scales: { y: { range: [-0.1, 2.1] } }, axes: [{}, { values: (_u, v) => v.map((x) => ['good', 'suspect', 'fail'][x] ?? '') }] }}
  />`;
}

function MixChart({ id, tick }) {
  const r = useApi(`/api/v1/devices/${enc(id)}/windows?features=accel.x.mean&limit=1000`, [id, tick]);
  const ws = (r.data?.windows ?? []).filter((w) => w.prediction);
  if (ws.length === 0)
    return html`<p class="muted">No predictions in the last hour (is a model installed?).</p>`;
  const from = ws[0].tsMs;
  const to = ws[ws.length - 1].tsMs + 1;
  const n = Math.min(30, ws.length);
  const width = (to - from) / n;
  const labels = [...new Set(ws.map((w) => w.prediction.label))].sort();
  const counts = labels.map(() => new Array(n).fill(0));
  const totals = new Array(n).fill(0);
  for (const w of ws) {
    const b = Math.min(n - 1, Math.floor((w.tsMs - from) / width));
    counts[labels.indexOf(w.prediction.label)][b] += 1;
    totals[b] += 1;
  }
  const x = Array.from({ length: n }, (_, i) => (from + (i + 0.5) * width) / 1000);
  return html`<${Chart}
    title="Prediction mix over time (share of windows per predicted class)"
    data=${[x, ...counts.map((c) => c.map((v, i) => (totals[i] ? v / totals[i] : null)))]}
    series=${labels.map((l, i) => line(l, i))}
    options=${{ scales: { y: { range: [0, 1] } } }}
  />`;
}

export function DeviceView({ id }) {
  const live = useLive();
  const row = live.devices.get(id);
  // Charts re-read every 10 s while open; the header follows the live feed.
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 10_000);
    return () => clearInterval(t);
  }, []);
  const detail = useApi(`/api/v1/devices/${enc(id)}`, [id, tick]);
  const drift = detail.data?.drift?.devices?.[0];
  const features = detail.data?.drift?.features ?? [];
  const top = useMemo(() => {
    let best = features[0] ?? null;
    let most = -1;
    for (const g of drift?.groups ?? [])
      for (const f of g.features)
        if (f.shiftSigma !== null && Math.abs(f.shiftSigma) > most) {
          most = Math.abs(f.shiftSigma);
          best = f.feature;
        }
    return best;
  }, [drift?.evaluatedMs, features.length]);
  if (detail.error)
    return html`<h1 tabindex="-1">${id}</h1>
      <p class="error">${detail.error}</p>`;
  const health = detail.data?.health;
  const groups = (drift?.groups ?? []).filter(
    (g) => g.basis === 'model_reference' || !drift.bases.includes('model_reference'),
  );
  return html`
    <h1 tabindex="-1">Device ${id}</h1>
    <p class="facts">
      <${StatusBadge} word=${row?.state ?? health?.state ?? 'unknown'} />
      model ${row?.model ? `${row.model.name}@${row.model.version}` : '—'} · integrity
      <${StatusBadge} word=${row?.integrity ?? 'unknown'} /> · drift
      <${StatusBadge} word=${row?.drift ?? 'unknown'} /> · last seen ${ago(row?.lastSeenMs)}
    </p>
    ${
      health && health.checks.some((c) => c.status !== 'good')
        ? html`<ul class="checks">
            ${health.checks.filter((c) => c.status !== 'good').map((c) => html`<li><${StatusBadge} word=${c.status} /> ${c.check}${c.subject ? ` (${c.subject})` : ''}: ${c.summary}</li>`)}
          </ul>`
        : ''
    }
    ${
      groups.length > 0
        ? html`<p class="groups">
            ${groups.map((g) => html`<span><${StatusBadge} word=${g.status} /> ${g.group}</span> `)}
          </p>`
        : ''
    }
    ${features.length > 0 && top ? html`<${Distribution} id=${id} features=${features} initial=${top} tick=${tick} />` : ''}
    <section class="panel">
      <h2>Drift over time</h2>
      <${DriftChart} id=${id} tick=${tick} />
    </section>
    <section class="panel">
      <h2>Integrity flags over time</h2>
      <${IntegrityChart} id=${id} tick=${tick} />
    </section>
    <section class="panel">
      <h2>Prediction mix over time</h2>
      <${MixChart} id=${id} tick=${tick} />
    </section>
    <${DeviceExplanations}
      id=${id}
      device=${detail.data?.device}
      lastSeenMs=${row?.lastSeenMs ?? detail.data?.device?.lastSeenMs ?? null}
      tick=${tick}
    />
  `;
}
