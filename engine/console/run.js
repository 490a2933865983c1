// Run details: one run's facts, input, output or error, its step timeline and the runs it is
// linked to, with Cancel and Rerun.
//
// Refreshing asks the engine again only while the run is active. Each part of the page (and each
// step of the timeline) is rebuilt only when its own data changed, so expanded steps, opened stack
// traces, loaded outputs, scroll and focus survive; the timeline's bars are laid out again on
// every refresh because their axis runs to "now" while the run is active.

import { get, post } from './api.js';
import { formDialog } from './dialog.js';
import { copyButton, errorBox, facts, h, icon, idText, jsonBlock, statusBadge, titleCase, toast } from './dom.js';
import { absoluteTime, duration, elapsed, fullTime, relativeTime } from './time.js';

const ACTIVE = new Set(['QUEUED', 'RUNNING']);
// Step kinds and their labels; each has its icon `step-<kind>` in dom.js.
const KINDS = {
  RUN: 'Run',
  SLEEP: 'Sleep',
  WAIT_FOR_EVENT: 'Wait for event',
  INVOKE: 'Invoke',
  SEND_EVENT: 'Send event',
  AI_GATEWAY: 'AI',
  PARALLEL: 'Parallel',
  FUNCTION: 'Function call',
};

function kindIcon(kind) {
  const svg = icon(`step-${(kind in KINDS ? kind : 'RUN').toLowerCase().replaceAll('_', '-')}`);
  svg.classList.add('tl-kind-icon');
  return svg;
}

const at = (iso) => (iso ? Date.parse(iso) : null);

/** A time as "Nov 30, 04:32:55" over "2 minutes ago" (each with the full time in its title). */
function when(iso) {
  if (!iso) return null;
  return h('span', { class: 'run-when' }, absoluteTime(iso), ' ', h('span', { class: 'muted small' }, relativeTime(iso)));
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hourCycle: 'h23' });

/** A step's time to the millisecond ("04:32:55.470"), the full date in its title. */
function preciseTime(iso) {
  if (!iso) return null;
  return h('time', { datetime: iso, title: fullTime(iso), class: 'num' }, clockFormat.format(new Date(iso)));
}

function runLink(runId, text = null) {
  return h('a', { href: `/run?runID=${encodeURIComponent(runId)}`, class: 'mono' }, text ?? idText(runId));
}

function eventLink(eventId) {
  return h('a', { href: `/events?event=${encodeURIComponent(eventId)}`, class: 'mono' }, idText(eventId));
}

function functionLink(slug, name = null) {
  return h('a', { href: `/functions?function=${encodeURIComponent(slug)}`, title: slug }, name || slug);
}

/** Part of the page that is rebuilt only when its data changed. */
function part(build) {
  let key = null;
  let node = h('div', { hidden: true });
  return {
    get node() {
      return node;
    },
    set(value, ...args) {
      const next = JSON.stringify(value);
      if (next === key) return false;
      key = next;
      const built = build(value, ...args) ?? h('div', { hidden: true });
      node.replaceWith(built);
      node = built;
      return true;
    },
    reset() {
      key = null;
    },
  };
}

/** Put `nodes` into `parent` in order, moving only those not already in place. */
function reconcile(parent, nodes) {
  let ref = parent.firstChild;
  for (const node of nodes) {
    if (node === ref) {
      ref = ref.nextSibling;
      continue;
    }
    parent.insertBefore(node, ref);
  }
  while (ref) {
    const next = ref.nextSibling;
    ref.remove();
    ref = next;
  }
}

