// The Jobs tab: filters (status chips with counts, repository, text), "Running Jobs" and
// "Completed Jobs", selection with bulk retry/cancel, and the details view of one job.
// It polls every 3 s while the page is visible.

import * as api from './api.js';
import { JobCard, STATUS_LABEL, isActive } from './card.js';
import { createDetails } from './details.js';
import { confirmAction, h, setText, show, toast } from './dom.js';
import { createPoller } from './live.js';
import { JobSection } from './sections.js';
import { ACTIVE_STATUSES, DONE_STATUSES, JOB_STATUSES, format, jobFilter } from './state.js';
import { setRelative } from './time.js';

const TEXT_DELAY_MS = 300;

const filtered = (state) => state.status.length > 0 || state.repo !== null || state.text !== '';

export function createJobs({ panel, getState, navigate, onCounts }) {
  const cards = new Map();
  const selected = new Set();
  let selectAllMatching = false;
  let counts = null;
  let filterKey = null;
  let generation = 0;

  const el = (id) => panel.querySelector(`#${id}`);
  const listView = el('jobs-list-view');
  const chips = el('status-chips');
  const repoSelect = el('repo-filter');
  const textInput = el('job-text');
  const liveNote = el('live-note');
  const checkedAt = el('live-checked');
  const selectionBar = el('selection-bar');
  const selectShown = el('select-shown');
  const selectionText = el('selection-text');
  const matchAll = el('select-matching');
  const outcomes = el('bulk-outcomes');
  const loadError = el('jobs-error');
  const announcer = el('jobs-announcer');
  const nothing = el('jobs-empty');
  const nothingText = el('jobs-empty-text');
  const nothingAction = el('jobs-empty-action');
  nothingAction.addEventListener('click', () => {
    if (filtered(getState())) navigate({ status: [], repo: null, text: '' }, { replace: true });
    else navigate({ tab: 'repositories' });
  });

  const detailsHref = (id) => format({ ...getState(), tab: 'jobs', job: id, files: [] });
  const open = (id) => navigate({ tab: 'jobs', job: id, files: [] });
  const handlers = { onOpen: open, onRetry: retry, onCancel: cancel, onSelect: choose, detailsHref };

  const active = new JobSection({
    title: 'Running Jobs',
    statuses: ACTIVE_STATUSES,
    emptyText: 'Nothing is running.',
    cards,
    onLoaded: (data) => afterLoad(data),
  });
  const done = new JobSection({
    title: 'Completed Jobs',
    statuses: DONE_STATUSES,
    emptyText: 'No finished jobs match.',
    cards,
    onLoaded: (data) => afterLoad(data),
  });
  el('job-sections').append(active.el, done.el);

  const details = createDetails({ root: el('job-details'), getState, navigate, retry, cancel });
  const poller = createPoller(refresh);

  // Filters -----------------------------------------------------------------------------------
  const chipButtons = new Map();
  const allChip = h('button', { type: 'button', class: 'chip-toggle', 'aria-pressed': 'true' }, 'All', h('span', { class: 'count' }));
  allChip.addEventListener('click', () => navigate({ status: [] }, { replace: true }));
  chips.append(allChip);
  for (const status of JOB_STATUSES) {
    const button = h('button', { type: 'button', class: 'chip-toggle', dataset: { status } },
      STATUS_LABEL[status], h('span', { class: 'count' }));
    button.addEventListener('click', () => {
      const current = getState().status;
      const next = current.includes(status) ? current.filter((s) => s !== status) : [...current, status];
      navigate({ status: JOB_STATUSES.filter((s) => next.includes(s)) }, { replace: true });
    });
    chipButtons.set(status, button);
    chips.append(button);
  }
  repoSelect.addEventListener('change', () => navigate({ repo: Number(repoSelect.value) || null }, { replace: true }));
  let textTimer = null;
  textInput.addEventListener('input', () => {
    clearTimeout(textTimer);
    textTimer = setTimeout(() => navigate({ text: textInput.value }, { replace: true }), TEXT_DELAY_MS);
  });
  el('jobs-refresh').addEventListener('click', () => poller.now());

  // Selection ---------------------------------------------------------------------------------
  selectShown.addEventListener('change', () => {
    selectAllMatching = false;
    if (selectShown.checked) for (const id of shownIds()) selected.add(id);
    else selected.clear();
    renderSelection();
  });
  matchAll.addEventListener('click', () => {
    selectAllMatching = !selectAllMatching;
    if (selectAllMatching) for (const id of shownIds()) selected.add(id);
    renderSelection();
  });
  el('selection-clear').addEventListener('click', clearSelection);
  el('bulk-retry').addEventListener('click', () => bulk('jobs.retryMany', 'retry'));
  el('bulk-cancel').addEventListener('click', () => bulk('jobs.cancelMany', 'cancel'));

  function choose(id, checked) {
    selectAllMatching = false;
    if (checked) selected.add(id);
    else selected.delete(id);
    renderSelection();
  }

  function clearSelection() {
    selected.clear();
    selectAllMatching = false;
    renderSelection();
  }

  function shownIds() {
    return [...active.order, ...done.order];
  }

  function matchingTotal() {
    if (!counts) return 0;
    const chosen = getState().status;
    return (chosen.length ? chosen : JOB_STATUSES).reduce((sum, s) => sum + (counts[s] ?? 0), 0);
  }

  function renderSelection() {
    const shown = shownIds();
    for (const [id, card] of cards) card.setSelected(selected.has(id));
    const count = selectAllMatching ? matchingTotal() : selected.size;
    show(selectionBar, shown.length > 0);
    selectionBar.classList.toggle('has-selection', count > 0);
    selectShown.checked = shown.length > 0 && shown.every((id) => selected.has(id));
    selectShown.indeterminate = !selectShown.checked && selected.size > 0;
    setText(selectionText, count ? `${count} selected` : 'Select jobs');
    const total = matchingTotal();
    show(matchAll, selectShown.checked && total > shown.length);
    setText(matchAll, selectAllMatching ? 'Only the shown jobs' : `Select all ${total} that match`);
    for (const id of ['bulk-retry', 'bulk-cancel', 'selection-clear']) show(el(id), count > 0);
  }

  async function bulk(procedure, verb) {
    const state = getState();
    if (verb === 'cancel') {
      const count = selectAllMatching ? matchingTotal() : selected.size;
      if (!(await confirmCancel(`Cancel ${count} selected ${count === 1 ? 'job' : 'jobs'}?`, 'Cancel jobs'))) return;
    }
    const input = selectAllMatching
      ? { filter: { ...jobFilter(state), ...(state.status.length ? { status: state.status } : {}) } }
      : { ids: [...selected] };
    try {
      const { results } = await api.mutate(procedure, input);
      renderOutcomes(verb, results);
      clearSelection();
    } catch (error) {
      toast(error.message, { error: true });
    }
    poller.now();
  }

  function renderOutcomes(verb, results) {
    const changed = results.filter((r) => r.outcome === 'retried' || r.outcome === 'cancelled').length;
    const items = results.map((r) => h('li', { class: `outcome outcome-${r.outcome}` },
      h('a', { href: detailsHref(r.id), text: `#${r.id}` }), ' ',
      h('span', { class: 'chip chip-quiet', text: r.outcome }),
      r.jobId && r.jobId !== r.id ? [' → ', h('a', { href: detailsHref(r.jobId), text: `#${r.jobId}` })] : null,
      r.message ? h('span', { class: 'muted', text: ` ${r.message}` }) : null));
    const dismiss = h('button', { type: 'button', class: 'button button-quiet', text: 'Dismiss' });
    dismiss.addEventListener('click', () => outcomes.replaceChildren());
    outcomes.replaceChildren(
      h('div', { class: 'outcomes-head' },
        h('strong', { text: `${verb === 'retry' ? 'Retried' : 'Cancelled'} ${changed} of ${results.length}` }), dismiss),
      h('ul', { class: 'outcome-list' }, items));
  }

  // Actions -----------------------------------------------------------------------------------
  async function retry(id, onlyFailedFiles = false) {
    try {
      const { job } = await api.mutate('jobs.retry', onlyFailedFiles ? { id, onlyFailedFiles: true } : { id });
      const link = h('a', { href: detailsHref(job.id), text: `View #${job.id}` });
      toast(`Retry of #${id} started as job #${job.id}.`, { action: link });
    } catch (error) {
      toast(`Could not retry #${id}: ${error.message}`, { error: true });
    }
    poller.now();
  }

  function confirmCancel(title, yes = 'Cancel job') {
    return confirmAction({
      title,
      text: 'Files being indexed now finish; files not started yet are skipped. What is indexed stays in the index.',
      yes,
      no: 'Keep running',
    });
  }

  async function cancel(id) {
    if (!(await confirmCancel(`Cancel job #${id}?`))) return;
    try {
      await api.mutate('jobs.cancel', { id });
      toast(`Job #${id} cancelled.`);
    } catch (error) {
      toast(`Could not cancel #${id}: ${error.message}`, { error: true });
    }
    poller.now();
  }

  // Polling -----------------------------------------------------------------------------------
  async function refresh() {
    const state = getState();
    const mine = generation;
    const filter = jobFilter(state);
    const requests = [active, done].map((section) => {
      const input = section.request(filter, state.status);
      section.lastRequest = input;
      return input ? api.query('jobs.list', input) : Promise.resolve(null);
    });
    let activeData;
    let doneData;
    try {
      [activeData, doneData] = await Promise.all([...requests, details.refresh()]);
      show(loadError, false);
    } catch (error) {
      setText(loadError, `Could not load ${state.job ? `job #${state.job}` : 'jobs'}: ${error.message}`);
      show(loadError, true);
      throw error;
    }
    if (mine !== generation) return; // the filters changed meanwhile; that refresh follows
    for (const [section, data] of [[active, activeData], [done, doneData]]) {
      if (data) {
        upsert(data.jobs);
        section.merge(data.jobs, data.nextCursor);
      } else {
        section.reset();
      }
    }
    const latest = doneData ?? activeData;
    if (latest) {
      counts = latest.counts;
      renderLive(latest.live);
    }
    render();
  }

  function afterLoad(data) {
    upsert(data.jobs);
    render();
  }

  function upsert(jobs) {
    const finished = [];
    for (const job of jobs) {
      const card = cards.get(job.id);
      if (!card) cards.set(job.id, new JobCard(job, handlers));
      else {
        if (card.status !== job.status && !isActive(job)) finished.push(job);
        card.update(job);
      }
    }
    // Progress itself is read from the progress bars; what finished is said once, politely.
    if (finished.length) {
      setText(announcer, finished.map((job) => `Job #${job.id} ${job.repository.fullName}: ${job.status}.`).join(' '));
    }
  }

  function render() {
    const focused = document.activeElement;
    const state = getState();
    const total = (statuses) => (counts ? statuses.reduce((sum, s) => sum + (counts[s] ?? 0), 0) : 0);
    const pick = (section) => section.statusesFor(state.status) ?? [];
    active.render(total(pick(active)), active.statusesFor(state.status) !== null);
    done.render(total(pick(done)), done.statusesFor(state.status) !== null);
    renderNothing(state);
    const shown = new Set(shownIds());
    for (const id of cards.keys()) if (!shown.has(id)) cards.delete(id);
    for (const id of selected) if (!shown.has(id)) selected.delete(id);
    // A card that moved sections was taken out of the document for a moment: give focus back.
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
    renderChips();
    renderSelection();
    onCounts(counts);
  }

  // With no job to show at all, one message says why and offers the way on.
  function renderNothing(state) {
    const none = counts !== null && shownIds().length === 0;
    show(nothing, none);
    if (!none) return;
    show(active.el, false);
    show(done.el, false);
    const narrowed = filtered(state);
    setText(nothingText, narrowed
      ? 'No jobs match these filters.'
      : 'No jobs yet. Connect a repository: each push to it, or Sync now, starts a job here.');
    setText(nothingAction, narrowed ? 'Clear filters' : 'Connect a repository');
  }

  function renderChips() {
    const chosen = getState().status;
    allChip.setAttribute('aria-pressed', String(chosen.length === 0));
    const all = counts ? JOB_STATUSES.reduce((sum, s) => sum + (counts[s] ?? 0), 0) : '';
    setText(allChip.querySelector('.count'), String(all));
    for (const [status, button] of chipButtons) {
      button.setAttribute('aria-pressed', String(chosen.includes(status)));
      setText(button.querySelector('.count'), counts ? String(counts[status] ?? 0) : '');
    }
  }

  function renderLive(live) {
    show(liveNote, Boolean(live?.stale));
    if (live?.checkedAt) setRelative(checkedAt, live.checkedAt, 'Updated ');
    else setText(checkedAt, '');
  }

  // Views -------------------------------------------------------------------------------------
  function setRepositories(repositories) {
    const current = getState().repo;
    const options = [h('option', { value: '', text: 'All repositories' })];
    for (const repo of repositories) options.push(h('option', { value: String(repo.id), text: repo.fullName }));
    repoSelect.replaceChildren(...options);
    repoSelect.value = current ? String(current) : '';
  }

  // Escape leaves a job's details for the list, unless a field or a dialog wants it.
  document.addEventListener('keydown', (event) => {
    const { job, tab } = getState();
    if (event.key !== 'Escape' || event.defaultPrevented || tab !== 'jobs' || job === null) return;
    if (event.target.closest('input, select, textarea, dialog')) return;
    navigate({ job: null, files: [] });
  });

  let lastTab = null;
  let lastJob = null;
  let listScroll = 0;
  function apply(state) {
    const arrived = state.tab === 'jobs' && lastTab !== 'jobs';
    const leftDetails = state.tab === 'jobs' && state.job === null && lastJob !== null ? lastJob : null;
    if (lastJob === null && state.job !== null && lastTab === 'jobs') listScroll = window.scrollY;
    lastTab = state.tab;
    lastJob = state.job;
    const key = JSON.stringify([state.status, state.repo, state.text]);
    if (document.activeElement !== textInput && textInput.value !== state.text) textInput.value = state.text;
    if (repoSelect.value !== String(state.repo ?? '')) repoSelect.value = String(state.repo ?? '');
    renderChips();
    show(listView, state.job === null);
    const detailsChanged = details.apply(state);
    if (leftDetails !== null) {
      // Back where the list was left, on the card that was opened.
      window.scrollTo({ top: listScroll });
      cards.get(leftDetails)?.el.focus({ preventScroll: true });
    }
    if (key !== filterKey) {
      const first = filterKey === null;
      filterKey = key;
      generation += 1;
      if (!first) {
        active.reset();
        done.reset();
        outcomes.replaceChildren();
        clearSelection();
      }
      poller.now();
    } else if (detailsChanged || arrived) {
      poller.now();
    }
  }

  return { apply, setRepositories, refresh: () => poller.now() };
}
