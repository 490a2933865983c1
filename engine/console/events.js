// Events: every event the engine received, newest first, with the runs each one started; an
// event's detail beside the list (in its place on narrow screens); Send event and Replay.
//
// refresh() merges the first page into what is shown: new events go on top and the run badges
// of known ones change in place, so nothing the user is looking at or focused on is rebuilt.

import { get, post } from './api.js';
import { formDialog, jsonEditor } from './dialog.js';
import { copyButton, errorBox, facts, h, icon, jsonBlock, show, statusBadge, titleCase, toast } from './dom.js';
import { backLink, busy, clickableRow, command, emptyState, href, loading, pageHead } from './pagekit.js';
import { absoluteTime, relativeTime } from './time.js';

const PAGE_SIZE = 40;
const TEMPLATE = { name: 'app/example', data: {} };

export function mount(root, ctx) {
  ctx.setTitle('Events');
  let filters = filtersOf(ctx.params);
  let selectedId = ctx.params.get('event');
  let rows = new Map(); // event id -> {row, link, runs}
  let cursor = null;
  let loaded = false;
  let generation = 0; // a new list load makes older answers stale
  let detail = null; // {id, event, runs} of the event shown
  let detailGeneration = 0;

  const sendButton = h('button', { type: 'button', class: 'button button-primary' }, icon('plus'), 'Send event');
  const nameInput = h('input', {
    type: 'search', id: 'event-name-filter', list: 'event-names', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Any event name', 'aria-describedby': 'event-name-hint',
  });
  const names = h('datalist', { id: 'event-names' });
  const internalBox = h('input', { type: 'checkbox', id: 'event-internal' });
  const filterForm = h(
    'form',
    { class: 'toolbar events-toolbar', role: 'search', 'aria-label': 'Filter events' },
    h('div', { class: 'field field-grow' },
      h('label', { class: 'field-label', for: 'event-name-filter', text: 'Event name' }),
      nameInput,
      h('span', { class: 'visually-hidden', id: 'event-name-hint', text: 'Exact names; separate several with commas.' })),
    h('label', { class: 'check' }, internalBox, 'Show internal events'),
    names,
  );
  const tbody = h('tbody');
  const table = h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'table events-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Event' }),
        h('th', { scope: 'col', text: 'Runs started' }),
        h('th', { scope: 'col', class: 'num', text: 'Received' }))),
      tbody),
  );
  const listStatus = h('div', { class: 'list-status' });
  const countText = h('span', { class: 'small' });
  const moreButton = h('button', { type: 'button', class: 'button', hidden: true }, 'Load more');
  const pager = h('div', { class: 'pager' }, countText, moreButton);
  const listPane = h('section', { class: 'events-list', 'aria-label': 'Event stream' }, filterForm, table, listStatus, pager);
  const detailPane = h('section', { class: 'event-detail', 'aria-label': 'Event details', hidden: true });
  const layout = h('div', { class: 'events-layout' }, listPane, detailPane);
  root.append(pageHead('Events', 'Every event the engine received, newest first, and the runs it started.', [sendButton]), layout);

  // Addresses keep the filters, so a detail's back link returns to the same list.

  function listParams() {
    return { name: filters.name, internal: filters.internal ? 'true' : null };
  }
  const listHref = () => href('/events', listParams());
  const eventHref = (id) => href('/events', { ...listParams(), event: id });

  function navigate(changes) {
    ctx.go('/events', { ...listParams(), event: selectedId, ...changes }, { replace: true });
  }

  function query(extra = {}) {
    return { name: filters.name, internal: filters.internal ? 'true' : null, limit: PAGE_SIZE, ...extra };
  }

  function syncControls() {
    if (document.activeElement !== nameInput) nameInput.value = filters.name;
    internalBox.checked = filters.internal;
  }

  // The stream

  async function load() {
    const mine = ++generation;
    rows = new Map();
    cursor = null;
    loaded = false;
    tbody.replaceChildren();
    show(table, false);
    show(pager, false);
    listStatus.replaceChildren(loading('Loading events…'));
    let page;
    try {
      page = await get('/events', query());
    } catch (exc) {
      if (mine === generation) listStatus.replaceChildren(errorBox(exc.message));
      return;
    }
    if (mine !== generation) return;
    loaded = true;
    for (const event of page.events) addRow(event, null);
    cursor = page.next_cursor;
    paint();
  }

  async function refreshList() {
    if (!loaded) return load();
    const mine = generation;
    const page = await get('/events', query());
    if (mine !== generation) return undefined;
    const fresh = page.events.filter((event) => !rows.has(event.id));
    if (rows.size && fresh.length === page.events.length && page.next_cursor) return load(); // a gap: start over
    for (const event of page.events) {
      const shown = rows.get(event.id);
      if (shown) syncRuns(shown.runs, event.runs);
    }
    if (!rows.size) cursor = page.next_cursor;
    for (const event of fresh) addRow(event, placeFor(event.id), true);
    paint();
    return undefined;
  }

  async function loadMore() {
    const mine = generation;
    const page = await get('/events', query({ cursor }));
    if (mine !== generation) return;
    const added = page.events.filter((event) => !rows.has(event.id));
    for (const event of added) addRow(event, null);
    cursor = page.next_cursor;
    const hadFocus = document.activeElement === moreButton;
    paint();
    if (hadFocus && !cursor && added.length) rows.get(added[0].id).link.focus(); // the button is gone
  }

  /** The row a newer event goes before (ids sort by arrival), or null for the end. */
  function placeFor(id) {
    for (const row of tbody.children) if (row.dataset.id < id) return row;
    return null;
  }

  function addRow(event, before, isNew = false) {
    const link = h('a', { class: 'event-name', href: eventHref(event.id) }, event.name);
    const runs = h('div', { class: 'run-chips' });
    syncRuns(runs, event.runs);
    const row = clickableRow(
      h('tr', { dataset: { id: event.id, name: event.name }, class: isNew ? 'is-new' : null },
        h('td', { class: 'event-cell' }, link),
        h('td', { class: 'runs-cell' }, runs),
        h('td', { class: 'num time-cell' }, relativeTime(event.received_at))),
      link,
    );
    tbody.insertBefore(row, before);
    rows.set(event.id, { row, link, runs });
    addName(event.name);
  }

  function paint() {
    const count = rows.size;
    show(table, count > 0);
    show(pager, count > 0);
    show(moreButton, Boolean(cursor));
    countText.textContent = `${count} event${count === 1 ? '' : 's'}${cursor ? ' shown' : ''}`;
    if (count) listStatus.replaceChildren();
    else if (!listStatus.querySelector('.empty-state')) listStatus.replaceChildren(emptyList());
    paintSelection();
  }

  function paintSelection() {
    for (const [id, { row, link }] of rows) {
      row.classList.toggle('is-selected', id === selectedId);
      if (id === selectedId) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
  }

  function emptyList() {
    if (filters.name) {
      return emptyState(
        'No events match these filters',
        h('p', {}, 'Names match exactly, e.g. ', h('code', {}, 'app/user.created'), '; separate several with commas. ',
          filters.internal ? null : 'Events the engine sends itself (inngest/…) show with "Show internal events".'),
        h('p', {}, h('a', { href: href('/events'), text: 'Clear the filters' })),
      );
    }
    const curl = `curl -X POST ${location.origin}/e/dev \\\n  -H 'Content-Type: application/json' \\\n  -d '{"name": "app/example", "data": {"hello": "world"}}'`;
    return emptyState(
      'No events yet',
      h('p', {}, 'Events sent to this engine appear here as they arrive, with the runs they start. Use ',
        h('strong', {}, 'Send event'), ', send one from your app with the Inngest SDK, or use curl (any event key works):'),
      command(curl),
    );
  }

  function addName(name) {
    if (!name || [...names.options].some((option) => option.value === name)) return;
    names.append(h('option', { value: name }));
  }

  // One event

  async function showDetail(id) {
    const mine = ++detailGeneration;
    selectedId = id;
    detail = null;
    layout.classList.toggle('has-detail', Boolean(id));
    show(detailPane, Boolean(id));
    paintSelection();
    if (!id) {
      detailPane.replaceChildren();
      ctx.setTitle('Events');
      return;
    }
    detailPane.replaceChildren(detailNav(), loading('Loading the event…'));
    let event;
    try {
      event = await get(`/events/${encodeURIComponent(id)}`);
    } catch (exc) {
      if (mine === detailGeneration) detailPane.replaceChildren(detailNav(), errorBox(exc.message));
      return;
    }
    if (mine !== detailGeneration) return;
    renderDetail(event);
  }

  function detailNav() {
    return h('div', { class: 'detail-nav' }, backLink(listHref(), 'All events'));
  }

  function renderDetail(event) {
    ctx.setTitle(event.name);
    const replay = h('button', { type: 'button', class: 'button button-small' }, icon('sync'), 'Replay');
    replay.addEventListener('click', () => busy(replay, async () => {
      const { ids } = await post(`/events/${encodeURIComponent(event.id)}/replay`);
      sentToast('Replayed as', ids);
      await refreshList();
    }));
    const close = h('a', { class: 'icon-button detail-close', href: listHref(), 'aria-label': 'Close the event', title: 'Close' }, icon('close'));
    const runs = h('div', { class: 'run-chips run-list' });
    syncRuns(runs, event.runs, 'This event started no runs.');
    detailPane.replaceChildren(
      detailNav(),
      h('div', { class: 'detail-head' },
        h('div', { class: 'detail-title' }, h('span', { class: 'detail-kind', text: 'Event' }), h('h2', { text: event.name })),
        h('div', { class: 'detail-actions' }, replay, close)),
      facts([
        ['Event ID', h('span', { class: 'with-copy' }, h('span', { class: 'mono id', text: event.id }), copyButton(event.id, 'Copy event ID'))],
        ['Received', h('span', {}, absoluteTime(event.received_at), h('span', { class: 'fact-sub' }, relativeTime(event.received_at)))],
        ['Timestamp (ts)', h('span', {}, absoluteTime(new Date(event.ts).toISOString()), h('span', { class: 'fact-sub mono', text: String(event.ts) }))],
        ['Dedup ID', event.dedup_id
          ? h('span', { class: 'with-copy' }, h('span', { class: 'mono id', text: event.dedup_id }), copyButton(event.dedup_id, 'Copy dedup ID'))
          : h('span', { class: 'muted', text: 'None' })],
      ]),
      h('h3', { class: 'section-title', text: 'Runs started' }),
      runs,
      h('h3', { class: 'section-title', text: 'Payload' }),
      jsonBlock(event.payload, { label: 'Copy payload' }),
    );
    detail = { id: event.id, event, runs };
  }

  async function refreshDetail() {
    if (!detail) return;
    const { id, runs } = detail;
    const event = await get(`/events/${encodeURIComponent(id)}`);
    if (detail?.id === id) syncRuns(runs, event.runs, 'This event started no runs.');
  }

  // Send event

  /** The last event of the selected or filtered name, as it can be sent again; else a template. */
  async function prefill() {
    const name = detail?.event.name ?? (filters.name.includes(',') ? '' : filters.name);
    if (!name) return TEMPLATE;
    try {
      const { events } = await get('/events', { name, internal: 'true', limit: 1 });
      if (!events.length) return { name, data: {} };
      const { payload } = await get(`/events/${encodeURIComponent(events[0].id)}`);
      const again = { name: payload.name, data: payload.data ?? {} };
      if (payload.user && Object.keys(payload.user).length) again.user = payload.user;
      if (payload.v) again.v = payload.v;
      return again;
    } catch {
      return { name, data: {} };
    }
  }

  function openSendDialog(initial) {
    const editor = jsonEditor('Event JSON', initial, { rows: 12 });
    editor.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) editor.input.form.requestSubmit();
    });
    formDialog({
      title: 'Send event',
      description: 'Functions triggered by this name start runs, as when your app sends it. An array sends several events. Ctrl+Enter sends.',
      fields: [editor.element],
      submitLabel: 'Send event',
      async onSubmit() {
        const { ids } = await post('/events', editor.value());
        sentToast(ids.length > 1 ? `${ids.length} events sent; the first:` : 'Event sent:', ids);
        await refreshList().catch(() => {});
      },
    });
    editor.input.focus();
  }

  function sentToast(text, ids) {
    toast([`${text} `, h('a', { class: 'mono', href: eventHref(ids[0]), text: ids[0] })]);
  }

  sendButton.addEventListener('click', () => busy(sendButton, async () => openSendDialog(await prefill())));
  moreButton.addEventListener('click', () => busy(moreButton, loadMore));

  // Filters

  function applyName() {
    const name = nameInput.value.split(',').map((part) => part.trim()).filter(Boolean).join(',');
    if (name !== filters.name) navigate({ name });
  }
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applyName();
  });
  nameInput.addEventListener('change', applyName);
  nameInput.addEventListener('input', (event) => {
    // The search field's clear button, or a name picked from the suggestions.
    if (!nameInput.value || !event.inputType || event.inputType === 'insertReplacementText') applyName();
  });
  internalBox.addEventListener('change', () => navigate({ internal: internalBox.checked ? 'true' : null }));

  get('/functions')
    .then(({ functions }) => functions.flatMap((fn) => fn.triggers).filter((t) => t.type === 'EVENT').forEach((t) => addName(t.value)))
    .catch(() => {}); // names to suggest; the filter works without them

  syncControls();
  load();
  showDetail(selectedId);

  return {
    update(params) {
      const next = filtersOf(params);
      if (next.name !== filters.name || next.internal !== filters.internal) {
        filters = next;
        syncControls();
        load();
        for (const link of detailPane.querySelectorAll('.back-link, .detail-close')) link.href = listHref();
      }
      const id = params.get('event');
      if (id !== selectedId) showDetail(id);
    },
    refresh() {
      return Promise.all([refreshList(), refreshDetail()]);
    },
    unmount() {
      generation += 1;
      detailGeneration += 1;
    },
  };
}

