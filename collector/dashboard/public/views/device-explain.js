// A device's explanations (docs/explanations.md, read through its HTTP API): each sensor group's
// contribution to the predicted class over time, one chosen window's contributions with its top features,
// and accuracy over time, estimated from the model's probabilities and realised against operator labels.
// The registry holds the models these run, so the panels exist only when it is mounted.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { dateTime, html, num, pct, time, useApi } from '../lib.js';
import { useLive } from '../live.js';
import { Bars } from '../bars.js';
import { Chart, line } from '../chart.js';

const enc = encodeURIComponent;
const HOUR = 3_600_000;
/**
 * Past the last receipt, so windows stamped by a device clock a little ahead (or received late) are in
 * range: windows carry the device's time, last-seen the collector's.
 */
const PAD_MS = 5 * 60_000;
/** Buckets for the accuracy chart: the first that gives at most 60 over the device's data shown. */
const BUCKETS_MS = [10_000, 30_000, 60_000, 5 * 60_000, 15 * 60_000, HOUR];

/** A change of probability in percentage points, with its sign (two significant digits below 1 pp). */
export function pp(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x * 100);
  return `${x >= 0 ? '+' : '−'}${a >= 1 || a === 0 ? a.toFixed(1) : Number(a.toPrecision(2))} pp`;
}

const sigma = (d) => (d === null || d === undefined ? '' : `, ${d >= 0 ? '+' : '−'}${num(Math.abs(d), 2)} σ`);

/** The top features of a window's most important group, by what each adds to the predicted class. */
export function TopFeatures({ e }) {
  if (e.topFeatures.length === 0) return '';
  return html`<h3>Top features of ${e.topGroup}, the group that moved P(${e.predicted}) the most</h3>
    <${Bars}
      name="top-features"
      title=${`What each feature adds to P(${e.predicted}): the window's probability minus that with the feature at its baseline value`}
      rows=${e.topFeatures.map((f) => ({
        label: f.feature,
        values: [f.effect],
        note: `value ${num(f.value)}, baseline ${num(f.baseline)}${sigma(f.deviation)}`,
      }))}
      format=${pp}
    />`;
}

/** One window's explanation: the groups' contributions as diverging bars, the class, its top features. */
export function WindowExplanation({ e }) {
  const p = e.probabilities[e.predictedIndex];
  const base = e.baselineProbabilities[e.predictedIndex];
  const groups = [...e.groups].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  return html`<div class="window-explanation" data-window=${e.tsMs}>
    <p class="facts">
      <span>Window at ${dateTime(e.tsMs)} · ${e.model.name}@${e.model.version}:</span>
      <span>predicted <b>${e.predicted}</b> with probability <b>${pct(p)}</b>;</span>
      <span>on the baseline row (the reference medians) ${pct(base)}, so the groups add ${pp(e.delta)}.</span>
    </p>
    <div class="two">
      <${Bars}
        name="window-contributions"
        title=${`Each sensor group's contribution to P(${e.predicted}) (exact Shapley values; right raises it, left lowers it)`}
        rows=${groups.map((g) => ({ label: g.group, values: [g.contribution] }))}
        format=${pp}
      />
      <${Bars}
        name="window-probabilities"
        title="Class probabilities: the baseline row, then this window"
        series=${['baseline', 'this window']}
        join=" → "
        domain=${[0, 1]}
        rows=${e.labels.map((l, i) => ({ label: l === e.predicted ? `${l} (predicted)` : l, values: [e.baselineProbabilities[i], e.probabilities[i]] }))}
        format=${pct}
      />
    </div>
    <${TopFeatures} e=${e} />
  </div>`;
}

function ContributionsChart({ c, chosen, onPick }) {
  const series = c.groups.map((g, i) => line(g, i));
  const data = [
    c.points.map((p) => p.tsMs / 1000),
    ...c.groups.map((g) => c.points.map((p) => p.contributions[g] ?? null)),
  ];
  return html`<${Chart}
    title="Each sensor group's contribution to the predicted class's probability, window by window (click a point to explain that window)"
    summary=${`${c.points.length} windows from ${time(c.points[0].tsMs)} to ${time(c.points[c.points.length - 1].tsMs)}, one line per sensor group`}
    data=${data}
    series=${series}
    onPick=${(i) => onPick(c.points[i].tsMs)}
    marker=${chosen / 1000}
  />`;
}

function Contributions({ id, anchor, slow }) {
  const [selected, setSelected] = useState(null);
  useEffect(() => setSelected(null), [id]);
  const r = useApi(
    anchor === null
      ? null
      : `/api/v1/devices/${enc(id)}/contributions?from=${Math.max(0, anchor - HOUR)}&to=${anchor + PAD_MS}&limit=120`,
    [id, slow, anchor === null],
  );
  const points = r.data?.points ?? [];
  // Newest by default; a chosen window stays chosen while the series re-reads.
  const chosen = selected ?? points[points.length - 1]?.tsMs ?? null;
  const w = useApi(
    chosen === null ? null : `/api/v1/devices/${enc(id)}/windows/${chosen}/explanation?top=5`,
    [id, chosen],
    { clear: true },
  );
  if (r.error) return html`<p class="error">${r.error}</p>`;
  if (r.data === null) return html`<p class="muted">Explaining the last hour's windows…</p>`;
  if (points.length === 0)
    return html`<p class="muted">No window with a prediction in the hour before the device was last seen.</p>`;
  return html`
    <${ContributionsChart} c=${r.data} chosen=${chosen} onPick=${setSelected} />
    <div class="filters">
      <label
        >Window
        <select value=${String(chosen)} onChange=${(ev) => setSelected(Number(ev.target.value))}>
          ${[...points].reverse().map((p) => html`<option value=${String(p.tsMs)}>${time(p.tsMs)} · ${p.predicted}</option>`)}
        </select></label
      >
      <button type="button" onClick=${() => setSelected(null)} disabled=${selected === null}>Newest</button>
      ${r.data.skipped > 0 ? html`<span class="muted">${r.data.skipped} window(s) could not be explained</span>` : ''}
    </div>
    ${w.error ? html`<p class="error">${w.error}</p>` : ''}
    ${w.data ? html`<${WindowExplanation} e=${w.data.explanation} />` : w.error ? '' : html`<p class="muted">Explaining the window…</p>`}
  `;
}

