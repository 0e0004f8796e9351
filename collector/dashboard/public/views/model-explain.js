// The explanations a version's test report carries (report.json, docs/explanations.md "Test reports"):
// permutation importance per sensor group and per feature, with its spread over the repeats, and the test
// accuracy per device and per machine state, groups below the flagging margin highlighted.
import { html, num, pct } from '../lib.js';
import { Bars } from '../bars.js';

const TOP_FEATURES = 15;

function Importance({ imp }) {
  const title = (what) =>
    `Permutation importance per ${what}: the drop in test ${imp.metric} when it is shuffled (mean ± std over ${imp.repeats} repeats; baseline ${num(imp.baseline)}, ${imp.rows} rows)`;
  const rows = (list) => list.map((x) => ({ label: x.name, values: [x.mean], err: [x.std] }));
  return html`<div class="two">
    <${Bars} name="importance-groups" title=${title('sensor group')} rows=${rows(imp.groups)} />
    <${Bars}
      name="importance-features"
      title=${`${title('feature')}, the top ${Math.min(TOP_FEATURES, imp.features.length)} of ${imp.features.length}`}
      rows=${rows(imp.features.slice(0, TOP_FEATURES))}
    />
  </div>`;
}

function GroupPerformance({ gp }) {
  const flagged = new Set(gp.flagged.map((g) => `${g.kind}:${g.name}`));
  const rows = (list) =>
    list.map((g) => ({
      label: `${g.name} (${g.rows})`,
      values: [g.accuracy],
      flag: flagged.has(`${g.kind}:${g.name}`) ? 'flagged' : undefined,
      title: `accuracy ${pct(g.accuracy)}, macro-F1 ${num(g.macroF1)}, ${pct(Math.abs(g.gap))} ${g.gap >= 0 ? 'below' : 'above'} overall`,
    }));
  const markers = [
    { at: gp.accuracy, label: `overall accuracy ${pct(gp.accuracy)}` },
    {
      at: gp.accuracy - gp.margin,
      label: `flagged below ${pct(gp.accuracy - gp.margin)} (margin ${pct(gp.margin)})`,
    },
  ];
  const chart = (name, what, list) =>
    list.length > 0
      ? html`<${Bars}
          name=${name}
          title=${`Test accuracy per ${what} (rows in brackets)`}
          rows=${rows(list)}
          domain=${[0, 1]}
          format=${pct}
          markers=${markers}
        />`
      : '';
  return html`
    <p class=${gp.flagged.length > 0 ? 'warn-box' : 'muted'}>
      ${
        gp.flagged.length > 0
          ? html`<span aria-hidden="true">▲</span> ${gp.flagged.length} group(s) more than ${pct(gp.margin)} below the
              overall accuracy: ${gp.flagged.map((g) => `${g.kind} ${g.name} (${pct(g.accuracy)})`).join(', ')}.`
          : `No device or state is more than ${pct(gp.margin)} below the overall accuracy.`
      }
      ${gp.worstDevice ? ` Worst device ${gp.worstDevice.name} (${pct(gp.worstDevice.accuracy)}).` : ''}
      ${gp.worstState ? ` Worst state ${gp.worstState.name} (${pct(gp.worstState.accuracy)}).` : ''}
    </p>
    <div class="two">${chart('accuracy-devices', 'device', gp.devices)}${chart('accuracy-states', 'machine state', gp.states)}</div>
  `;
}

/** Importance and per-group performance from a test report, or why there are none. */
export function ReportExplanations({ r }) {
  if (!r.importance && !r.groupPerformance)
    return html`<p class="muted" data-explanations="none">No explanations in this version's report (no importance or per-group performance).</p>`;
  return html`<div data-explanations="report">
    ${
      r.importance
        ? html`<h3>Which inputs the model relies on</h3>
            <${Importance} imp=${r.importance} />`
        : html`<p class="muted">No permutation importance in this version's report.</p>`
    }
    ${
      r.groupPerformance
        ? html`<h3>Performance per group</h3>
            <${GroupPerformance} gp=${r.groupPerformance} />`
        : html`<p class="muted">No per-group performance in this version's report.</p>`
    }
  </div>`;
}