export function mount(root, ctx) {
  let runId = ctx.params.get('runID')?.trim() || null;
  let detail = null; // the last answer of GET /runs/{id}
  let state = 'loading'; // loading | ready | missing | error
  let generation = 0; // answers for an earlier runID are dropped
  let expanded = new Set(); // timeline keys whose details are open
  let opened = new Set(); // <details> keys that are open
  let fullOutputs = new Map(); // step id -> output read with "Load full output"
  let rows = new Map(); // timeline key -> {json, node}

  const back = h('a', { class: 'back-link', href: '/runs' }, icon('back'), 'Runs');
  const status = h('div', { class: 'run-state' });
  const head = part(renderHead);
  const factsPart = part(renderFacts);
  const io = part(renderIO);
  const links = part(renderLinks);
  const stepCount = h('span', { class: 'run-count muted' });
  const list = h('ul', { class: 'tl-list', 'aria-label': 'Steps' });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => {
    const tick = h('span', { class: 'tl-tick', dataset: { share: String(share) } });
    tick.style.setProperty('--share', String(share));
    return tick;
  });
  const axis = h(
    'div',
    { class: 'tl-row tl-axis', 'aria-hidden': 'true' },
    h('span', { class: 'tl-col-name', text: 'Step' }),
    h('span', { class: 'tl-col-status', text: 'Status' }),
    h('span', { class: 'tl-col-start', text: 'Start' }),
    h('span', { class: 'tl-col-duration', text: 'Duration' }),
    h('span', { class: 'tl-ticks' }, ticks),
  );
  const emptySteps = h('p', { class: 'tl-empty muted' });
  const legend = h(
    'div',
    { class: 'tl-legend small muted', 'aria-hidden': 'true' },
    h('span', {}, h('i', { class: 'tl-swatch tl-swatch-queue' }), 'Queued'),
    h('span', {}, h('i', { class: 'tl-swatch tl-swatch-exec' }), 'Executing'),
    h('span', {}, h('i', { class: 'tl-swatch tl-swatch-wait' }), 'Waiting'),
    h('span', {}, h('i', { class: 'tl-swatch tl-swatch-failed' }), 'Failed attempt'),
  );
  const timeline = h(
    'section',
    { class: 'run-steps', 'aria-labelledby': 'run-steps-title' },
    h('h2', { class: 'section-title', id: 'run-steps-title' }, 'Steps ', stepCount),
    h('div', { class: 'card tl' }, axis, list, emptySteps),
    legend,
  );
  const body = h('div', { class: 'run-body' }, head.node, factsPart.node, io.node, timeline, links.node);
  root.append(back, status, body);

  function reset() {
    detail = null;
    lastText = null;
    state = 'loading';
    expanded = new Set();
    opened = new Set();
    fullOutputs = new Map();
    rows = new Map();
    for (const each of [head, factsPart, io, links]) each.reset();
  }

  function showState() {
    body.hidden = state !== 'ready';
    if (state === 'ready') {
      status.replaceChildren();
      return;
    }
    if (!runId) {
      ctx.setTitle('Run');
      status.replaceChildren(
        h('h1', { class: 'page-title', text: 'No run selected' }),
        h('p', { class: 'empty' }, 'This page shows one run. Open a run from the ', h('a', { href: '/runs', text: 'Runs list' }), ', or add ', h('code', { text: '?runID=<run id>' }), ' to the address.'),
      );
    } else if (state === 'missing') {
      ctx.setTitle('Run not found');
      status.replaceChildren(
        h(
          'div',
          { class: 'card card-pad run-missing' },
          h('h1', { class: 'page-title', text: `Run ${runId} not found` }),
          h('p', { class: 'muted' }, 'The engine has no run with this id. The id may be mistyped, or the run was older than the history the engine keeps.'),
          h('a', { class: 'button', href: '/runs' }, 'See all runs'),
        ),
      );
    } else if (state === 'loading') {
      ctx.setTitle('Run');
      status.replaceChildren(h('p', { class: 'empty', role: 'status', text: 'Loading run…' }));
    }
  }

  let inflight = null;
  let lastText = null; // the last answer as JSON, to re-render only when it changed

  /** Ask the engine for the run; a call while one is under way shares its answer. */
  function load({ fresh = false } = {}) {
    if (!inflight || fresh) {
      const pending = fetchRun().finally(() => {
        if (inflight === pending) inflight = null;
      });
      inflight = pending;
    }
    return inflight;
  }

  async function fetchRun() {
    const mine = ++generation;
    if (!runId) {
      state = 'missing';
      showState();
      return;
    }
    let answer;
    try {
      answer = await get(`/runs/${encodeURIComponent(runId)}`);
    } catch (exc) {
      if (mine !== generation) return;
      if (exc.status === 404) {
        state = 'missing';
        showState();
        return;
      }
      if (state !== 'ready') {
        state = 'error';
        showState();
        status.replaceChildren(h('h1', { class: 'page-title', text: 'Run' }), errorBox(`The run could not be loaded: ${exc.message}`));
      }
      throw exc;
    }
    if (mine !== generation) return;
    const text = JSON.stringify(answer);
    if (state === 'ready' && text === lastText) {
      layout(); // nothing changed but the clock: only the bars of what is still going move
      return;
    }
    lastText = text;
    detail = answer;
    state = 'ready';
    showState();
    render();
  }

  function render() {
    const focusKey = document.activeElement?.closest?.('[data-key]')?.dataset.key ?? null;
    const { run } = detail;
    ctx.setTitle(`${run.function_name || run.function_id} run`);
    head.set({ run: detail.run }, detail);
    factsPart.set({ run: detail.run, trigger: detail.trigger, attempts: detail.attempts.length, failed: detail.attempts.filter((a) => a.error).length, parent: detail.links.invoked_by }, detail);
    io.set({ status: run.status, input: detail.input, output: detail.output, error: detail.error });
    links.set(detail.links, detail);
    renderTimeline();
    layout();
    if (focusKey && !root.contains(document.activeElement)) {
      root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
    }
  }

  // Head and facts --------------------------------------------------------------------------

  function renderHead() {
    const { run } = detail;
    const actions = h('div', { class: 'page-actions' });
    if (ACTIVE.has(run.status)) {
      actions.append(h('button', { type: 'button', class: 'button button-danger', dataset: { key: 'cancel' }, onclick: confirmCancel }, icon('cancelled'), 'Cancel'));
    }
    actions.append(h('button', { type: 'button', class: 'button', dataset: { key: 'rerun' }, onclick: rerun }, icon('sync'), 'Rerun'));
    return h(
      'header',
      { class: 'page-head run-head' },
      h(
        'div',
        { class: 'run-heading' },
        h('div', { class: 'run-title-line' }, h('h1', { class: 'page-title', text: run.function_name || run.function_id }), statusBadge(run.status)),
        h(
          'p',
          { class: 'page-sub run-sub' },
          h('span', { class: 'run-sub-item' }, 'Run ', h('span', { class: 'mono run-id', text: run.id }), copyButton(run.id, 'Copy run ID')),
          run.app_id && h('span', { class: 'tag', title: 'App' }, run.app_id),
        ),
      ),
      actions,
    );
  }

  function renderFacts() {
    const { run, trigger, attempts } = detail;
    const active = ACTIVE.has(run.status);
    const failed = attempts.filter((a) => a.error).length;
    let runDuration = null;
    if (run.duration_ms !== null && run.duration_ms !== undefined) runDuration = h('span', { class: 'num' }, duration(run.duration_ms));
    else if (active && run.started_at) runDuration = h('span', { class: 'num run-ticking' }, elapsed(run.started_at));
    return facts([
      ['Status', statusBadge(run.status)],
      ['Function', functionLink(run.function_id, run.function_name)],
      ['App', run.app_id],
      ['Run ID', h('span', { class: 'run-id-fact' }, idText(run.id, 8), copyButton(run.id, 'Copy run ID'))],
      ['Trigger', triggerView(trigger)],
      ['Invoked by', detail.links.invoked_by && runLink(detail.links.invoked_by.run_id)],
      ['Queued', when(run.queued_at)],
      ['Started', run.started_at ? when(run.started_at) : h('span', { class: 'muted', text: 'Not yet' })],
      ['Ended', run.ended_at ? when(run.ended_at) : active ? h('span', { class: 'muted', text: 'Still running' }) : null],
      ['Duration', runDuration],
      ['Attempts', attempts.length ? `${attempts.length}${failed ? ` · ${failed} failed` : ''}` : h('span', { class: 'muted', text: active ? 'None yet' : 'None' })],
    ]);
  }

  function triggerView(trigger) {
    if (trigger.cron_schedule) {
      return h('span', {}, 'Cron ', h('code', { text: trigger.cron_schedule }));
    }
    const ids = trigger.event_ids ?? [];
    const shown = ids.slice(0, 5).map(eventLink);
    return h(
      'span',
      { class: 'run-trigger' },
      trigger.is_batch ? h('span', {}, `Batch of ${ids.length} `, h('code', { text: trigger.event_name ?? '' })) : h('code', { text: trigger.event_name ?? '' }),
      h('span', { class: 'run-trigger-ids' }, shown, ids.length > shown.length && h('span', { class: 'muted', text: `and ${ids.length - shown.length} more` })),
    );
  }

  // Input, output, error --------------------------------------------------------------------

  function renderIO() {
    const { run, input, output, error } = detail;
    const events = input?.events ?? [];
    const inputBlock = h(
      'section',
      { class: 'run-io-part', 'aria-labelledby': 'run-input-title' },
      h('h2', { class: 'section-title', id: 'run-input-title' }, events.length > 1 ? `Input · ${events.length} events` : 'Input'),
      events.length ? jsonBlock(events.length > 1 ? events : input.event, { label: 'Copy input' }) : h('p', { class: 'empty', text: 'No event payload.' }),
    );
    let result;
    if (run.status === 'FAILED') {
      result = h(
        'section',
        { class: 'run-io-part', 'aria-labelledby': 'run-output-title' },
        h('h2', { class: 'section-title', id: 'run-output-title', text: 'Error' }),
        error ? errorView(error, 'run-error') : h('p', { class: 'empty', text: 'The engine recorded no error for this run.' }),
      );
    } else {
      let content;
      if (run.status === 'COMPLETED') content = jsonBlock(output, { label: 'Copy output' });
      else if (run.status === 'CANCELLED') content = h('p', { class: 'empty', text: 'The run was cancelled before it returned.' });
      else content = h('p', { class: 'empty', text: 'The run has not returned yet.' });
      result = h('section', { class: 'run-io-part', 'aria-labelledby': 'run-output-title' }, h('h2', { class: 'section-title', id: 'run-output-title', text: 'Output' }), content);
    }
    return h('div', { class: 'run-io' }, inputBlock, result);
  }

  /** An error's class and message, and its stack in a disclosure. */
  function errorView(error, key) {
    const stack = error.stack?.trim();
    return h(
      'div',
      { class: 'run-error' },
      h('div', { class: 'error-box run-error-box' }, h('span', { class: 'run-error-name mono', text: error.name || 'Error' }), h('span', { class: 'run-error-message', text: error.message ?? '' })),
      stack && disclosure(key, 'Stack trace', h('pre', { class: 'code run-stack', tabindex: '0', text: stack })),
    );
  }

  function disclosure(key, summary, content) {
    const details = h('details', { class: 'run-details', open: opened.has(key) }, h('summary', { dataset: { key: `summary:${key}` } }, summary), content);
    details.addEventListener('toggle', () => (details.open ? opened.add(key) : opened.delete(key)));
    return details;
  }

  // Links to other runs --------------------------------------------------------------------

  function renderLinks() {
    const { links: related, steps } = detail;
    const stepName = (id) => steps.find((s) => s.id === id)?.name ?? 'a step';
    const items = [];
    if (related.invoked_by) {
      items.push(h('li', { class: 'run-link' }, h('span', { class: 'run-link-what muted', text: 'This run was invoked by run' }), runLink(related.invoked_by.run_id)));
    }
    for (const { step_id: stepId, run } of related.invoked) {
      items.push(
        h(
          'li',
          { class: 'run-link' },
          h('span', { class: 'run-link-what muted' }, 'Step ', h('strong', { text: stepName(stepId) }), ' invoked'),
          h('a', { href: `/run?runID=${encodeURIComponent(run.id)}`, class: 'run-link-run' }, run.function_name || run.function_id, ' ', idText(run.id)),
          statusBadge(run.status),
        ),
      );
    }
    for (const { step_id: stepId, event_id: eventId, runs } of related.sent_events) {
      items.push(
        h(
          'li',
          { class: 'run-link' },
          h('span', { class: 'run-link-what muted' }, 'Step ', h('strong', { text: stepName(stepId) }), ' sent event ', eventLink(eventId), runs.length ? ', which started' : ', which started no run'),
          runs.length
            ? h('span', { class: 'run-link-runs' }, runs.map((run) => h('span', { class: 'run-link-item' }, h('a', { href: `/run?runID=${encodeURIComponent(run.id)}` }, run.function_name || run.function_id, ' ', idText(run.id)), statusBadge(run.status))))
            : null,
        ),
      );
    }
    if (!items.length) return null;
    return h(
      'section',
      { class: 'run-links', 'aria-labelledby': 'run-links-title' },
      h('h2', { class: 'section-title', id: 'run-links-title', text: 'Related runs' }),
      h('ul', { class: 'card run-link-list' }, items),
    );
  }

  // Step timeline ----------------------------------------------------------------------------

  function renderTimeline() {
    const { run, steps, attempts } = detail;
    const top = [];
    const groups = new Map();
    for (const step of steps) {
      const members = step.group_id ? steps.filter((s) => s.group_id === step.group_id) : [step];
      if (members.length < 2) top.push(row(step.id, step, () => stepRow(step)));
      else if (!groups.has(step.group_id)) {
        groups.set(step.group_id, true);
        top.push(groupItem(step.group_id, members));
      }
    }
    if (attempts.some((a) => a.error)) {
      top.push(row('function', { run, attempts }, () => functionRow(run, attempts)));
    }
    reconcile(list, top);
    for (const key of [...rows.keys()]) if (!root.contains(rows.get(key).node)) rows.delete(key);
    setTextIf(stepCount, steps.length ? `· ${steps.length}` : '');
    emptySteps.hidden = top.length > 0;
    axis.hidden = top.length === 0;
    emptySteps.textContent = ACTIVE.has(run.status) ? 'No steps yet: they appear here as the function reports them.' : 'This run has no steps: the function did its work outside any step.';
  }

  function setTextIf(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** A timeline item, reused while its data is unchanged. */
  function row(key, data, build) {
    const json = JSON.stringify(data);
    const cached = rows.get(key);
    if (cached && cached.json === json) return cached.node;
    const node = build();
    rows.set(key, { json, node });
    return node;
  }

  function groupItem(groupId, members) {
    const items = members.map((step) => row(step.id, step, () => stepRow(step)));
    const key = `group:${groupId}`;
    let cached = rows.get(key);
    if (!cached) {
      const sublist = h('ul', { class: 'tl-list tl-sublist', 'aria-label': 'Parallel steps' });
      const header = h('div', { class: 'tl-row tl-group-row' });
      cached = { json: '', node: h('li', { class: 'tl-item tl-group' }, header, sublist), header, sublist };
      rows.set(key, cached);
    }
    const json = JSON.stringify(members.map((s) => [s.status, s.queued_at, s.started_at, s.ended_at]));
    if (cached.json !== json) {
      cached.json = json;
      const starts = members.map((s) => at(s.queued_at ?? s.started_at)).filter((t) => t !== null);
      const ends = members.map((s) => at(s.ended_at));
      const from = starts.length ? Math.min(...starts) : at(detail.run.queued_at);
      const open = ends.some((e) => e === null);
      const to = open ? null : Math.max(...ends);
      const done = members.filter((s) => s.status === 'COMPLETED').length;
      cached.header.replaceChildren(
        h('span', { class: 'tl-col-name tl-group-name' }, h('span', { class: 'tl-chevron-space' }), kindIcon('PARALLEL'), h('span', { class: 'tl-name', text: 'Parallel' }), h('span', { class: 'tl-kind', text: `${members.length} steps` })),
        h('span', { class: 'tl-col-status small muted', text: `${done} of ${members.length} done` }),
        h('span', { class: 'tl-col-start num small muted' }, startOffset(new Date(from).toISOString())),
        h('span', { class: 'tl-col-duration num small muted' }, to !== null ? duration(to - from) : ''),
        track([bar('group', from, to)], `Parallel group`),
      );
    }
    reconcile(cached.sublist, items);
    return cached.node;
  }

  function startOffset(iso) {
    if (!iso) return h('span', { class: 'muted', text: '—' });
    const offset = Date.parse(iso) - Date.parse(detail.run.queued_at);
    return h('span', { title: fullTime(iso) }, `+${duration(Math.max(0, offset))}`);
  }

  function stepDuration(step) {
    if (step.duration_ms !== null && step.duration_ms !== undefined) return duration(step.duration_ms);
    if (step.started_at && !step.ended_at && ACTIVE.has(detail.run.status)) return elapsed(step.started_at);
    return h('span', { class: 'muted', text: '—' });
  }

  function bar(kind, from, to) {
    return h('span', { class: `tl-bar tl-bar-${kind}`, dataset: { from: String(from), to: to === null ? 'now' : String(to) } });
  }

  function track(bars, label) {
    return h('span', { class: 'tl-track', role: 'img', 'aria-label': label }, bars);
  }

  function stepBars(step) {
    const bars = [];
    const queued = at(step.queued_at);
    const started = at(step.started_at);
    const ended = at(step.ended_at);
    if (queued !== null && started !== null && started > queued) bars.push(bar('queue', queued, started));
    if (started === null) {
      if (queued !== null) bars.push(bar('queue', queued, ended));
      return bars;
    }
    const attempts = step.attempts ?? [];
    if (!attempts.length) {
      bars.push(bar(step.status === 'WAITING' || step.status === 'RUNNING' ? 'wait-active' : 'wait', started, ended));
      return bars;
    }
    bars.push(bar('span', started, ended));
    for (const attempt of attempts.slice(1)) bars.push(...attemptBars(attempt));
    if (attempts[0]) bars.push(...attemptBars({ ...attempts[0], queued_at: null }));
    return bars;
  }

  /** An attempt's wait for a worker (lighter) and its call (solid, red when it failed). */
  function attemptBars(attempt) {
    const bars = [];
    const due = at(attempt.queued_at);
    const started = at(attempt.started_at);
    if (due !== null && started !== null && started > due) bars.push(bar('queue', due, started));
    if (started !== null) bars.push(bar(attempt.error ? 'failed' : 'exec', started, at(attempt.ended_at)));
    return bars;
  }

  function barLabel(step) {
    const parts = [];
    if (step.queue_ms) parts.push(`queued ${duration(step.queue_ms)}`);
    if (step.execution_ms !== null && step.execution_ms !== undefined) parts.push(`executed ${duration(step.execution_ms)}`);
    if (step.duration_ms !== null && step.duration_ms !== undefined) parts.push(`took ${duration(step.duration_ms)} in all`);
    return `${step.name}: ${parts.join(', ') || titleCase(step.status)}`;
  }

  function stepRow(step) {
    const key = `step:${step.id}`;
    const kindLabel = KINDS[step.type] ?? titleCase(step.type);
    const panelId = `tl-detail-${step.id}`;
    const panel = h('div', { class: 'tl-detail', id: panelId, hidden: !expanded.has(key) }, stepDetail(step, key));
    const failedAttempts = (step.attempts ?? []).filter((a) => a.error).length;
    const toggle = disclosureButton(key, panelId, h('span', { class: 'tl-name', text: step.name || step.id }), h('span', { class: 'tl-kind', text: kindLabel }), kindIcon(step.type), failedAttempts > 0 && h('span', { class: 'tl-retries', title: `${failedAttempts} failed attempt${failedAttempts > 1 ? 's' : ''}` }, `${failedAttempts}×`));
    const statusCell = h('span', { class: 'tl-col-status' }, statusBadge(step.status), step.retry_at && h('span', { class: 'tl-retry small muted' }, relativeTime(step.retry_at, 'retry ')));
    return h(
      'li',
      { class: 'tl-item', dataset: { stepId: step.id } },
      h(
        'div',
        { class: 'tl-row' },
        toggle,
        statusCell,
        h('span', { class: 'tl-col-start num small' }, startOffset(step.started_at ?? step.queued_at)),
        h('span', { class: 'tl-col-duration num' }, stepDuration(step)),
        track(stepBars(step), barLabel(step)),
      ),
      panel,
    );
  }

  function disclosureButton(key, panelId, name, kind, kindSvg, extra = null) {
    const button = h(
      'button',
      { type: 'button', class: 'tl-col-name tl-toggle', 'aria-expanded': String(expanded.has(key)), 'aria-controls': panelId, dataset: { key } },
      icon('chevron'),
      kindSvg,
      h('span', { class: 'tl-label' }, name, ' ', kind),
      extra,
    );
    button.addEventListener('click', () => {
      const open = button.getAttribute('aria-expanded') !== 'true';
      button.setAttribute('aria-expanded', String(open));
      document.getElementById(panelId).hidden = !open;
      if (open) expanded.add(key);
      else expanded.delete(key);
    });
    return button;
  }

  function functionRow(run, attempts) {
    const key = 'function';
    const panelId = 'tl-detail-function';
    const bars = [];
    for (const attempt of attempts) bars.push(...attemptBars(attempt));
    const failed = attempts.filter((a) => a.error).length;
    const first = attempts.find((a) => a.started_at);
    const last = [...attempts].reverse().find((a) => a.ended_at);
    const state = run.status === 'FAILED' ? 'FAILED' : ACTIVE.has(run.status) ? 'RUNNING' : run.status;
    return h(
      'li',
      { class: 'tl-item tl-function' },
      h(
        'div',
        { class: 'tl-row' },
        disclosureButton(key, panelId, h('span', { class: 'tl-name', text: 'Function' }), h('span', { class: 'tl-kind', text: `${attempts.length} call${attempts.length > 1 ? 's' : ''}, ${failed} failed` }), kindIcon('FUNCTION')),
        h('span', { class: 'tl-col-status' }, statusBadge(state)),
        h('span', { class: 'tl-col-start num small' }, startOffset(first?.started_at)),
        h('span', { class: 'tl-col-duration num' }, first && last ? duration(at(last.ended_at) - at(first.started_at)) : ''),
        track(bars, 'Function-level calls'),
      ),
      h(
        'div',
        { class: 'tl-detail', id: panelId, hidden: !expanded.has(key) },
        h('p', { class: 'small muted tl-note', text: 'Calls of the function that errored or returned outside any step.' }),
        attemptList(attempts, key),
      ),
    );
  }

  function stepDetail(step, key) {
    const parts = [];
    const timing = facts([
      ['Queued', preciseTime(step.queued_at)],
      ['Started', preciseTime(step.started_at)],
      ['Ended', preciseTime(step.ended_at)],
      ['Queue time', step.queue_ms !== null && step.queue_ms !== undefined ? duration(step.queue_ms) : null],
      ['Execution time', step.execution_ms !== null && step.execution_ms !== undefined ? duration(step.execution_ms) : null],
      ['Duration', step.duration_ms !== null && step.duration_ms !== undefined ? duration(step.duration_ms) : null],
      ['Next attempt', step.retry_at && when(step.retry_at)],
      ...stepInfo(step),
    ]);
    timing.classList.add('tl-facts');
    parts.push(timing);
    if ((step.attempts ?? []).length) {
      parts.push(h('h3', { class: 'tl-heading', text: 'Attempts' }), attemptList(step.attempts, key));
    }
    if (step.error && !(step.attempts ?? []).some((a) => a.error && a.error.message === step.error.message)) {
      parts.push(h('h3', { class: 'tl-heading', text: 'Error' }), errorView(step.error, `${key}:error`));
    }
    if (step.status === 'COMPLETED' || step.output !== null) parts.push(h('h3', { class: 'tl-heading', text: 'Output' }), outputView(step));
    parts.push(h('p', { class: 'tl-step-id small muted' }, 'Step ID ', h('span', { class: 'mono id', text: step.id })));
    return parts;
  }

  function stepInfo(step) {
    const info = step.info ?? {};
    const timedOut = info.timed_out ? h('span', { class: 'tag tl-timed-out', text: 'Timed out' }) : null;
    switch (step.type) {
      case 'SLEEP':
        return [['Sleeps until', when(info.sleep_until)]];
      case 'WAIT_FOR_EVENT':
        return [
          ['Waits for', info.event && h('code', { text: info.event })],
          ['Matching', info.if && h('code', { class: 'tl-expr', text: info.if })],
          ['Times out', info.timeout_at && h('span', {}, when(info.timeout_at), timedOut && ' ', timedOut)],
        ];
      case 'INVOKE':
        return [
          ['Invoked function', info.function_id && functionLink(info.function_id)],
          ['Invoked run', info.run_id && runLink(info.run_id)],
          ['Times out', info.timeout_at && h('span', {}, when(info.timeout_at), timedOut && ' ', timedOut)],
        ];
      case 'SEND_EVENT':
        return [['Sent events', info.event_ids?.length ? h('span', { class: 'tl-event-ids' }, info.event_ids.map(eventLink)) : null]];
      default:
        return [];
    }
  }

  function attemptList(attempts, key) {
    return h(
      'ol',
      { class: 'tl-attempts' },
      attempts.map((attempt) =>
        h(
          'li',
          { class: attempt.error ? 'tl-attempt tl-attempt-failed' : 'tl-attempt' },
          h(
            'div',
            { class: 'tl-attempt-head' },
            h('strong', { text: `Attempt ${attempt.attempt + 1}` }),
            attempt.error ? statusBadge('FAILED') : attempt.ended_at ? statusBadge('COMPLETED') : statusBadge('RUNNING'),
            attempt.started_at && h('span', { class: 'muted small' }, 'started ', preciseTime(attempt.started_at)),
            attempt.queue_ms !== null && attempt.queue_ms !== undefined && h('span', { class: 'muted small num', text: `queued ${duration(attempt.queue_ms)}` }),
            attempt.duration_ms !== null && attempt.duration_ms !== undefined && h('span', { class: 'muted small num', text: `ran ${duration(attempt.duration_ms)}` }),
          ),
          attempt.error && errorView(attempt.error, `${key}:attempt:${attempt.attempt}`),
        ),
      ),
    );
  }

  function outputView(step) {
    if (step.output_inline !== false) return jsonBlock(step.output, { label: 'Copy step output' });
    if (fullOutputs.has(step.id)) return jsonBlock(fullOutputs.get(step.id), { label: 'Copy step output' });
    const holder = h('div', { class: 'tl-big-output' });
    const button = h('button', { type: 'button', class: 'button button-small', dataset: { key: `load:${step.id}` } }, 'Load full output');
    button.addEventListener('click', async () => {
      button.disabled = true;
      button.textContent = 'Loading…';
      try {
        const full = await get(`/runs/${encodeURIComponent(detail.run.id)}/steps/${encodeURIComponent(step.id)}`);
        fullOutputs.set(step.id, full.output);
        const block = jsonBlock(full.output, { label: 'Copy step output' });
        holder.replaceWith(block);
        block.querySelector('pre')?.focus({ preventScroll: true });
      } catch (exc) {
        button.disabled = false;
        button.textContent = 'Load full output';
        toast(`The output could not be loaded: ${exc.message}`, { error: true });
      }
    });
    holder.append(h('p', { class: 'muted small', text: `The output is ${size(step.output_size)}, too large to show with the run.` }), button);
    return holder;
  }

  function size(bytes) {
    if (bytes === null || bytes === undefined) return 'large';
    if (bytes < 1024) return `${bytes} bytes`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  /** Place every bar on the axis from the run's queueing to its end (or now). */
  function layout() {
    if (!detail) return;
    const { run } = detail;
    const start = at(run.queued_at);
    let end = at(run.ended_at) ?? Date.now();
    const bars = list.querySelectorAll('.tl-bar');
    for (const el of bars) {
      const to = el.dataset.to === 'now' ? null : Number(el.dataset.to);
      if (to !== null && to > end) end = to;
    }
    const span = Math.max(end - start, 1);
    for (const el of bars) {
      const from = Number(el.dataset.from);
      const to = el.dataset.to === 'now' ? end : Number(el.dataset.to);
      const left = Math.min(Math.max((from - start) / span, 0), 1);
      const width = Math.min(Math.max((to - from) / span, 0), 1 - left);
      el.style.setProperty('--left', `${(left * 100).toFixed(3)}%`);
      el.style.setProperty('--width', `${(width * 100).toFixed(3)}%`);
    }
    for (const tick of ticks) {
      const text = duration(span * Number(tick.dataset.share));
      if (tick.textContent !== text) tick.textContent = text;
    }
  }

  // Actions --------------------------------------------------------------------------------

  function confirmCancel(event) {
    const { run } = detail;
    const opener = event.currentTarget;
    const dialog = formDialog({
      title: 'Cancel this run?',
      dismissLabel: 'Keep it running',
      description: `The ${run.function_name || run.function_id} run ${run.id} stops now: no further step runs, and a sleep or wait it is in ends. This cannot be undone.`,
      fields: [],
      submitLabel: 'Cancel run',
      danger: true,
      async onSubmit() {
        try {
          await post(`/runs/${encodeURIComponent(run.id)}/cancel`);
        } finally {
          await load({ fresh: true }).catch(() => {});
        }
        toast('Run cancelled');
      },
    });
    // Once cancelled, the Cancel button is gone: keep the keyboard in the page's actions.
    dialog.addEventListener('close', () => {
      if (!opener.isConnected) root.querySelector('[data-key="rerun"]')?.focus();
    });
  }

  async function rerun(event) {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const answer = await post(`/runs/${encodeURIComponent(detail.run.id)}/rerun`);
      toast('Rerun started');
      ctx.go('/run', { runID: answer.run_id });
    } catch (exc) {
      toast(`The run could not start again: ${exc.message}`, { error: true });
    } finally {
      button.disabled = false;
    }
  }

  showState();
  load().catch(() => {});

  return {
    update(params) {
      const next = params.get('runID')?.trim() || null;
      if (next === runId) return;
      runId = next;
      reset();
      showState();
      window.scrollTo(0, 0);
      load({ fresh: true }).catch(() => {});
    },
    live() {
      return Boolean(runId) && state !== 'missing' && !(state === 'ready' && !ACTIVE.has(detail.run.status));
    },
    async refresh() {
      if (!this.live()) return;
      await load();
      if (state === 'ready') layout();
    },
    unmount() {
      generation++;
    },
  };
}
