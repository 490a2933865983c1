// Relative times and durations. Elements made here carry their instant in data attributes and
// are rewritten by one ticking timer, so times move on without asking the server again.

const UNITS = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['week', 604_800],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];
const relativeFormat = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function relative(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Math.abs(seconds) < 5) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.trunc(seconds / size), unit);
  }
  return 'just now';
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${(ms / 1000).toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

export function fullTime(iso) {
  return iso ? fullFormat.format(new Date(iso)) : '';
}

export function clockTime(iso) {
  return iso ? clockFormat.format(new Date(iso)) : '';
}

/** Point `el` at an instant: it reads "<prefix> 2 minutes ago" and keeps ticking; with no
 * instant it reads `otherwise` and stops. */
export function setRelative(el, iso, prefix = '', otherwise = '') {
  if (!iso) {
    delete el.dataset.at;
    el.removeAttribute('title');
    if (el.textContent !== otherwise) el.textContent = otherwise;
    return;
  }
  if (el.dataset.at !== iso || el.dataset.prefix !== prefix) {
    el.dataset.at = iso;
    el.dataset.prefix = prefix;
    if (el.tagName === 'TIME') el.dateTime = iso;
    el.title = fullTime(iso);
  }
  const text = `${prefix}${relative(iso)}`;
  if (el.textContent !== text) el.textContent = text;
}

/** Point `el` at a running span: "<prefix>1m 05s" counted from `startIso` and ticking. */
export function setElapsed(el, startIso, prefix = '') {
  el.dataset.since = startIso;
  el.dataset.prefix = prefix;
  const text = `${prefix}${duration(Date.now() - Date.parse(startIso))}`;
  if (el.textContent !== text) el.textContent = text;
}

export function stopElapsed(el) {
  delete el.dataset.since;
}

export function startTicking(interval = 1000) {
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-at]')) {
      setRelative(el, el.dataset.at, el.dataset.prefix ?? '');
    }
    for (const el of document.querySelectorAll('[data-since]')) {
      setElapsed(el, el.dataset.since, el.dataset.prefix ?? '');
    }
  }, interval);
}
