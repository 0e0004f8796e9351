// Fleet: every device with its connection, model, integrity, drift and live alerts; sortable by any column,
// filtered by text and by problem, rendered in pages so 1,000 devices stay quick.
import { useMemo, useState } from 'preact/hooks';
import { ago, html, StatusBadge } from '../lib.js';
import { useLive } from '../live.js';

const columns = [
  ['deviceId', 'Device', (d) => d.deviceId],
  ['state', 'Connection', (d) => d.state],
  ['model', 'Model', (d) => (d.model ? `${d.model.name}@${d.model.version}` : '')],
  ['integrity', 'Integrity', (d) => ({ fail: 0, suspect: 1, good: 2 })[d.integrity] ?? 3],
  ['drift', 'Drift', (d) => ({ drift: 0, learning: 1, ok: 2 })[d.drift] ?? 3],
  ['lastSeenMs', 'Last seen', (d) => -d.lastSeenMs],
  ['alerts', 'Live alerts', (d) => -d.alerts],
];

const problems = {
  all: () => true,
  problems: (d) =>
    d.state !== 'online' || d.integrity === 'fail' || d.integrity === 'suspect' || d.drift === 'drift',
  offline: (d) => d.state !== 'online',
  integrity: (d) => d.integrity === 'fail' || d.integrity === 'suspect',
  drift: (d) => d.drift === 'drift',
};

const PAGE = 200;

export function FleetView() {
  const live = useLive();
  const [sort, setSort] = useState(['deviceId', 1]);
  const [text, setText] = useState('');
  const [show, setShow] = useState('all');
  const [limit, setLimit] = useState(PAGE);
  const all = [...live.devices.values()];
  const rows = useMemo(() => {
    const key = columns.find((c) => c[0] === sort[0])[2];
    const t = text.trim().toLowerCase();
    return all
      .filter(problems[show])
      .filter(
        (d) =>
          t === '' ||
          `${d.deviceId} ${d.model?.name ?? ''}@${d.model?.version ?? ''}`.toLowerCase().includes(t),
      )
      .sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort[1];
      });
  }, [live.version, sort, text, show]);
  const count = (f) => all.filter(f).length;
  return html`
    <h1 tabindex="-1">Fleet</h1>
    <section class="tiles" aria-label="Fleet summary">
      <div class="tile"><b>${all.length}</b> devices</div>
      <div class="tile"><b>${count((d) => d.state === 'online')}</b> online</div>
      <div class="tile ${count(problems.offline) ? 'warn' : ''}">
        <b>${count(problems.offline)}</b> not online
      </div>
      <div class="tile ${count(problems.integrity) ? 'bad' : ''}">
        <b>${count(problems.integrity)}</b> integrity problems
      </div>
      <div class="tile ${count(problems.drift) ? 'bad' : ''}"><b>${count(problems.drift)}</b> drifting</div>
    </section>
    <div class="filters">
      <label
        >Filter
        <input
          type="search"
          value=${text}
          onInput=${(e) => setText(e.target.value)}
          placeholder="device or model"
      /></label>
      <label
        >Show
        <select value=${show} onChange=${(e) => setShow(e.target.value)}>
          <option value="all">all devices</option>
          <option value="problems">devices with a problem</option>
          <option value="offline">not online</option>
          <option value="integrity">integrity problems</option>
          <option value="drift">drifting</option>
        </select></label
      >
      <span role="status">${rows.length} shown</span>
    </div>
    <table class="grid" aria-label="Devices">
      <thead>
        <tr>
          ${columns.map(
            ([k, label]) =>
              html`<th
                scope="col"
                aria-sort=${sort[0] === k ? (sort[1] > 0 ? 'ascending' : 'descending') : 'none'}
              >
                <button type="button" onClick=${() => setSort([k, sort[0] === k ? -sort[1] : 1])}>
                  ${label} <span aria-hidden="true">${sort[0] === k ? (sort[1] > 0 ? '▲' : '▼') : '↕'}</span>
                </button>
              </th>`,
          )}
        </tr>
      </thead>
      <tbody>
        ${rows.slice(0, limit).map(
          (d) =>
            html`<tr key=${d.deviceId} data-device=${d.deviceId}>
              <th scope="row"><a href=${`#/devices/${encodeURIComponent(d.deviceId)}`}>${d.deviceId}</a></th>
              <td><${StatusBadge} word=${d.state} /></td>
              <td>${d.model ? `${d.model.name}@${d.model.version}` : '—'}</td>
              <td>
                <${StatusBadge} word=${d.integrity ?? 'unknown'} title=${d.integrityIssues.join(', ')} />
                ${d.integrityIssues.length > 0 ? html`<small> ${d.integrityIssues.join(', ')}</small>` : ''}
              </td>
              <td>
                <${StatusBadge} word=${d.drift ?? 'unknown'} />
                ${d.driftGroups.length > 0 ? html`<small> ${d.driftGroups.join(', ')}</small>` : ''}
              </td>
              <td>${ago(d.lastSeenMs)}</td>
              <td>${d.alerts > 0 ? html`<a href="#/alerts">${d.alerts}</a>` : '0'}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      rows.length > limit
        ? html`<button type="button" class="more" onClick=${() => setLimit(limit + PAGE)}>
            Show ${Math.min(PAGE, rows.length - limit)} more of ${rows.length - limit}
          </button>`
        : ''
    }
  `;
}
