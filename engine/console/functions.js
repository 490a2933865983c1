// Functions: every function the synced apps serve, with its triggers; a function's detail shows
// the whole configuration the engine applies to it. Invoke starts a run with a payload.

import { get, post } from './api.js';
import { formDialog, jsonEditor } from './dialog.js';
import { copyButton, errorBox, facts, h, icon, show } from './dom.js';
import { backLink, busy, clickableRow, emptyState, expr, href, loading, pageHead } from './pagekit.js';
import { absoluteTime, relativeTime } from './time.js';

const SCOPES = { fn: 'this function', env: 'the environment', account: 'the account' };

export function mount(root, ctx) {
  let params = ctx.params;
  let functions = null; // the list, once loaded
  let generation = 0;

  function render() {
    const mine = ++generation;
    const slug = params.get('function');
    root.replaceChildren(loading(slug ? 'Loading the function…' : 'Loading functions…'));
    (slug ? get(`/functions/${encodeURIComponent(slug)}`) : get('/functions'))
      .then((answer) => {
        if (mine !== generation) return;
        if (slug) {
          renderDetail(answer);
        } else {
          functions = answer.functions;
          renderList();
        }
      })
      .catch((exc) => {
        if (mine !== generation) return;
        root.replaceChildren(
          slug ? backLink(listHref(), 'All functions') : pageHead('Functions', null),
          errorBox(exc.message),
        );
      });
  }

  const listHref = () => href('/functions', { q: params.get('q') });

  // The list

  function renderList() {
    ctx.setTitle('Functions');
    const count = functions.length;
    const head = pageHead('Functions', count ? `${count} function${count === 1 ? '' : 's'} from the synced apps.` : null);
    if (!count) {
      root.replaceChildren(
        head,
        emptyState(
          'No functions yet',
          h('p', {}, 'Functions appear here once an app that serves them is synced. Add your app\'s serve URL on the ',
            h('a', { href: '/apps', text: 'Apps' }), ' page, or start the engine with ', h('code', {}, '--sdk-url'), '.'),
        ),
      );
      return;
    }
    const search = h('input', {
      type: 'search', id: 'function-search', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'Name, ID, app or event', value: params.get('q') ?? '',
    });
    search.addEventListener('input', () => ctx.go('/functions', { q: search.value.trim() }, { replace: true }));
    const tbody = h('tbody');
    for (const fn of functions) tbody.append(functionRow(fn));
    const none = h('p', { class: 'table-empty', hidden: true }, 'No function matches this search.');
    root.replaceChildren(
      head,
      h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Find functions', onsubmit: (event) => event.preventDefault() },
        h('div', { class: 'field field-grow' }, h('label', { class: 'field-label', for: 'function-search', text: 'Search' }), search)),
      h('div', { class: 'table-wrap list-gap' },
        h('table', { class: 'table functions-table stack-table' },
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Function' }),
            h('th', { scope: 'col', text: 'Triggers' }),
            h('th', { scope: 'col', text: 'App' }),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: 'Actions' })))),
          tbody),
        none),
    );
    filterRows();
  }

  function functionRow(fn) {
    const link = h('a', { class: 'function-name', href: href('/functions', { function: fn.id }), text: fn.name });
    const invokeButton = h('button', { type: 'button', class: 'button button-small', 'aria-label': `Invoke ${fn.name}` }, icon('play'), 'Invoke');
    invokeButton.addEventListener('click', () => invoke(fn));
    const text = [fn.name, fn.id, fn.app_id ?? '', ...fn.triggers.map((t) => t.value)].join('\n').toLowerCase();
    return clickableRow(
      h('tr', { dataset: { id: fn.id, search: text } },
        h('td', { class: 'function-cell' }, link, h('span', { class: 'mono muted small fn-slug', text: fn.id })),
        h('td', { class: 'triggers-cell' }, triggerList(fn.triggers)),
        h('td', { class: 'app-cell', dataset: { label: 'App' } }, fn.app_id ?? h('span', { class: 'muted', text: '—' })),
        h('td', { class: 'actions-cell' }, invokeButton)),
      link,
    );
  }

  function filterRows() {
    const words = (params.get('q') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of root.querySelectorAll('.functions-table tbody tr')) {
      const match = words.every((word) => row.dataset.search.includes(word));
      show(row, match);
      shown += match ? 1 : 0;
    }
    const none = root.querySelector('.table-empty');
    if (none) show(none, shown === 0);
  }

  // One function

  function renderDetail(fn) {
    ctx.setTitle(fn.name);
    const invokeButton = h('button', { type: 'button', class: 'button button-primary' }, icon('play'), 'Invoke');
    invokeButton.addEventListener('click', () => invoke(fn));
    const runs = h('a', { class: 'button', href: href('/runs', { function: fn.id }) }, 'View runs', icon('arrow'));
    const config = configRows(fn);
    root.replaceChildren(
      backLink(listHref(), 'All functions'),
      pageHead(fn.name, h('span', { class: 'mono', text: fn.id }), [runs, invokeButton]),
      facts([
        ['Function ID', h('span', { class: 'with-copy' }, h('span', { class: 'mono id', text: fn.id }), copyButton(fn.id, 'Copy function ID'))],
        ['App', fn.app_id ? h('a', { href: '/apps', text: fn.app_id }) : h('span', { class: 'muted', text: '—' })],
        ['Failure handler', fn.failure_handler_id && functionLink(fn.failure_handler_id)],
        ['Handles failures of', fn.handles_failures_of && functionLink(fn.handles_failures_of)],
        ['URL', fn.url && h('span', { class: 'mono small id', text: fn.url })],
      ]),
      h('h2', { class: 'section-title', text: 'Triggers' }),
      h('div', { class: 'card card-pad' }, triggerList(fn.triggers, true)),
      h('h2', { class: 'section-title', text: 'Configuration' }),
      h('div', { class: 'card config-card' },
        h('dl', { class: 'config' },
          config.set.map(([label, value]) => h('div', { class: 'config-row' }, h('dt', { text: label }), h('dd', {}, value)))),
        config.unset.length
          ? h('p', { class: 'config-unset' }, h('span', { class: 'config-unset-label', text: 'Not set' }), config.unset.join(' · '))
          : null),
    );
  }

  function functionLink(slug) {
    return h('a', { href: href('/functions', { function: slug }), class: 'mono', text: slug });
  }

  // Invoke

  function invoke(fn) {
    const editor = jsonEditor('Data (event.data)', {}, { rows: 8 });
    editor.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) editor.input.form.requestSubmit();
    });
    formDialog({
      title: `Invoke ${fn.name}`,
      description: 'Starts a run now, whatever the function\'s triggers, with an inngest/function.invoked event carrying this data.',
      fields: [editor.element],
      submitLabel: 'Invoke',
      async onSubmit() {
        const data = editor.value();
        if (data === null || typeof data !== 'object' || Array.isArray(data)) {
          throw new Error('Data must be a JSON object, e.g. {"n": 2}.');
        }
        const { run_id: runId } = await post(`/functions/${encodeURIComponent(fn.id)}/invoke`, { data });
        ctx.go('/run', { runID: runId });
      },
    });
    editor.input.focus();
  }

  render();

  return {
    update(next) {
      const before = params;
      params = next;
      if (before.get('function') !== next.get('function') || !functions) render();
      else if (!next.get('function')) filterRows();
    },
    unmount() {
      generation += 1;
    },
  };
}