function filtersOf(params) {
  return { name: params.get('name') ?? '', internal: params.get('internal') === 'true' };
}

/**
 * Show `runs` as linked status chips in `container`, reusing the chips already there: a known
 * run only has its badge replaced when its status changed.
 */
function syncRuns(container, runs, emptyText = 'No runs') {
  const chips = new Map([...container.querySelectorAll('[data-run-id]')].map((chip) => [chip.dataset.runId, chip]));
  const inPlace = runs.length === container.children.length && runs.every((run, i) => container.children[i].dataset.runId === run.id);
  if (!inPlace) {
    container.replaceChildren(...(runs.length ? runs.map((run) => chips.get(run.id) ?? runChip(run)) : [h('span', { class: 'muted small', text: emptyText })]));
  }
  for (const run of runs) {
    const chip = chips.get(run.id);
    if (chip && chip.dataset.status !== run.status) {
      chip.querySelector('.status').replaceWith(statusBadge(run.status));
      chip.dataset.status = run.status;
      chip.title = `${run.function_name}: ${titleCase(run.status)}`;
    }
  }
}

function runChip(run) {
  return h(
    'a',
    { class: 'run-chip', href: href('/run', { runID: run.id }), title: `${run.function_name}: ${titleCase(run.status)}`, dataset: { runId: run.id, status: run.status } },
    statusBadge(run.status),
    ' ', // the link's accessible name reads "Completed steps"
    h('span', { class: 'run-chip-fn', text: run.function_name }),
  );
}
