// An alert's explanation (docs/explanations.md, read through its HTTP API): for a drift alert, its impact
// on the model (the share of predictions that change and the prediction mix before and after), the sensor
// groups' mean contributions over the windows behind it, and the newest window's top features. Also the
// live drift alerts ranked by impact, for the list's priority badges and its "by impact" order.
import { useState } from 'preact/hooks';
import { Badge, dateTime, html, num, pct, time, useApi } from '../lib.js';
import { Bars } from '../bars.js';
import { pp, TopFeatures } from './device-explain.js';

const enc = encodeURIComponent;
const priorityTone = { high: 'bad', medium: 'warn', low: 'info', unknown: 'muted' };
const isDrift = (a) => a.kind === 'drift' || a.kind === 'environment';

/**
 * The live drift alerts ranked by impact, highest first: `{ ranked: [...], byId: Map, error }`. Read again
 * whenever the set of live drift alerts changes (not on every occurrence: each answer runs the models).
 */
export function useImpacts(on, alerts) {
  const key = alerts
    .filter((a) => isDrift(a) && a.state !== 'resolved')
    .map((a) => a.id)
    .sort((x, y) => x - y)
    .join(',');
  const r = useApi(on ? '/api/v1/alerts/impact' : null, [on, key]);
  const ranked = r.data?.alerts ?? [];
  return { ranked, byId: new Map(ranked.map((x) => [x.alertId, x])), error: r.error };
}

/** A priority as a badge (a word and a symbol as well as a colour), with the share that changes. */
export function ImpactBadge({ r }) {
  const share = r.changedShare === null ? '' : ` · ${pct(r.changedShare)} of predictions change`;
  return html`<span class="priority" data-priority=${r.priority}>
    <${Badge} tone=${priorityTone[r.priority] ?? 'muted'} title=${r.reason ?? undefined}>impact ${r.priority}<//>${share}
    ${r.priority === 'unknown' && r.reason ? html` <small class="muted">(${r.reason})</small>` : ''}
  </span>`;
}

function Impact({ x, labels }) {
  const i = x.impact;
  if (i === null)
    return html`<p class="muted">Impact not estimated: ${x.impactUnavailable ?? 'no reason given'}.</p>`;
  const names = i.mixBefore.map((_, k) => labels?.[k] ?? `class ${k + 1}`);
  const r = i.referenceRows;
  const spread = `when the live distribution of ${i.shifted.length} shifted input(s) replaces their values in ${i.rows} of the device's own windows from ${time(r.fromMs)} to ${time(r.toMs)} (before the drift began); the mix moves ${pct(i.mixShift)}, mean confidence ${pp(i.meanConfidenceChange)}.`;
  return html`
    <p class="facts">
      <${ImpactBadge} r=${{ priority: i.priority, changedShare: i.changedShare, reason: null }} />
      <span>${spread}</span>
    </p>
    <div class="two">
      <${Bars}
        name="impact-mix"
        title="Prediction mix before and after the shift (share of windows per predicted class)"
        series=${['before', 'after']}
        join=" → "
        domain=${[0, 1]}
        rows=${names.map((n, k) => ({ label: n, values: [i.mixBefore[k], i.mixAfter[k]] }))}
        format=${pct}
      />
      <${Bars}
        name="impact-features"
        title="Share of predictions each shifted input changes on its own"
        rows=${i.features.map((f) => ({ label: f.feature, values: [f.changedShare] }))}
        format=${pct}
      />
    </div>
  `;
}

const newest = (e) =>
  `Newest window ${dateTime(e.tsMs)}: predicted ${e.predicted} (${pct(e.probabilities[e.predictedIndex])}; ${num(e.inferences)} model rows run).`;

/** The explanation of one alert, read when it is opened (each read runs the model over its windows). */
export function AlertExplanation({ id }) {
  const r = useApi(`/api/v1/alerts/${id}/explanation`, [id], { clear: true });
  const x = r.data?.explanation;
  // Class names for the mix: the newest window's, else the model's manifest.
  const needLabels = x !== undefined && x.latest === null && x.model !== null && x.impact !== null;
  const version = useApi(
    needLabels ? `/api/v1/models/${enc(x.model.name)}/versions/${enc(x.model.version)}` : null,
    [needLabels],
  );
  if (r.error) return html`<p class="error">${r.error}</p>`;
  if (x === undefined) return html`<p class="muted">Explaining the alert…</p>`;
  const labels = x.latest?.labels ?? version.data?.manifest?.labels;
  const groups = Object.entries(x.meanContributions).sort(([, a], [, b]) => Math.abs(b) - Math.abs(a));
  return html`<div class="alert-explanation" data-explain=${id}>
    <h3>Impact on the model</h3>
    <${Impact} x=${x} labels=${labels} />
    ${
      groups.length > 0
        ? html`<${Bars}
            name="mean-contributions"
            title=${`Mean contribution of each sensor group to the predicted class's probability over the ${x.windows} window(s) behind the alert${x.model ? ` (${x.model.name}@${x.model.version})` : ''}`}
            rows=${groups.map(([g, v]) => ({ label: g, values: [v] }))}
            format=${pp}
          />`
        : html`<p class="muted">No window behind this alert could be explained.</p>`
    }
    ${
      x.latest
        ? html`<p class="muted">${newest(x.latest)}</p>
            <${TopFeatures} e=${x.latest} />`
        : ''
    }
  </div>`;
}

/** A button that opens an alert's explanation under it. */
export function ExplainToggle({ a }) {
  const [open, setOpen] = useState(false);
  if (a.deviceId === null) return '';
  return html`<div class="explain-toggle">
    <button type="button" aria-expanded=${open} onClick=${() => setOpen(!open)}>
      ${open ? 'Hide explanation' : `Explain #${a.id}`}
    </button>
    ${open ? html`<${AlertExplanation} id=${a.id} />` : ''}
  </div>`;
}
