// Models: each model's versions and aliases with their history; for a version, its test report (confusion
// matrix and reliability as charts, permutation importance and per-group performance from model-explain.js)
// and its lineage, from the data it was trained on to the devices that run it now.
import { useState } from 'preact/hooks';
import { html, num, pct, StatusBadge, useApi } from '../lib.js';
import { useLive } from '../live.js';
import { Chart, line } from '../chart.js';
import { ReportExplanations } from './model-explain.js';

const enc = encodeURIComponent;
const short = (d) => (typeof d === 'string' ? d.replace(/^sha256:/, '').slice(0, 12) : '—');

function Confusion({ classes, m }) {
  const max = Math.max(1, ...m.flat());
  return html`<figure class="chart">
    <figcaption>Confusion matrix on the test partition (rows: actual, columns: predicted)</figcaption>
    <table class="confusion" aria-label="Confusion matrix">
      <thead>
        <tr>
          <th scope="col">actual \\ predicted</th>
          ${classes.map((c) => html`<th scope="col">${c}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${m.map(
          (row, i) =>
            html`<tr>
              <th scope="row">${classes[i]}</th>
              ${row.map((v, j) => html`<td class=${i === j ? 'diag' : v > 0 ? 'off' : ''} style=${`--a:${(v / max).toFixed(3)}`}>${v}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}

function Reliability({ bins, ece }) {
  const used = bins.filter((b) => b.count > 0);
  if (used.length === 0) return '';
  const x = used.map((b) => b.confidence);
  return html`<${Chart}
    title=${`Reliability: accuracy against confidence (a calibrated model follows the diagonal; ECE ${num(ece)})`}
    data=${[x, used.map((b) => b.accuracy), x]}
    series=${[line('accuracy', 0, { points: { show: true, size: 7 } }), { label: 'perfect calibration', stroke: '#888', dash: [4, 4], width: 1 }]}
    options=${{ scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } } }}
  />`;
}

function Lineage({ lin, devices }) {
  const datasets = lin.datasets ?? [];
  const rt = lin.retraining;
  return html`<div class="flow" aria-label="Lineage from data to devices">
    <div class="node">
      <h4>Data</h4>
      <ul>
        ${datasets.map((d) => html`<li>${d.role ?? d.name ?? d.source ?? 'dataset'}: ${d.rows ?? '?'} rows · ${short(d.digest ?? d.sha256)}</li>`)}
      </ul>
      ${
        rt
          ? html`<p>Retrained by job ${rt.trainingJob ?? '—'} for update request ${rt.updateRequest ?? '—'}</p>
        <p>Captured: ${(rt.captured ?? []).map((c) => `${c.deviceId} ${c.windows} windows (${short(c.digest)})`).join(', ') || 'none'}</p>
        <p>Label sources: ${(rt.labelSources ?? []).map((l) => `${l.source} ${l.rows} rows`).join(', ') || '—'}</p>`
          : ''
      }
    </div>
    <div class="arrow" aria-hidden="true">→</div>
    <div class="node">
      <h4>Training run</h4>
      <p>
        ${lin.run.origin ?? ''} code ${short(lin.run.code?.commit ?? lin.run.code?.digest ?? lin.run.code)}
      </p>
      <p>${Array.isArray(lin.run.trials) ? lin.run.trials.length : '?'} trial(s) · ${lin.run.startedAt ?? ''}</p>
    </div>
    <div class="arrow" aria-hidden="true">→</div>
    <div class="node">
      <h4>Bundle ${lin.version}</h4>
      <p>manifest ${short(lin.bundle.manifestDigest)} · pushed by ${lin.bundle.pushedBy}</p>
      <p>aliases: ${lin.aliases.current.join(', ') || 'none'}</p>
    </div>
    <div class="arrow" aria-hidden="true">→</div>
    <div class="node">
      <h4>Devices (${devices.length})</h4>
      <p>
        ${devices.slice(0, 20).map((d) => html`<a href=${`#/devices/${enc(d)}`}>${d}</a> `)}${devices.length > 20 ? `and ${devices.length - 20} more` : ''}
      </p>
    </div>
  </div>`;
}

function Version({ name, version, hasReport }) {
  const live = useLive();
  // Bring-your-own bundles may have no test report: ask only when the version lists one.
  const report = useApi(
    hasReport ? `/api/v1/models/${enc(name)}/versions/${enc(version)}/files/report.json` : null,
    [name, version, hasReport],
    { clear: true },
  );
  const lineage = useApi(`/api/v1/models/${enc(name)}/versions/${enc(version)}/lineage`, [name, version], {
    clear: true,
  });
  const r = report.data;
  const devices = [...live.devices.values()]
    .filter((d) => d.model?.name === name && d.model?.version === version)
    .map((d) => d.deviceId);
  return html`<section class="panel" data-version=${version}>
    <h2>${name}@${version}</h2>
    ${report.error ? html`<p class="error">${report.error}</p>` : ''}
    ${hasReport ? '' : html`<p class="muted">This version's bundle has no test report (report.json).</p>`}
    ${
      r
        ? html`<p class="facts">
              accuracy ${pct(r.metrics.accuracy)} · macro-F1 ${num(r.metrics.macroF1)} · ${r.rows} test rows ·
              p99 latency ${num(r.latency?.p99Ms)} ms
            </p>
            <div class="two">
              <${Confusion} classes=${r.classes} m=${r.metrics.confusion} /><${Reliability}
                bins=${r.calibration.bins}
                ece=${r.calibration.ece}
              />
            </div>
            <${ReportExplanations} r=${r} />`
        : ''
    }
    ${lineage.error ? html`<p class="error">${lineage.error}</p>` : ''}
    ${
      lineage.data
        ? html`<h3>Lineage</h3>
            <${Lineage} lin=${lineage.data} devices=${devices} />`
        : ''
    }
  </section>`;
}

export function ModelsView({ name }) {
  const live = useLive();
  const on = live.mounted?.registry === true;
  const models = useApi(on ? '/api/v1/models' : null, [on], { clear: true });
  const chosen = name ?? models.data?.models?.[0]?.name;
  const versions = useApi(chosen ? `/api/v1/models/${enc(chosen)}/versions` : null, [chosen], {
    clear: true,
  });
  const history = useApi(chosen ? `/api/v1/models/${enc(chosen)}/history` : null, [chosen], { clear: true });
  const [version, setVersion] = useState(null);
  const list = versions.data?.versions ?? [];
  const shown =
    version ?? list.find((v) => v.aliases.includes('production'))?.version ?? list[list.length - 1]?.version;
  if (live.mounted && !on)
    return html`<h1 tabindex="-1">Models</h1>
      <p>This collector has no registry mounted (start it with <code>--trusted-key</code>).</p>`;
  if (models.error)
    return html`<h1 tabindex="-1">Models</h1>
      <p class="error">${models.error}</p>`;
  return html`
    <h1 tabindex="-1">Models</h1>
    <nav aria-label="Models" class="filters">
      ${(models.data?.models ?? []).map((m) => html`<a href=${`#/models/${enc(m.name)}`} aria-current=${m.name === chosen ? 'page' : undefined}>${m.name}</a> `)}
    </nav>
    ${
      chosen
        ? html`<table class="grid" aria-label=${`Versions of ${chosen}`}>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Pushed</th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                ${list.map(
                  (v) =>
                    html`<tr key=${v.version}>
                      <th scope="row">
                        <button
                          type="button"
                          class="link"
                          aria-pressed=${v.version === shown}
                          onClick=${() => setVersion(v.version)}
                        >
                          ${v.version}
                        </button>
                      </th>
                      <td>${v.aliases.map((a) => html`<${StatusBadge} word=${a} /> `)}</td>
                      <td>${v.createdAt}</td>
                      <td>${v.pushedBy}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            <section class="panel">
              <h2>Alias history</h2>
              <ol class="events">
                ${(history.data?.history ?? []).map((h) => html`<li>${h.at} · <b>${h.alias}</b> ${h.from ?? '—'} → ${h.to} by ${h.actor}: ${h.reason}</li>`)}
              </ol>
            </section>
            ${
              shown
                ? html`<${Version}
                  name=${chosen}
                  version=${shown}
                  hasReport=${list.find((v) => v.version === shown)?.files.some((f) => f.path === 'report.json') === true}
                />`
                : ''
            }`
        : html`<p>No models in the registry yet (<code>edgeloop registry push</code>).</p>`
    }
  `;
}
