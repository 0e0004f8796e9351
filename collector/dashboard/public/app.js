// The dashboard's shell: the navigation, the connection state and a hash router over the five views.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './lib.js';
import { useLive } from './live.js';
import { FleetView } from './views/fleet.js';
import { AlertsView } from './views/alerts.js';
import { DeviceView } from './views/device.js';
import { RolloutsView, RolloutView } from './views/rollouts.js';
import { ModelsView } from './views/models.js';

function useRoute() {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'fleet').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => {
      setRoute(read());
      // Move focus to the new view's heading, for keyboard and screen-reader users.
      requestAnimationFrame(() => document.querySelector('main h1')?.focus());
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const tabs = [
  ['fleet', 'Fleet'],
  ['alerts', 'Alerts'],
  ['rollouts', 'Rollouts'],
  ['models', 'Models'],
];

function App() {
  const live = useLive();
  const [view, id] = useRoute();
  const open = [...live.alerts.values()].filter((a) => a.state === 'open').length;
  let body;
  if (view === 'devices' && id) body = html`<${DeviceView} id=${id} />`;
  else if (view === 'alerts') body = html`<${AlertsView} />`;
  else if (view === 'rollouts' && id) body = html`<${RolloutView} id=${id} />`;
  else if (view === 'rollouts') body = html`<${RolloutsView} />`;
  else if (view === 'models') body = html`<${ModelsView} name=${id} />`;
  else body = html`<${FleetView} />`;
  const current = view === 'devices' ? 'fleet' : view;
  return html`
    <a
      class="skip"
      href="#main"
      onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >Skip to content</a
    >
    <header class="top">
      <span class="brand">edgeloop</span>
      <nav aria-label="Views">
        ${tabs.map(
          ([k, label]) =>
            html`<a href=${`#/${k}`} aria-current=${current === k ? 'page' : undefined}
              >${label}${k === 'alerts' && open > 0 ? html` <span class="count">${open}</span>` : ''}</a
            >`,
        )}
      </nav>
      <span class=${`conn ${live.connected ? 'ok' : 'bad'}`} role="status">
        ${live.connected ? '● live' : '○ reconnecting…'}
      </span>
    </header>
    <main id="main" tabindex="-1">${body}</main>
  `;
}

render(html`<${App} />`, document.getElementById('app'));
