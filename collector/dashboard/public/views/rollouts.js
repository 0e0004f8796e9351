// Rollouts: the list, and one rollout's phases, its devices by state, each analysis with its figures and
// verdict, and why it rolled back or paused.
import { useEffect, useState } from 'preact/hooks';
import { api, dateTime, html, num, pct, StatusBadge, toneOf } from '../lib.js';
import { useLive } from '../live.js';

const deviceStates = [
  'pending',
  'installing',
  'committed',
  'rolled_back',
  'failed',
  'timed_out',
  'reverting',
  'reverted',
  'untouched',
];

/** Devices per state as one stacked bar, each part labelled with its state and count (not colour alone). */
function StateBar({ counts }) {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  const total = entries.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return html`<span class="muted">no devices</span>`;
  entries.sort((a, b) => deviceStates.indexOf(a[0]) - deviceStates.indexOf(b[0]));
  return html`<div class="stack" role="img" aria-label=${entries.map(([s, n]) => `${n} ${s}`).join(', ')}>
    ${entries.map(([s, n]) => html`<span class=${`part ${toneOf(s)}`} style=${`flex:${n}`} title=${`${n} ${s}`}>${n} ${s}</span>`)}
  </div>`;
}

export function RolloutsView() {
  const live = useLive();
  const rows = [...live.rollouts.values()].sort(
    (a, b) => (b.createdMs ?? 0) - (a.createdMs ?? 0) || b.id.localeCompare(a.id),
  );
  const jobs = [...live.jobs.values()].filter((j) => j.state === 'running' || j.state === 'queued');
  return html`
    <h1 tabindex="-1">Rollouts</h1>
    ${jobs.map(
      (j) =>
        html`<p class="job">
          Retraining ${j.id} (${j.candidateVersion}):
          ${j.progress ? `${j.progress.phase}, ${j.progress.message}` : j.state}
          ${j.progress && j.progress.of > 0 ? html` <progress max=${j.progress.of} value=${j.progress.done}>${j.progress.done} of ${j.progress.of}</progress>` : ''}
        </p>`,
    )}
    ${
      rows.length === 0
        ? html`<p>
            No rollouts yet. They start from an update request, or with <code>edgeloop rollout start</code>.
          </p>`
        : html`<table class="grid" aria-label="Rollouts">
            <thead>
              <tr>
                <th scope="col">Rollout</th>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col">Phase</th>
                <th scope="col">Devices</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (r) =>
                  html`<tr key=${r.id} data-rollout=${r.id}>
                    <th scope="row"><a href=${`#/rollouts/${encodeURIComponent(r.id)}`}>${r.id}</a></th>
                    <td>${r.model} ${r.fromVersion ?? '—'} → ${r.toVersion}</td>
                    <td><${StatusBadge} word=${r.state} /></td>
                    <td>${r.currentPhase}</td>
                    <td><${StateBar} counts=${r.counts} /></td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  `;
}

function Side({ name, s }) {
  if (!s) return '';
  return html`<tr>
    <th scope="row">${name}</th>
    <td>${s.windows}</td>
    <td>${pct(s.inferenceFailureRate)}</td>
    <td>${num(s.latencyP95Ms)} ms</td>
    <td>${num(s.meanConfidence)}</td>
    <td>
      ${
        Object.entries(s.mix ?? {})
          .map(([k, v]) => `${k} ${pct(v)}`)
          .join(', ') || '—'
      }
    </td>
  </tr>`;
}

function Analysis({ a, phase }) {
  const f = a.figures ?? {};
  return html`<article class=${`analysis ${toneOf(a.verdict)}`} data-analysis=${a.id}>
    <h3>
      Analysis of ${phase?.name ?? `phase ${a.phase}`}: <${StatusBadge} word=${a.verdict} />
      <small>${dateTime(a.atMs)}</small>
    </h3>
    ${
      a.reasons.length > 0
        ? html`<ul class="reasons">
            ${a.reasons.map((r) => html`<li>${r}</li>`)}
          </ul>`
        : ''
    }
    <ul class="checks">
      ${a.checks.map((c) => html`<li><${StatusBadge} word=${c.status} /> <b>${c.name}</b>: ${c.detail}</li>`)}
    </ul>
    ${
      f.before
        ? html`<table class="grid small" aria-label="Analysis figures">
              <thead>
                <tr>
                  <th scope="col">Devices</th>
                  <th scope="col">Windows</th>
                  <th scope="col">Inference failures</th>
                  <th scope="col">p95 latency</th>
                  <th scope="col">Mean confidence</th>
                  <th scope="col">Prediction mix</th>
                </tr>
              </thead>
              <tbody>
                <${Side} name="phase, before" s=${f.before} /><${Side}
                  name="phase, after"
                  s=${f.after}
                /><${Side} name="still on the old model" s=${f.control} />
              </tbody>
            </table>
            <p class="muted">
              Drift (W1 ÷ threshold): old reference before ${num(f.drift?.oldReferenceBefore)}, new reference
              after ${num(f.drift?.newReferenceAfter)}, old-model peers ${num(f.drift?.oldReferenceControl)}.
            </p>`
        : ''
    }
  </article>`;
}

export function RolloutView({ id }) {
  const live = useLive();
  const summary = live.rollouts.get(id);
  const [r, setR] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/api/v1/rollouts/${encodeURIComponent(id)}`)
      .then((b) => setR(b.rollout))
      .catch((e) => setError(e.message));
  }, [id, summary?.updatedMs, summary?.state]);
  if (error)
    return html`<h1 tabindex="-1">Rollout ${id}</h1>
      <p class="error">${error}</p>`;
  if (!r)
    return html`<h1 tabindex="-1">Rollout ${id}</h1>
      <p>Loading…</p>`;
  const rollback = r.events.filter((e) => /roll|abort|fail|pause/i.test(e.kind));
  return html`
    <h1 tabindex="-1">Rollout ${r.id}</h1>
    <p class="facts">
      ${r.model} ${r.fromVersion ?? '—'} → ${r.toVersion} · <${StatusBadge} word=${r.state} /> · started ${dateTime(r.createdMs)} by ${r.actor} ${r.reason ? ` · ${r.reason}` : ''}
    </p>
    ${r.pauseReason ? html`<p class="warn-text">Paused: ${r.pauseReason}</p>` : ''}
    ${r.production ? html`<p>Production alias: ${r.production.moved ? `moved from ${r.production.from ?? '—'} to ${r.toVersion}` : `not moved (${r.production.message})`}</p>` : ''}
    <section class="panel">
      <h2>Devices by state</h2>
      <${StateBar} counts=${r.counts} />
    </section>
    <section class="panel">
      <h2>Phases</h2>
      <ol class="phases">
        ${r.phases.map(
          (p) =>
            html`<li data-phase=${p.index}>
              <b>${p.name}</b> <${StatusBadge} word=${p.verdict ?? p.state} /> · ${p.devices.length} device(s)${p.percent !== null ? ` (${p.percent} %)` : ''} · bake ${p.bakeS} s <br /><small
                >${p.devices.slice(0, 12).join(', ')}${p.devices.length > 12 ? ` and ${p.devices.length - 12} more` : ''}</small
              >
            </li>`,
        )}
      </ol>
    </section>
    <section class="panel">
      <h2>Analyses</h2>
      ${r.analyses.length === 0 ? html`<p class="muted">None yet: a phase is analysed after its bake time.</p>` : r.analyses.map((a) => html`<${Analysis} a=${a} phase=${r.phases[a.phase]} />`)}
    </section>
    ${
      rollback.length > 0
        ? html`<section class="panel">
            <h2>Rollback, abort and pause reasons</h2>
            <ul>
              ${rollback.map((e) => html`<li>${dateTime(e.atMs)} ${e.kind}: ${e.message}</li>`)}
            </ul>
          </section>`
        : ''
    }
    <section class="panel">
      <h2>History</h2>
      <ul class="events">
        ${r.events.map((e) => html`<li>${dateTime(e.atMs)} · ${e.actor} · ${e.kind}: ${e.message}</li>`)}
      </ul>
    </section>
  `;
}