function Performance({ id, anchor, firstSeen, slow }) {
  // Six hours at most; the buckets sized to the span the device has data for (only filled ones come back).
  const from = anchor === null ? null : Math.max(0, anchor - 6 * HOUR);
  const span = anchor === null ? 0 : anchor - Math.max(from, firstSeen ?? from);
  const bucketMs = BUCKETS_MS.find((b) => span / b <= 60) ?? HOUR;
  const r = useApi(
    from === null
      ? null
      : `/api/v1/devices/${enc(id)}/performance?from=${from}&to=${anchor + PAD_MS}&bucketMs=${bucketMs}`,
    [id, slow, anchor === null, firstSeen === undefined],
  );
  if (r.error) return html`<p class="error">${r.error}</p>`;
  const d = r.data;
  if (d === null) return html`<p class="muted">Reading…</p>`;
  if (d.buckets.length === 0)
    return html`<p class="muted">No predictions in this range (is a model installed?).</p>`;
  const labelled = d.buckets.some((b) => b.realised !== null);
  const states = Object.entries(d.realisedBy.state);
  const bucket = d.bucketMs >= 60_000 ? `${d.bucketMs / 60_000} min` : `${d.bucketMs / 1000} s`;
  return html`
    ${
      d.calibration.trusted
        ? html`<p class="muted">Calibration: ${d.calibration.reason}.</p>`
        : html`<p class="warn-box" role="note"><span aria-hidden="true">▲</span> The estimate is not trusted: ${d.calibration.reason}.</p>`
    }
    <${Chart}
      title=${`Accuracy per ${bucket}: estimated from the model's probabilities (CBPE) and realised against operator labels`}
      summary=${`${d.buckets.length} buckets; ${labelled ? 'realised accuracy where labels exist' : 'no operator labels'}`}
      data=${[
        d.buckets.map((b) => (b.fromMs + d.bucketMs / 2) / 1000),
        d.buckets.map((b) => b.estimated.accuracy),
        d.buckets.map((b) => b.realised?.accuracy ?? null),
      ]}
      series=${[line('estimated accuracy', 0, { points: { show: true, size: 6 } }), line('realised accuracy', 1, { points: { show: true, size: 6 } })]}
      options=${{ scales: { y: { range: [0, 1] } } }}
    />
    ${labelled ? '' : html`<p class="muted">No operator labels cover these windows, so there is only the estimate.</p>`}
    ${
      states.length > 0
        ? html`<${Bars}
            name="realised-by-state"
            title="Realised accuracy by machine state (operator labels, over the range)"
            domain=${[0, 1]}
            rows=${states.map(([s, v]) => ({ label: `${s} (${v.windows})`, values: [v.accuracy] }))}
            format=${pct}
          />`
        : ''
    }
  `;
}

/** The device view's explanation panels; `tick` advances every 10 s, they re-read every minute. */
export function DeviceExplanations({ id, device, lastSeenMs, tick }) {
  const live = useLive();
  const slow = Math.floor(tick / 6);
  // The range ends where the device was last seen (the collector's clock), so an offline device still
  // shows its last hour; it moves once a minute, not on every tick.
  const anchor = useMemo(
    () => lastSeenMs ?? null,
    [id, slow, lastSeenMs === null || lastSeenMs === undefined],
  );
  if (live.mounted === null) return '';
  if (!live.mounted.registry)
    return html`<section class="panel">
      <h2>Explanations</h2>
      <p class="muted">Explanations run the device's model from the registry; this collector has none mounted (start it with <code>--trusted-key</code>).</p>
    </section>`;
  return html`
    <section class="panel" data-panel="contributions">
      <h2>Why the model predicts what it does</h2>
      <${Contributions} id=${id} anchor=${anchor} slow=${slow} />
    </section>
    <section class="panel" data-panel="performance">
      <h2>Estimated and realised accuracy</h2>
      <${Performance} id=${id} anchor=${anchor} firstSeen=${device?.firstSeenMs} slow=${slow} />
    </section>
  `;
}
