// Small DOM helpers. Everything the engine stores (payloads, outputs, errors, names) only ever
// becomes text nodes or attribute values here; nothing is parsed as HTML.

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

/** Set text only when it changed, so refreshing does not touch the DOM for nothing. */
export function setText(el, text) {
  const value = text ?? '';
  if (el.textContent !== value) el.textContent = value;
}

export function show(el, visible) {
  if (el.hidden === visible) el.hidden = !visible;
}

// Stroke icons on a 24-unit grid; "circle" is the ring every status icon shares.
const ICONS = {
  completed: ['circle', 'M8 12.5l2.7 2.7L16.2 9.6'],
  failed: ['circle', 'M9.2 9.2l5.6 5.6M14.8 9.2l-5.6 5.6'],
  cancelled: ['circle', 'M5.7 5.7l12.6 12.6'],
  queued: ['circle', 'M12 7.5V12l3 2'],
  waiting: ['circle', 'M10 9v6M14 9v6'],
  running: ['M12 3a9 9 0 1 1-9 9'],
  pending: ['circle'],
  back: ['M19 12H5', 'M11 6l-6 6 6 6'],
  arrow: ['M5 12h14', 'M13 6l6 6-6 6'],
  chevron: ['M9 6l6 6-6 6'],
  copy: ['M9 9h10v10H9z', 'M5 15V5h10'],
  sync: ['M20 11a8 8 0 0 0-14.3-4.9L4 8', 'M4 4v4h4', 'M4 13a8 8 0 0 0 14.3 4.9L20 16', 'M20 20v-4h-4'],
  play: ['M8 5v14l11-7z'],
  pause: ['M9 5v14M15 5v14'],
  plus: ['M12 5v14M5 12h14'],
  close: ['M6 6l12 12M18 6L6 18'],
  // step kinds, on the run page
  'step-run': ['M9 7.5L4.5 12 9 16.5', 'M15 7.5l4.5 4.5-4.5 4.5'],
  'step-sleep': ['M19.5 14.2A7.8 7.8 0 1 1 9.8 4.5a6.2 6.2 0 0 0 9.7 9.7z'],
  'step-wait-for-event': ['M7 3.5h10', 'M7 20.5h10', 'M8 3.5c0 5 8 4.5 8 8.5s-8 3.5-8 8.5', 'M16 3.5c0 5-8 4.5-8 8.5s8 3.5 8 8.5'],
  'step-invoke': ['M14 4h6v6', 'M20 4l-9 9', 'M18 14v5H5V6h5'],
  'step-send-event': ['M20.5 3.5L10 14', 'M20.5 3.5L14 20.5l-4-6.5-6.5-4z'],
  'step-ai-gateway': ['M12 3.5l1.9 5.1 5.1 1.9-5.1 1.9-1.9 5.1-1.9-5.1L5 10.5l5.1-1.9z', 'M18.5 16v5', 'M16 18.5h5'],
  'step-parallel': ['M3.5 12H8', 'M8 12c3.5 0 3.5-5.5 8-5.5h4.5', 'M8 12c3.5 0 3.5 5.5 8 5.5h4.5'],
  'step-function': ['M15.5 4H13a3 3 0 0 0-3 3v13', 'M6.5 11h7.5'],
  search: ['M11 4.5a6.5 6.5 0 1 1 0 13a6.5 6.5 0 0 1 0-13z', 'M16 16l4.5 4.5'],
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

/** "COMPLETED" -> "Completed". */
export function titleCase(word) {
  return word ? word.charAt(0) + word.slice(1).toLowerCase() : '';
}

/** A run's or step's status as an icon and a word, coloured by `.status-<status>`. */
export function statusBadge(status) {
  const name = (status ?? 'pending').toLowerCase();
  return h('span', { class: `status status-${name}`, dataset: { status: name } }, icon(name), titleCase(status ?? 'Pending'));
}

/** A button that copies `text` and says so. */
export function copyButton(text, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label }, icon('copy'));
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast('Copied');
    } catch {
      toast('The browser did not allow copying', { error: true });
    }
  });
  return button;
}

const MAX_INDENTED_LINES = 5000;

/** A value as indented JSON in a scrollable block, with a copy button. A long line wraps under
 * its own indentation, not at the block's edge. */
export function jsonBlock(value, { label = 'Copy JSON' } = {}) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value, null, 2);
  const lines = text.split('\n');
  const body = lines.length > MAX_INDENTED_LINES ? text : lines.map((line) => {
    const span = h('span', { class: 'code-line' }, line);
    span.style.setProperty('--indent', String(line.length - line.trimStart().length));
    return span;
  });
  return h('div', { class: 'code-block' }, h('pre', { class: 'code', tabindex: '0' }, body), copyButton(text, label));
}

/** A monospace id, shortened in the middle when long, whole in its title. */
export function idText(id, keep = 10) {
  const short = id && id.length > keep * 2 + 1 ? `${id.slice(0, keep)}…${id.slice(-4)}` : id;
  return h('span', { class: 'mono id', title: id }, short ?? '');
}

/** A short message (text, or nodes such as a link) in the polite live region; errors go to the assertive one. */
export function toast(message, { error = false } = {}) {
  const region = document.getElementById(error ? 'alerts' : 'toasts');
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, icon('close'));
  const item = h('div', { class: error ? 'toast toast-error' : 'toast' }, h('span', {}, message), close);
  close.addEventListener('click', () => item.remove());
  region.append(item);
  setTimeout(() => item.remove(), error ? 12000 : 5000);
}

/** An error box for a page or a panel: what failed and why. */
export function errorBox(message) {
  return h('p', { class: 'error-box', role: 'alert' }, message);
}

/** A definition list of [label, value] pairs; null values are left out. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== '')
      .map(([label, value]) => h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', {}, value))),
  );
}
