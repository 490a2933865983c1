// Small DOM helpers. Text from repositories (paths, errors, snippets) only ever becomes text
// nodes or attribute values here; nothing is parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Set text only when it changed, so polling does not touch the DOM for nothing. */
export function setText(el, text) {
  const value = text ?? '';
  if (el.textContent !== value) el.textContent = value;
}

export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, String(value));
  }
}

export function show(el, visible) {
  if (el.hidden === visible) el.hidden = !visible;
}

// Stroke icons on a 24-unit grid; "circle" is the ring every status icon shares.
const ICONS = {
  processed: ['circle', 'M8 12.5l2.7 2.7L16.2 9.6'],
  failed: ['circle', 'M9.2 9.2l5.6 5.6M14.8 9.2l-5.6 5.6'],
  cancelled: ['circle', 'M5.7 5.7l12.6 12.6'],
  skipped: ['circle', 'M8 12h8'],
  queued: ['circle', 'M12 7.5V12l3 2'],
  running: ['M12 3a9 9 0 1 1-9 9'],
  pending: ['circle'],
  external: ['M14 4h6v6', 'M20 4l-9 9', 'M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5'],
  search: ['M11 4a7 7 0 1 1 0 14a7 7 0 0 1 0-14z', 'M20 20l-3.6-3.6'],
  logo: ['M12 3l9 5-9 5-9-5 9-5z', 'M3 13l9 5 9-5', 'M3 17.5l9 5 9-5'],
  arrow: ['M5 12h14', 'M13 6l6 6-6 6'],
  back: ['M19 12H5', 'M11 6l-6 6 6 6'],
  sync: ['M20 11a8 8 0 0 0-14.3-4.9L4 8', 'M4 4v4h4', 'M4 13a8 8 0 0 0 14.3 4.9L20 16', 'M20 20v-4h-4'],
};

export function icon(name, label = null) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon icon-${name}`);
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else {
    svg.setAttribute('aria-hidden', 'true');
  }
  for (const shape of ICONS[name] ?? ICONS.pending) {
    const node = document.createElementNS(SVG, shape === 'circle' ? 'circle' : 'path');
    if (shape === 'circle') {
      node.setAttribute('cx', '12');
      node.setAttribute('cy', '12');
      node.setAttribute('r', '9');
    } else {
      node.setAttribute('d', shape);
    }
    svg.append(node);
  }
  return svg;
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 7) : '';
}

/** "abc1234 → def5678", or just the new sha for a new branch (GitHub's all-zero `before`). */
export function shaRange(before, after) {
  return before && !/^0+$/.test(before) ? `${shortSha(before)} → ${shortSha(after)}` : shortSha(after);
}

const toasts = () => document.getElementById('toasts');

/** A short message in the polite live region; errors go to an assertive one. */
export function toast(message, { error = false, action = null } = {}) {
  const region = error ? document.getElementById('alerts') : toasts();
  const item = h('div', { class: error ? 'toast toast-error' : 'toast' }, h('span', { text: message }));
  if (action) item.append(action);
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  close.addEventListener('click', () => item.remove());
  item.append(close);
  region.append(item);
  setTimeout(() => item.remove(), error ? 12000 : 6000);
}

/** Ask before an action that cannot be undone: resolves true when `yes` is chosen. Escape or
 * `no` says no; focus goes back to where it was. */
export function confirmAction({ title, text, yes, no }) {
  const back = document.activeElement;
  const titleId = 'confirm-title';
  const keep = h('button', { type: 'button', class: 'button', text: no });
  const go = h('button', { type: 'submit', value: 'yes', class: 'button button-danger', text: yes });
  const dialog = h('dialog', { 'aria-labelledby': titleId },
    h('form', { class: 'confirm-form', method: 'dialog' },
      h('h2', { id: titleId, text: title }),
      h('p', { class: 'muted', text }),
      h('div', { class: 'dialog-actions' }, keep, go)));
  document.body.append(dialog);
  return new Promise((resolve) => {
    keep.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (back instanceof HTMLElement && back.isConnected) back.focus({ preventScroll: true });
      resolve(dialog.returnValue === 'yes');
    });
    dialog.showModal();
    keep.focus();
  });
}
