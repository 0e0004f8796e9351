// Alerts: a timeline of when each alert was live, then each alert with its explanation (what moved, how
// far in σ and in the channel's unit, since when, the suspected cause, the action) and Acknowledge. With
// the registry, drift alerts carry their impact on the model and any alert opens its model explanation
// (alert-explain.js).
import { useState } from 'preact/hooks';
import { actionText, api, Badge, causeText, dateTime, html, num, StatusBadge, time, toneOf } from '../lib.js';
import { putAlert, useLive } from '../live.js';
import { ExplainToggle, ImpactBadge, useImpacts } from './alert-explain.js';

function Timeline({ alerts }) {
  if (alerts.length === 0) return '';
  const now = Date.now();
  const from = Math.min(...alerts.map((a) => a.openedMs));
  const span = Math.max(1, now - from);
  const rowH = 18;
  const shown = alerts.slice(0, 40);
  const x = (ms) => (100 * (ms - from)) / span;
  return html`<figure class="chart">
    <figcaption>When each alert was live (newest at the top; from ${time(from)} to now)</figcaption>
    <svg
      class="timeline"
      viewBox=${`0 0 100 ${shown.length * rowH}`}
      preserveAspectRatio="none"
      style=${`height:${shown.length * rowH}px`}
      role="img"
      aria-label=${`${shown.length} alerts on a time axis from ${time(from)} to now`}
    >
      ${shown.map((a, i) => {
        const end = a.resolvedMs ?? now;
        return html`<g key=${a.id}>
          <rect
            x=${x(a.openedMs)}
            y=${i * rowH + 3}
            width=${Math.max(0.4, x(end) - x(a.openedMs))}
            height=${rowH - 6}
            class=${`bar ${toneOf(a.state === 'resolved' ? 'resolved' : a.severity)}`}
          >
            <title>
              #${a.id} ${a.kind} ${a.deviceId ?? 'fleet'} ${a.subject ?? ''}: ${time(a.openedMs)} –
              ${a.resolvedMs ? time(a.resolvedMs) : 'now'}
            </title>
          </rect>
        </g>`;
      })}
    </svg>
  </figure>`;
}

function Evidence({ e }) {
  const moved =
    e.effectSigma !== undefined && e.effectSigma !== null
      ? ` moved ${num(e.effectSigma)} σ${e.effectPhysical !== null && e.effectPhysical !== undefined ? ` (${num(e.effectPhysical)} ${e.unit ?? ''})` : ''}`
      : '';
  const feature = e.detail?.feature ? `${e.detail.feature}: ` : '';
  const against = e.threshold !== null ? ` against threshold ${num(e.threshold)}` : '';
  const text = `${feature}${e.method} ${num(e.statistic)}${against}${moved}`;
  return html`<li>${text}${e.thresholdOrigin ? html`<small> (threshold: ${e.thresholdOrigin})</small>` : ''}</li>`;
}

