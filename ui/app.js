// Boot: the token (from `#token=...`, local storage or the dialog), the view state in the URL,
// the tabs, and the three panels.

import * as api from './api.js';
import { createJobs } from './jobs.js';
import { createRepositories } from './repositories.js';
import { createSearch } from './search.js';
import { TABS, format, parse } from './state.js';
import { startTicking } from './time.js';

const $ = (selector) => document.querySelector(selector);

function takeTokenFromAddress() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token === null) return;
  if (token.trim()) api.setToken(token.trim());
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}

function tokenDialog() {
  const dialog = $('#token-dialog');
  const form = $('#token-form');
  const input = $('#token-input');
  const reason = $('#token-reason');
  let resolve = null;
  dialog.addEventListener('cancel', (event) => event.preventDefault());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    api.setToken(token);
    input.value = '';
    dialog.close();
    resolve?.(token);
  });
  return (message) => new Promise((done) => {
    resolve = done;
    reason.textContent = message;
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

function main() {
  takeTokenFromAddress();
  api.onUnauthorized(tokenDialog());

  let state = parse(location.hash);
  const getState = () => state;
  const tabs = TABS.map((name) => ({ name, tab: $(`#tab-${name}`), panel: $(`#panel-${name}`) }));
  const badge = $('#jobs-badge');
  const ask = $('#ask-input');

  function navigate(patch, { replace = false } = {}) {
    state = { ...state, ...patch };
    if (state.job) state.tab = 'jobs';
    const hash = format(state);
    if (hash !== location.hash) history[replace ? 'replaceState' : 'pushState'](null, '', hash);
    render();
  }

  const jobs = createJobs({
    panel: $('#panel-jobs'),
    getState,
    navigate,
    onCounts(counts) {
      // As "Running Jobs" counts them: running and queued.
      const running = counts?.running ?? 0;
      const queued = counts?.queued ?? 0;
      badge.textContent = String(running + queued);
      badge.hidden = running + queued === 0;
      badge.title = `${running} running, ${queued} queued`;
      document.title = running + queued ? `(${running + queued}) docs-ingest` : 'docs-ingest';
    },
  });
  const search = createSearch({ panel: $('#panel-search') });
  const repositories = createRepositories({
    panel: $('#panel-repositories'),
    getState,
    navigate,
    onList: (list) => jobs.setRepositories(list),
  });

  function render() {
    for (const { name, tab, panel } of tabs) {
      const selected = name === state.tab;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      panel.hidden = !selected;
    }
    if (document.activeElement !== ask) ask.value = state.q;
    jobs.apply(state);
    search.apply(state);
    repositories.apply(state);
  }

  for (const [index, { name, tab }] of tabs.entries()) {
    tab.addEventListener('click', () => navigate({ tab: name, job: null }));
    tab.addEventListener('keydown', (event) => {
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
      next.tab.focus();
      navigate({ tab: next.name, job: null });
    });
  }

  $('#ask-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const question = ask.value.trim();
    if (question) navigate({ tab: 'search', q: question, job: null });
  });

  window.addEventListener('popstate', () => {
    state = parse(location.hash);
    render();
  });
  window.addEventListener('hashchange', () => {
    const next = parse(location.hash);
    if (format(next) !== format(state)) {
      state = next;
      render();
    }
  });

  history.replaceState(null, '', format(state));
  render();
  startTicking();
}

main();