/** A function's triggers: event names with their `if`, cron schedules with their next fire time. */
function triggerList(triggers, detailed = false) {
  if (!triggers.length) return h('span', { class: 'muted', text: 'No triggers: runs only when invoked' });
  return h(
    'ul',
    { class: detailed ? 'triggers triggers-detailed' : 'triggers' },
    triggers.map((trigger) => {
      if (trigger.type === 'CRON') {
        const next = trigger.next_fire_at;
        return h('li', { class: 'trigger' },
          h('span', { class: 'tag trigger-kind', text: 'Cron' }),
          h('code', { class: 'trigger-value', text: trigger.value }),
          next && h('span', { class: 'trigger-extra' }, 'next ', absoluteTime(next), h('span', { class: 'muted' }, ' · ', relativeTime(next))));
      }
      return h('li', { class: 'trigger' },
        h('span', { class: 'tag trigger-kind', text: 'Event' }),
        h('code', { class: 'trigger-value', text: trigger.value }),
        trigger.if && h('span', { class: 'trigger-extra' }, h('span', { class: 'muted', text: 'if ' }), expr(trigger.if)));
    }),
  );
}

/** The options the engine applies, as [label, value] rows, and the names of those not set. */
function configRows(fn) {
  const c = fn.config;
  const per = (key) => key && [' per ', expr(key)];
  const options = [
    ['Retries', h('span', {}, String(c.retries), h('span', { class: 'muted', text: ` (up to ${c.max_attempts} attempt${c.max_attempts === 1 ? '' : 's'})` }))],
    ['Concurrency', c.concurrency.length && lines(c.concurrency.map((rule) => [
      `${rule.limit} at a time`, per(rule.key), h('span', { class: 'muted', text: ` · across ${SCOPES[rule.scope] ?? rule.scope}` }),
    ]))],
    ['Throttle', c.throttle && [
      `${c.throttle.limit} start${c.throttle.limit === 1 ? '' : 's'} per ${c.throttle.period}`,
      c.throttle.burst > 1 ? `, bursts of ${c.throttle.burst}` : null, per(c.throttle.key),
    ]],
    ['Rate limit', c.rate_limit && [`${c.rate_limit.limit} run${c.rate_limit.limit === 1 ? '' : 's'} per ${c.rate_limit.period}`, per(c.rate_limit.key), h('span', { class: 'muted', text: ' · more are skipped' })]],
    ['Debounce', c.debounce && [
      `runs ${c.debounce.period} after the last event`, c.debounce.timeout ? `, at most ${c.debounce.timeout} after the first` : null, per(c.debounce.key),
    ]],
    ['Batching', c.batch_events && [
      `up to ${c.batch_events.max_size} events or ${c.batch_events.timeout}`, per(c.batch_events.key),
      c.batch_events.if ? [' if ', expr(c.batch_events.if)] : null,
    ]],
    ['Priority', c.priority?.run && [expr(c.priority.run), h('span', { class: 'muted', text: ' · seconds a run moves ahead in the queue' })]],
    ['Idempotency', c.idempotency && [expr(c.idempotency), h('span', { class: 'muted', text: ' · one run per key in 24\u00a0h' })]],
    ['Cancel on', c.cancel_on.length && lines(c.cancel_on.map((rule) => [
      expr(rule.event), rule.if ? [' if ', expr(rule.if)] : null, rule.timeout ? ` within ${rule.timeout}` : null,
    ]))],
  ];
  return {
    set: options.filter(([, value]) => value).map(([label, value]) => [label, Array.isArray(value) ? h('span', {}, value.flat(Infinity)) : value]),
    unset: options.filter(([, value]) => !value).map(([label]) => label),
  };
}

function lines(items) {
  return h('ul', { class: 'config-lines' }, items.map((item) => h('li', {}, item.flat(Infinity))));
}