function AlertCard({ a, fresh, by, impact, explain }) {
  const [error, setError] = useState(null);
  const d = a.details ?? {};
  const ack = async () => {
    setError(null);
    try {
      const r = await api(`/api/v1/alerts/${a.id}/ack`, { body: { by } });
      putAlert(r.alert);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<article
    class=${`alert ${toneOf(a.severity)}`}
    data-alert=${a.id}
    aria-labelledby=${`a${a.id}`}
  >
    <header>
      <h2 id=${`a${a.id}`}>
        ${fresh ? html`<span class="new">new</span> ` : ''}#${a.id} ${a.kind}
        ${a.deviceId ? html` on <a href=${`#/devices/${encodeURIComponent(a.deviceId)}`}>${a.deviceId}</a>` : ' (fleet)'}
        ${a.subject ? ` · ${a.subject}` : ''}
      </h2>
      <${Badge} tone=${toneOf(a.severity)}>${a.severity}<//>
      <${StatusBadge} word=${a.state} />
      ${impact ? html`<${ImpactBadge} r=${impact} />` : ''}
    </header>
    <p class="msg">${a.message}</p>
    <dl class="explain">
      ${
        d.evidence?.length
          ? html`<dt>What moved</dt>
              <dd>
                <ul>
                  ${d.evidence.map((e) => html`<${Evidence} e=${e} />`)}
                </ul>
              </dd>`
          : ''
      }
      <dt>Since</dt>
      <dd>${dateTime(d.sinceMs ?? a.openedMs)} (opened ${dateTime(a.openedMs)}, seen ${a.occurrences}×)</dd>
      <dt>Suspected cause</dt>
      <dd>${d.cause ? (causeText[d.cause] ?? d.cause) : '—'}</dd>
      <dt>Action</dt>
      <dd>
        ${d.action ? `${actionText[d.action.kind] ?? d.action.kind}${d.action.automatic ? ' (automatic)' : ''}` : '—'}
      </dd>
      ${
        a.acknowledgedBy
          ? html`<dt>Acknowledged</dt>
              <dd>by ${a.acknowledgedBy}, ${dateTime(a.acknowledgedMs)}</dd>`
          : ''
      }
      ${
        a.resolvedMs
          ? html`<dt>Resolved</dt>
              <dd>${dateTime(a.resolvedMs)}</dd>`
          : ''
      }
    </dl>
    ${a.state === 'open' ? html`<button type="button" onClick=${ack}>Acknowledge #${a.id}</button>` : ''}
    ${error ? html`<p role="alert" class="error">${error}</p>` : ''}
    ${explain ? html`<${ExplainToggle} a=${a} />` : ''}
  </article>`;
}

export function AlertsView() {
  const live = useLive();
  const [show, setShow] = useState('live');
  const [by, setBy] = useState(() => localStorage.getItem('edgeloop.operator') ?? 'operator');
  const [order, setOrder] = useState('newest');
  const on = live.mounted?.registry === true;
  const all = [...live.alerts.values()].sort((a, b) => b.openedMs - a.openedMs);
  const impacts = useImpacts(on, all);
  const rank = new Map(impacts.ranked.map((x, i) => [x.alertId, i]));
  const rows = all.filter((a) =>
    show === 'live' ? a.state !== 'resolved' : show === 'all' ? true : a.state === show,
  );
  // By impact: the ranked drift alerts first, highest impact first (low and unknown still listed), then
  // the rest newest first.
  if (order === 'impact')
    rows.sort(
      (a, b) => (rank.get(a.id) ?? Infinity) - (rank.get(b.id) ?? Infinity) || b.openedMs - a.openedMs,
    );
  return html`
    <h1 tabindex="-1">Alerts</h1>
    <div class="filters">
      <label
        >Show
        <select value=${show} onChange=${(e) => setShow(e.target.value)}>
          <option value="live">open and acknowledged</option>
          <option value="open">open</option>
          <option value="resolved">resolved</option>
          <option value="all">all</option>
        </select></label
      >
      <label
        >Acknowledge as
        <input
          value=${by}
          onInput=${(e) => (setBy(e.target.value), localStorage.setItem('edgeloop.operator', e.target.value))}
      /></label>
      ${
        on
          ? html`<label
              >Order
              <select value=${order} onChange=${(e) => setOrder(e.target.value)}>
                <option value="newest">newest first</option>
                <option value="impact">impact on the model first</option>
              </select></label
            >`
          : ''
      }
      <span role="status">${rows.length} shown</span>
    </div>
    ${impacts.error ? html`<p class="error">Impact ranking: ${impacts.error}</p>` : ''}
    <${Timeline} alerts=${rows} />
    <div aria-live="polite">
      ${rows.length === 0 ? html`<p>No alerts here.</p>` : rows.map((a) => html`<${AlertCard} key=${a.id} a=${a} fresh=${live.fresh.has(a.id)} by=${by} impact=${impacts.byId.get(a.id)} explain=${on} />`)}
    </div>
  `;
}
