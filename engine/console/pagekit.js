// What the Events, Functions and Apps pages share: their head, empty and loading states, a
// command to copy, links that keep a page's filters, and buttons that call the engine.

import { queryString } from './api.js';
import { copyButton, h, icon, toast } from './dom.js';

/** The page's title, a line saying what it shows, and its action buttons. */
export function pageHead(title, sub, actions = []) {
  return h(
    'header',
    { class: 'page-head' },
    h('div', { class: 'page-head-text' }, h('h1', { class: 'page-title', text: title }), sub && h('p', { class: 'page-sub' }, sub)),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

/** A console address with its query; empty values are left out. */
export function href(path, params = {}) {
  return path + queryString(params);
}

export function backLink(target, text) {
  return h('a', { class: 'back-link', href: target }, icon('back'), text);
}

/** What a page shows when it has nothing yet: a title and how to get something. */
export function emptyState(title, ...body) {
  return h('div', { class: 'empty-state' }, h('h2', { class: 'empty-title', text: title }), body);
}

/** A shell command in a copyable block. */
export function command(text) {
  return h('div', { class: 'code-block command' }, h('pre', { class: 'code', tabindex: '0' }, text), copyButton(text, 'Copy command'));
}

export function loading(text) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** A CEL expression or other engine-side code, as code. */
export function expr(text) {
  return h('code', { class: 'expr' }, text);
}

/**
 * Run `action` for `button`: further clicks are ignored meanwhile (so a double click does one
 * thing) and a failure becomes an error toast with the engine's message. The button stays
 * enabled, so keyboard focus stays on it (and a dialog opened from it returns there).
 */
export async function busy(button, action) {
  if (button.getAttribute('aria-busy') === 'true') return undefined;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } catch (exc) {
    toast(exc.message, { error: true });
    return undefined;
  } finally {
    button.removeAttribute('aria-busy');
  }
}

/** Make a table row open its `link` when clicked outside its own links, buttons and fields. */
export function clickableRow(row, link) {
  row.classList.add('is-link');
  row.addEventListener('click', (event) => {
    if (event.target.closest('a, button, input, label, summary')) return;
    if (window.getSelection()?.toString()) return; // selecting text is not a click on the row
    link.click();
  });
  return row;
}
