// The Runs page, the console's landing page: every run newest first, filtered by what the address
// says (so a reload or a shared link shows the same list), with the total count, cursor pages,
// a live refresh that updates rows in place, and bulk cancel.

import { get, post } from './api.js';
import { formDialog, textField } from './dialog.js';
import { copyButton, errorBox, h, icon, setText, show, statusBadge, toast } from './dom.js';
import { duration, elapsed, relativeTime } from './time.js';

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];
const TIME_FIELDS = [
  ['queued', 'Queued'],
  ['started', 'Started'],
  ['ended', 'Ended'],
];
const RANGES = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };
const RANGE_OPTIONS = [
  ['', 'Any time'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['custom', 'Custom range…'],
];
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;
const PAGE_SIZE = 40;
const DRY_RUN_DELAY_MS = 300;
const numbers = new Intl.NumberFormat('en');

/** The filters an address carries; anything unknown is left out. */
function readFilters(params) {
  const many = (name) =>
    params
      .getAll(name)
      .flatMap((value) => value.split(','))
      .map((value) => value.trim())
      .filter(Boolean);
  const timeField = params.get('time_field');
  const range = params.get('range') ?? '';
  return {
    status: many('status')
      .map((value) => value.toLowerCase())
      .filter((value) => STATUSES.includes(value)),
    function: many('function'),
    app: many('app'),
    time_field: TIME_FIELDS.some(([value]) => value === timeField) ? timeField : 'queued',
    range: range in RANGES ? range : '',
    from: range in RANGES ? '' : params.get('from') ?? '',
    until: range in RANGES ? '' : params.get('until') ?? '',
    query: params.get('query') ?? '',
    run_id: params.get('run_id') ?? '',
    event_id: params.get('event_id') ?? '',
  };
}

/** The address query of `filters`: defaults are left out so the URL stays short. */
function addressOf(filters) {
  return {
    status: filters.status,
    function: filters.function,
    app: filters.app,
    time_field: filters.time_field === 'queued' ? '' : filters.time_field,
    range: filters.range,
    from: filters.from,
    until: filters.until,
    query: filters.query,
    run_id: filters.run_id,
    event_id: filters.event_id,
  };
}

/** GET /runs parameters; a relative range is measured back from now on every request. */
function requestOf(filters, extra = {}) {
  const from = filters.range ? new Date(Date.now() - RANGES[filters.range]).toISOString() : filters.from;
  return { ...addressOf(filters), range: '', time_field: filters.time_field, from, limit: PAGE_SIZE, ...extra };
}

function filtered(filters) {
  const { time_field: timeField, ...rest } = addressOf(filters);
  return Boolean(timeField) || Object.values(rest).some((value) => (Array.isArray(value) ? value.length : value));
}

function plural(count, word) {
  return `${numbers.format(count)} ${word}${count === 1 ? '' : 's'}`;
}

/** "2026-11-30T04:34:10.526Z" -> "2026-11-30T05:34" in local time, for datetime-local inputs. */
function localInput(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function isoOf(localValue) {
  const date = new Date(localValue);
  return localValue && !Number.isNaN(date.getTime()) ? date.toISOString() : '';
}

/**
 * The engine's message for a bad expression, its caret under the expression: the engine prints
 * "<what>: <expression>" above the caret line, so the expression moves to a line of its own.
 */
function expressionError(message, source) {
  const text = message.replace(/^'(query|if)': /, '').trimEnd();
  const lines = text.split('\n');
  const [above, caret] = lines.slice(-2);
  if (lines.length < 2 || !/^\s*\^$/.test(caret) || !source || !above.endsWith(source) || above === source) return text;
  return [...lines.slice(0, -2), above.slice(0, -source.length).trimEnd(), source, caret].join('\n');
}

// A row of the table -------------------------------------------------------------------------

function shortId(id) {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}

function triggerCell(run) {
  if (run.cron_schedule) {
    return h('span', { class: 'runs-trigger', title: `Cron ${run.cron_schedule}` }, icon('queued'), h('code', { text: run.cron_schedule }));
  }
  if (run.invoked_by) {
    return h(
      'span',
      { class: 'runs-trigger' },
      h('span', { class: 'tag', text: 'Invoked' }),
      h('a', { href: `/run?runID=${encodeURIComponent(run.invoked_by.run_id)}`, class: 'runs-parent small', title: `Invoked by run ${run.invoked_by.run_id}` }, 'by ', shortId(run.invoked_by.run_id)),
    );
  }
  return h(
    'span',
    { class: 'runs-trigger' },
    h('code', { class: 'runs-event', title: run.event_name ?? '', text: run.event_name ?? '—' }),
    run.is_batch && h('span', { class: 'tag', text: 'Batch' }),
  );
}

function durationNode(run) {
  if (run.status === 'RUNNING' && run.started_at) return elapsed(run.started_at);
  if (run.duration_ms !== null && run.duration_ms !== undefined) return duration(run.duration_ms);
  return h('span', { class: 'muted', 'aria-label': 'Not started', text: '—' });
}

/** What of a run can change while it is shown. */
function signature(run) {
  return [run.status, run.started_at, run.ended_at, run.duration_ms].join('|');
}

class Row {
  constructor(run, timeField, onOpen) {
    this.link = h('a', { href: `/run?runID=${encodeURIComponent(run.id)}`, class: 'runs-link mono', title: run.id, 'aria-label': `Run ${run.id}` }, shortId(run.id));
    this.status = h('td', { class: 'runs-col-status' });
    this.duration = h('td', { class: 'runs-col-duration num' });
    this.element = h(
      'tr',
      { class: 'is-link', dataset: { runId: run.id } },
      this.status,
      h('td', { class: 'runs-col-id' }, this.link),
      h(
        'td',
        { class: 'runs-col-function' },
        h('span', { class: 'runs-fn-name', text: run.function_name ?? run.function_id }),
        run.app_id && h('span', { class: 'runs-fn-app', text: run.app_id }),
      ),
      h('td', { class: 'runs-col-trigger' }, triggerCell(run)),
      h('td', { class: 'runs-col-time' }, relativeTime(run[`${timeField}_at`])),
      this.duration,
    );
    this.element.addEventListener('click', (event) => {
      if (event.target.closest('a, button') || getSelection()?.toString()) return;
      onOpen(this.link);
    });
    this.key = null;
    this.update(run);
  }

  update(run) {
    const key = signature(run);
    if (key === this.key) return;
    this.key = key;
    this.element.dataset.status = run.status.toLowerCase();
    this.status.replaceChildren(statusBadge(run.status));
    this.duration.replaceChildren(durationNode(run));
  }
}

// Function and app pickers: a menu of checkboxes, so the address can hold several --------------

function picker(label, onChange) {
  const value = h('span', { class: 'runs-picker-value' });
  const summary = h('summary', { class: 'button runs-picker-button' }, h('span', { class: 'runs-picker-label', text: label }), value, icon('chevron'));
  const list = h('div', { class: 'runs-picker-list', role: 'group', 'aria-label': label });
  const clear = h('button', { type: 'button', class: 'link-button small', text: 'Any' });
  const details = h('details', { class: 'runs-picker' }, summary, h('div', { class: 'runs-picker-menu' }, list, h('div', { class: 'runs-picker-foot' }, clear)));
  let options = [];
  let selected = [];

  function render() {
    const known = new Set(options.map((option) => option.value));
    const all = [...options, ...selected.filter((item) => !known.has(item)).map((item) => ({ value: item, label: item, detail: 'not synced' }))];
    list.replaceChildren(
      ...(all.length
        ? all.map((option) =>
            h(
              'label',
              { class: 'runs-picker-option' },
              h('input', { type: 'checkbox', value: option.value, checked: selected.includes(option.value) }),
              h('span', { class: 'runs-picker-name', text: option.label }),
              option.detail && h('span', { class: 'runs-picker-detail', text: option.detail }),
            ),
          )
        : [h('p', { class: 'runs-picker-none', text: 'Nothing synced yet' })]),
    );
    const names = selected.map((item) => all.find((option) => option.value === item)?.label ?? item);
    setText(value, names.length === 0 ? 'Any' : names.length === 1 ? names[0] : `${names.length} selected`);
    summary.classList.toggle('is-active', names.length > 0);
    show(clear, selected.length > 0);
  }

  list.addEventListener('change', () => {
    selected = [...list.querySelectorAll('input:checked')].map((input) => input.value);
    onChange(selected);
  });
  clear.addEventListener('click', () => {
    selected = [];
    render();
    onChange(selected);
  });
  details.addEventListener('focusout', (event) => {
    if (event.relatedTarget && !details.contains(event.relatedTarget)) details.open = false;
  });
  details.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && details.open) {
      event.preventDefault();
      details.open = false;
      summary.focus();
    }
  });
  return {
    element: details,
    setOptions(next) {
      options = next;
      render();
    },
    setSelected(values) {
      if (values.join('\n') === selected.join('\n') && list.childElementCount) return;
      selected = [...values];
      render();
    },
  };
}

