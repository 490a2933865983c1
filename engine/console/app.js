// The console's shell: picks the page from the address, keeps the navigation current, and
// refreshes the page every few seconds unless paused or hidden.
//
// A page module exports `mount(root, ctx)` and returns {update(params), refresh(), live(),
// unmount()} (each optional). `update` gets the new query when only the query changed; `refresh`
// is called by the live timer and may return a promise; `live()` says whether refreshing can
// still change anything (the Live switch shows only then); ctx = {params, go, setTitle}.

import { queryString } from './api.js';
import * as apps from './apps.js';
import { h, errorBox, setText, show } from './dom.js';
import * as events from './events.js';
import * as functions from './functions.js';
import * as run from './run.js';
import * as runs from './runs.js';
import { startTicking } from './time.js';

// Every page is loaded with the shell, so moving between pages never needs the engine to answer.
const MODULES = { runs, run, events, functions, apps };
const PAGES = {
  '/': 'runs',
  '/runs': 'runs',
  '/run': 'run',
  '/events': 'events',
  '/functions': 'functions',
  '/apps': 'apps',
};
const SECTION = { runs: 'runs', run: 'runs', events: 'events', functions: 'functions', apps: 'apps' };
const REFRESH_MS = 2000;
const PAUSED_KEY = 'engine-console.paused';

const main = document.getElementById('main');
const liveToggle = document.getElementById('live-toggle');
const liveLabel = document.getElementById('live-label');
const connection = document.getElementById('connection');

let current = null; // {name, page}
let paused = localStorage.getItem(PAUSED_KEY) === '1';
let timer = null;
let refreshing = false;
let offline = false;

/** Go to a console address: `go('/runs', {status: ['failed']})`; empty values are left out. */
export function go(path, params = {}, { replace = false } = {}) {
  const url = path + queryString(params);
  if (url !== location.pathname + location.search) {
    history[replace ? 'replaceState' : 'pushState'](null, '', url);
  }
  render();
}

function setTitle(text) {
  document.title = text ? `${text} · Inngest engine` : 'Inngest engine';
}

function render() {
  const name = PAGES[location.pathname] ?? null;
  const params = new URLSearchParams(location.search);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === SECTION[name]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current && current.name === name) {
    current.page.update?.(params);
    return;
  }
  current?.page.unmount?.();
  current = null;
  main.replaceChildren();
  if (!name) {
    setTitle('Not found');
    main.append(h('h1', { class: 'page-title', text: 'Nothing here' }), errorBox(`The console has no page at ${location.pathname}.`));
    return;
  }
  const root = h('div', { class: `page page-${name}` });
  main.append(root);
  current = { name, page: MODULES[name].mount(root, { params, go, setTitle }) ?? {} };
  showLive();
}

function showLive() {
  const page = current?.page;
  const live = Boolean(page?.refresh) && (page.live?.() ?? true);
  show(liveToggle, live);
  liveToggle.setAttribute('aria-pressed', String(!paused));
  liveToggle.classList.toggle('is-offline', offline && !paused);
  setText(liveLabel, paused ? 'Paused' : offline ? 'Reconnecting' : 'Live');
  liveToggle.title = paused ? 'Resume auto-refresh' : 'Pause auto-refresh';
}

/** Refresh the page now, then every REFRESH_MS while it is visible and not paused. */
async function tick() {
  clearTimeout(timer);
  timer = null;
  if (paused || document.hidden) return; // visibilitychange or the toggle starts it again
  const page = current?.page;
  if (page?.refresh && !refreshing) {
    refreshing = true;
    try {
      await page.refresh();
      offline = false;
      setText(connection, '');
    } catch (exc) {
      offline = exc.status === 0;
      setText(connection, offline ? 'The engine cannot be reached; retrying.' : exc.message);
    } finally {
      showLive();
      refreshing = false;
    }
  }
  timer ??= setTimeout(tick, REFRESH_MS);
}

liveToggle.addEventListener('click', () => {
  paused = !paused;
  localStorage.setItem(PAUSED_KEY, paused ? '1' : '0');
  showLive();
  if (paused) clearTimeout(timer);
  else tick();
});

document.addEventListener('visibilitychange', () => {
  if (document.hidden) clearTimeout(timer);
  else tick();
});

// Links inside the console move between pages without a reload; new-tab clicks stay native.
document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname in PAGES)) return;
  event.preventDefault();
  history.pushState(null, '', url.pathname + url.search);
  render();
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener('popstate', render);

startTicking();
render();
timer = setTimeout(tick, REFRESH_MS);