function select(label, choices, onChange) {
  const element = h('select', { class: 'runs-select', 'aria-label': label }, choices.map(([value, text]) => h('option', { value, text })));
  element.addEventListener('change', () => onChange(element.value));
  return element;
}

// The page -------------------------------------------------------------------------------------

export function mount(root, ctx) {
  ctx.setTitle('Runs');
  let filters = readFilters(ctx.params);
  let loadedKey = null; // the filters the rows are for
  let generation = 0;
  let failed = null; // the ConsoleError of the last load, until one succeeds
  let customRange = false;
  let cursor = null;
  let pages = 0;
  let total = null;
  let rows = new Map();
  let order = [];
  let functionsCache = [];
  let searchSeq = 0;
  let pending = null; // the first page being loaded

  const go = (next) => ctx.go('/runs', addressOf(next), { replace: true });
  const change = (patch) => go({ ...filters, ...patch });

  // Head
  const count = h('p', { class: 'page-sub runs-count' });
  const cancelButton = h('button', { type: 'button', class: 'button button-danger' }, icon('cancelled'), 'Cancel runs…');
  cancelButton.addEventListener('click', () => openBulkCancel());

  // Search
  const searchInput = h('input', {
    type: 'search',
    class: 'runs-search-input',
    name: 'search',
    placeholder: 'Run id, event id or CEL expression',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'aria-describedby': 'runs-search-hint runs-search-error',
  });
  const searchHint = h('p', { class: 'field-hint runs-search-hint', id: 'runs-search-hint' });
  const searchError = h('pre', { class: 'error-box runs-search-error', id: 'runs-search-error', role: 'alert', hidden: true });
  const searchForm = h(
    'form',
    { class: 'runs-search', role: 'search', 'aria-label': 'Runs' },
    h('label', { class: 'visually-hidden', for: 'runs-search-input', text: 'Search runs' }),
    h('div', { class: 'runs-search-box' }, icon('search'), searchInput),
    searchHint,
    searchError,
  );
  searchInput.id = 'runs-search-input';
  searchInput.addEventListener('input', () => {
    showHint();
    if (!searchInput.value.trim() && (filters.query || filters.run_id || filters.event_id)) applySearch();
  });
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applySearch();
  });

  // Filters
  const chips = STATUSES.map((status) => {
    const chip = h('button', { type: 'button', class: 'chip-toggle runs-chip', 'aria-pressed': 'false', dataset: { status } }, h('span', { class: `runs-dot status-${status}` }), status.charAt(0).toUpperCase() + status.slice(1));
    chip.addEventListener('click', () => {
      const on = !filters.status.includes(status);
      change({ status: on ? [...filters.status, status] : filters.status.filter((item) => item !== status) });
    });
    return chip;
  });
  const functionPicker = picker('Function', (values) => change({ function: values }));
  const appPicker = picker('App', (values) => change({ app: values }));
  const timeField = select('Time field', TIME_FIELDS.map(([value, label]) => [value, `${label} at`]), (value) => change({ time_field: value }));
  const range = select('Time range', RANGE_OPTIONS, (value) => {
    customRange = value === 'custom';
    if (customRange) {
      show(customBox, true);
      fromInput.focus();
    } else {
      change({ range: value, from: '', until: '' });
    }
  });
  const fromInput = h('input', { type: 'datetime-local', class: 'runs-date', step: 60 });
  const untilInput = h('input', { type: 'datetime-local', class: 'runs-date', step: 60 });
  const applyRange = () => change({ range: '', from: isoOf(fromInput.value), until: isoOf(untilInput.value) });
  fromInput.addEventListener('change', applyRange);
  untilInput.addEventListener('change', applyRange);
  const customBox = h(
    'div',
    { class: 'runs-custom', hidden: true },
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: 'From' }), fromInput),
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: 'Until' }), untilInput),
  );
  const clearButton = h('button', { type: 'button', class: 'link-button runs-clear', text: 'Clear filters' });
  clearButton.addEventListener('click', clearFilters);
  for (const part of [functionPicker, appPicker]) {
    part.element.addEventListener('toggle', () => {
      if (part.element.open) loadChoices();
    });
  }

  // Body
  const tbody = h('tbody');
  const table = h(
    'div',
    { class: 'table-wrap runs-table-wrap' },
    h(
      'table',
      { class: 'table runs-table' },
      h('caption', { class: 'visually-hidden', text: 'Runs, newest first' }),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Status', 'Run', 'Function', 'Trigger', 'Time', 'Duration'].map((name) =>
            h('th', { scope: 'col', class: `runs-col-${name.toLowerCase()}`, text: name }),
          ),
        ),
      ),
      tbody,
    ),
  );
  const timeHeader = table.querySelector('th.runs-col-time');
  setText(timeHeader, 'Queued');
  const body = h('div', { class: 'runs-body' });
  const shown = h('span', { class: 'runs-shown' });
  const moreButton = h('button', { type: 'button', class: 'button', text: 'Load more' });
  moreButton.addEventListener('click', loadMore);
  const pager = h('div', { class: 'pager runs-pager', hidden: true }, shown, moreButton);

  root.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { class: 'page-title', text: 'Runs' }), count), h('div', { class: 'page-actions' }, cancelButton)),
    h(
      'div',
      { class: 'runs-filters' },
      searchForm,
      h(
        'div',
        { class: 'runs-filter-row' },
        h('div', { class: 'chips runs-chips', role: 'group', 'aria-label': 'Status' }, chips),
        h('div', { class: 'runs-selects' }, functionPicker.element, appPicker.element, timeField, range),
        clearButton,
      ),
      customBox,
    ),
    body,
    pager,
  );

  const closePickers = (event) => {
    for (const part of [functionPicker, appPicker]) {
      if (part.element.open && !part.element.contains(event.target)) part.element.open = false;
    }
  };
  document.addEventListener('click', closePickers);

  // Showing state --------------------------------------------------------------------------

  function syncControls() {
    for (const chip of chips) chip.setAttribute('aria-pressed', String(filters.status.includes(chip.dataset.status)));
    functionPicker.setSelected(filters.function);
    appPicker.setSelected(filters.app);
    timeField.value = filters.time_field;
    const custom = Boolean(filters.from || filters.until) || (customRange && !filters.range);
    range.value = filters.range || (custom ? 'custom' : '');
    show(customBox, custom);
    if (document.activeElement !== fromInput) fromInput.value = localInput(filters.from);
    if (document.activeElement !== untilInput) untilInput.value = localInput(filters.until);
    const search = filters.run_id || filters.event_id || filters.query;
    if (document.activeElement !== searchInput || !searchInput.value.trim()) searchInput.value = search;
    show(clearButton, filtered(filters));
    showHint();
  }

  function showHint() {
    const text = searchInput.value.trim();
    let hint;
    if (!text) hint = 'Search by run id, event id, or a CEL expression over event and output, e.g. output.total > 4.';
    else if (text === filters.run_id) hint = 'Showing the run with this id.';
    else if (text === filters.event_id) hint = 'Showing the runs this event started.';
    else if (text === filters.query && !searchError.hidden) hint = 'The engine cannot run this expression:';
    else if (text === filters.query) hint = 'Showing runs whose event and output match this expression.';
    else if (ULID.test(text)) hint = 'Press Enter to find the run with this id, or the runs of the event with this id.';
    else hint = 'Press Enter to search with this CEL expression over event and output.';
    setText(searchHint, hint);
  }

  function showSearchError(message) {
    setText(searchError, message ?? '');
    show(searchError, Boolean(message));
    searchInput.setAttribute('aria-invalid', String(Boolean(message)));
    showHint();
  }

  /** One of the page's states in the body (loading, error, empty, table); built only on a change. */
  function showBody(state, build, { force = false } = {}) {
    if (body.dataset.state === state && !force) return;
    body.dataset.state = state;
    body.replaceChildren(...[build()].flat().filter(Boolean));
  }

  function showCount() {
    if (total === null) {
      setText(count, failed ? '' : 'Loading…');
      return;
    }
    const exact = total.exact;
    const words = plural(total.count, 'run');
    setText(count, exact ? words : `at least ${words}`);
    count.title = exact ? '' : 'A search counts the matches among the newest runs of these filters; there may be more.';
    setText(shown, `Showing ${numbers.format(order.length)} of ${exact ? '' : 'at least '}${numbers.format(Math.max(total.count, order.length))}`);
    show(pager, order.length > 0 && (cursor !== null || pages > 1));
    show(moreButton, cursor !== null);
  }

  function emptyState() {
    if (filtered(filters)) {
      const clear = h('button', { type: 'button', class: 'button', text: 'Clear filters' });
      clear.addEventListener('click', clearFilters);
      return h('div', { class: 'card runs-empty' }, icon('pending'), h('h2', { class: 'runs-empty-title', text: 'No runs match these filters' }), h('p', { class: 'muted', text: 'Change or clear the filters to see more runs.' }), clear);
    }
    const trigger = functionsCache.flatMap((fn) => fn.triggers ?? []).find((item) => item.type === 'EVENT' && !item.value.includes('*'));
    const name = trigger?.value ?? 'app/hello.world';
    const command = `curl -X POST ${location.origin}/e/dev \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify({ name, data: {} })}'`;
    return h(
      'div',
      { class: 'card runs-empty' },
      icon('play'),
      h('h2', { class: 'runs-empty-title', text: 'No runs yet' }),
      h('p', { class: 'muted' }, 'Functions run when an event they are triggered by arrives. Send one to this engine (any event key works):'),
      h('div', { class: 'code-block runs-empty-code' }, h('pre', { class: 'code', tabindex: '0', text: command }), copyButton(command, 'Copy command')),
      functionsCache.length === 0 && h('p', { class: 'muted small' }, 'No functions are synced yet: ', h('a', { href: '/apps', text: 'add your app' }), ' first.'),
    );
  }

  /** A search whose window held no match: older runs are still to be searched. */
  function searchOnState() {
    const more = h('button', { type: 'button', class: 'button', text: 'Search older runs' });
    more.addEventListener('click', loadMore);
    return h('div', { class: 'card runs-empty' }, icon('pending'), h('h2', { class: 'runs-empty-title', text: 'No match among the newest runs' }), h('p', { class: 'muted', text: 'A search checks a window of runs at a time, newest first; older runs may match.' }), more);
  }

  function showRows() {
    if (order.length === 0) {
      if (cursor !== null) showBody('search-on', searchOnState);
      else showBody(filtered(filters) ? 'empty-filtered' : 'empty-none', emptyState);
      showCount();
      return;
    }
    showBody('table', () => table);
    // Put the rows in order, moving as few as possible so focus and scroll stay where they are.
    const wanted = new Set(order);
    for (const tr of [...tbody.children]) {
      if (!wanted.has(tr.dataset.runId)) tr.remove();
    }
    let next = tbody.firstElementChild;
    for (const id of order) {
      const element = rows.get(id).element;
      if (element === next) next = next.nextElementSibling;
      else tbody.insertBefore(element, next);
    }
    showCount();
  }

  function put(run) {
    const row = rows.get(run.id);
    if (row) row.update(run);
    else rows.set(run.id, new Row(run, filters.time_field, (link) => link.click()));
  }

  function prune() {
    const wanted = new Set(order);
    for (const id of rows.keys()) if (!wanted.has(id)) rows.delete(id);
  }

  function showFailure(exc) {
    failed = exc;
    if (exc.status === 400 && /^'query'/.test(exc.message)) {
      showSearchError(expressionError(exc.message, filters.query));
      showBody('search-error', () => h('p', { class: 'card runs-empty muted', text: 'Fix the search above to see runs.' }));
    } else {
      const retry = h('button', { type: 'button', class: 'button', text: 'Try again' });
      retry.addEventListener('click', () => load());
      const clear = filtered(filters) && h('button', { type: 'button', class: 'button', text: 'Clear filters' });
      clear?.addEventListener('click', clearFilters);
      showBody('error', () => [errorBox(`The runs could not be listed: ${exc.message}`), h('div', { class: 'runs-error-actions' }, retry, clear)], { force: true });
    }
    total = null;
    show(pager, false);
    setText(count, '');
  }

  // Loading ----------------------------------------------------------------------------------

  /** Load the first page for the current filters, replacing what is shown. */
  function load() {
    const promise = firstPage().finally(() => {
      if (pending === promise) pending = null;
    });
    pending = promise;
    return promise;
  }

  async function firstPage() {
    const mine = ++generation;
    const key = JSON.stringify(addressOf(filters));
    const sameList = key === loadedKey;
    if (!sameList) {
      if (body.dataset.state) body.setAttribute('aria-busy', 'true');
      else showBody('loading', () => h('p', { class: 'runs-loading' }, icon('running'), 'Loading runs…'));
    }
    try {
      const answer = await get('/runs', requestOf(filters));
      if (mine !== generation) return;
      failed = null;
      showSearchError(null);
      loadedKey = key;
      total = { count: answer.total_count, exact: answer.total_count_exact };
      cursor = answer.next_cursor;
      pages = 1;
      order = answer.runs.map((run) => run.id);
      if (!sameList) {
        rows = new Map();
        tbody.replaceChildren();
        setText(timeHeader, TIME_FIELDS.find(([value]) => value === filters.time_field)[1]);
      }
      answer.runs.forEach(put);
      prune();
      showRows();
    } catch (exc) {
      if (mine !== generation) return;
      if (exc.status === 0 && loadedKey === key) throw exc; // keep the rows; the shell says why
      loadedKey = key;
      order = [];
      rows = new Map();
      tbody.replaceChildren();
      showFailure(exc);
      if (exc.status === 0) throw exc;
    } finally {
      if (mine === generation) body.removeAttribute('aria-busy');
    }
  }

  /** The live refresh: ask for the first page again and merge it into what is shown. */
  async function refresh() {
    if (pending) return pending;
    if (failed && failed.status >= 400 && failed.status < 500) return; // these filters are refused
    if (loadedKey !== JSON.stringify(addressOf(filters)) || failed) return load();
    const mine = generation;
    const answer = await get('/runs', requestOf(filters));
    if (mine !== generation) return;
    total = { count: answer.total_count, exact: answer.total_count_exact };
    const first = answer.runs.map((run) => run.id);
    if (pages <= 1 || answer.next_cursor === null) {
      order = first;
      cursor = answer.next_cursor;
      pages = 1;
    } else {
      // Later pages stay: the rows after the last one the first page still holds.
      const inFirst = new Set(first);
      let last = -1;
      order.forEach((id, index) => {
        if (inFirst.has(id)) last = index;
      });
      order = [...first, ...order.slice(last + 1).filter((id) => !inFirst.has(id))];
    }
    answer.runs.forEach(put);
    prune();
    showRows();
  }

  async function loadMore() {
    if (cursor === null) return;
    const mine = generation;
    moreButton.disabled = true;
    setText(moreButton, 'Loading…');
    try {
      const answer = await get('/runs', requestOf(filters, { cursor }));
      if (mine !== generation) return;
      cursor = answer.next_cursor;
      pages += 1;
      for (const run of answer.runs) {
        if (!rows.has(run.id)) order.push(run.id);
        put(run);
      }
      showRows();
    } catch (exc) {
      toast(`More runs could not be loaded: ${exc.message}`, { error: true });
    } finally {
      moreButton.disabled = false;
      setText(moreButton, 'Load more');
    }
  }

  async function loadChoices() {
    try {
      const [fns, apps] = await Promise.all([get('/functions'), get('/apps')]);
      functionsCache = fns.functions;
      const severalApps = new Set(fns.functions.map((fn) => fn.app_id)).size > 1;
      functionPicker.setOptions(fns.functions.map((fn) => ({ value: fn.id, label: fn.name || fn.id, detail: severalApps ? fn.app_id : null })));
      appPicker.setOptions(
        apps.apps.filter((app) => app.name).map((app) => ({ value: app.name, label: app.name, detail: plural(app.function_count, 'function') })),
      );
      if (body.dataset.state === 'empty-none') showBody('empty-none', emptyState, { force: true });
    } catch (exc) {
      functionPicker.setOptions([]);
      appPicker.setOptions([]);
    }
  }

  // Changing filters -------------------------------------------------------------------------

  async function applySearch() {
    const text = searchInput.value.trim();
    const mine = ++searchSeq;
    const cleared = { query: '', run_id: '', event_id: '' };
    if (!text) return change(cleared);
    if (!ULID.test(text)) return change({ ...cleared, query: text });
    // 26 characters of Crockford base 32: a run id if a run has it, otherwise an event id.
    try {
      const probe = await get('/runs', { run_id: text, limit: 1 });
      if (mine !== searchSeq) return;
      change({ ...cleared, [probe.runs.length ? 'run_id' : 'event_id']: text });
    } catch (exc) {
      if (mine === searchSeq) showSearchError(exc.message);
    }
  }

  function clearFilters() {
    customRange = false;
    searchInput.value = '';
    go(readFilters(new URLSearchParams()));
  }

  function update(params) {
    const next = readFilters(params);
    const changed = JSON.stringify(addressOf(next)) !== JSON.stringify(addressOf(filters));
    filters = next;
    syncControls();
    if (changed || loadedKey === null) load().catch(() => {});
  }

  // Bulk cancel ------------------------------------------------------------------------------

  async function openBulkCancel() {
    let fns = functionsCache;
    try {
      fns = (await get('/functions')).functions;
      functionsCache = fns;
    } catch (exc) {
      toast(`The functions could not be listed: ${exc.message}`, { error: true });
      return;
    }
    const fn = h(
      'select',
      { required: true, name: 'function_id' },
      h('option', { value: '', text: 'Choose a function…' }),
      fns.map((item) => h('option', { value: item.id, text: item.app_id ? `${item.name || item.id} (${item.app_id})` : item.name || item.id })),
    );
    if (filters.function.length === 1) fn.value = filters.function[0];
    const from = textField('Queued from', { type: 'datetime-local', step: 60 });
    const until = textField('Queued until', { type: 'datetime-local', step: 60 });
    const expr = textField('If (CEL over event)', {
      multiline: true,
      rows: 2,
      class: 'code-input',
      placeholder: 'event.data.user == 2',
      spellcheck: 'false',
      autocapitalize: 'off',
      autocomplete: 'off',
    });
    const estimate = h('p', { class: 'runs-dry-run', role: 'status', 'aria-live': 'polite' });
    let timer = null;
    let seq = 0;

    const body = () => ({
      function_id: fn.value,
      from: isoOf(from.input.value) || undefined,
      until: isoOf(until.input.value) || undefined,
      if: expr.input.value.trim() || undefined,
    });

    async function dryRun() {
      const mine = ++seq;
      if (!fn.value) {
        estimate.className = 'runs-dry-run muted';
        setText(estimate, 'Choose a function to see how many of its runs this cancels.');
        return;
      }
      estimate.className = 'runs-dry-run muted';
      setText(estimate, 'Counting matching runs…');
      try {
        const answer = await post('/cancellations', { ...body(), dry_run: true });
        if (mine !== seq) return;
        estimate.className = answer.count ? 'runs-dry-run runs-dry-run-hit' : 'runs-dry-run muted';
        estimate.dataset.count = String(answer.count);
        setText(estimate, answer.count ? `${plural(answer.count, 'active run')} match and will be cancelled.` : 'No active runs match.');
      } catch (exc) {
        if (mine !== seq) return;
        delete estimate.dataset.count;
        estimate.className = 'runs-dry-run runs-dry-run-error';
        setText(estimate, expressionError(exc.message, expr.input.value.trim()));
      }
    }
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(dryRun, DRY_RUN_DELAY_MS);
    };
    for (const input of [fn, from.input, until.input, expr.input]) {
      input.addEventListener('input', later);
      input.addEventListener('change', later);
    }

    const dialog = formDialog({
      title: 'Cancel runs',
      dismissLabel: 'Close',
      description: 'Cancels the queued and running runs of one function, optionally only those queued in a time range or whose triggering event matches an expression. Runs that have ended are not touched.',
      fields: [
        h('label', { class: 'field' }, h('span', { class: 'field-label', text: 'Function' }), fn),
        h('div', { class: 'runs-dialog-range' }, from.element, until.element),
        expr.element,
        h('p', { class: 'field-hint runs-dialog-hint' }, 'For example ', h('code', { text: 'event.data.user != 2' }), '. Leave it empty to cancel every active run of the function.'),
        estimate,
      ],
      submitLabel: 'Cancel runs',
      danger: true,
      async onSubmit() {
        clearTimeout(timer);
        seq += 1;
        const answer = await post('/cancellations', body());
        toast(`Cancelled ${plural(answer.count, 'run')}`);
        load().catch(() => {});
      },
    });
    dialog.addEventListener('close', () => {
      clearTimeout(timer);
      seq += 1;
    });
    dryRun();
    fn.focus();
  }

  syncControls();
  showCount();
  loadChoices();
  load().catch(() => {});

  return {
    update,
    refresh,
    unmount() {
      generation += 1;
      document.removeEventListener('click', closePickers);
    },
  };
}
