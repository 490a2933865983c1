// Times and durations. Elements made here carry their instant in data attributes and are
// rewritten by one ticking timer, so "2 minutes ago" moves on without asking the engine again.

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
const shortFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

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
  if (seconds < 60) return `${(ms / 1000).toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function fullTime(iso) {
  return iso ? fullFormat.format(new Date(iso)) : '';
}

/** "Nov 30, 04:41:07": a table's time column. */
export function shortTime(iso) {
  return iso ? shortFormat.format(new Date(iso)) : '';
}

/** A <time> reading "2 minutes ago" that keeps ticking; its title is the full time. */
export function relativeTime(iso, prefix = '') {
  const el = document.createElement('time');
  setRelative(el, iso, prefix);
  return el;
}

/** A <time> with the short absolute time and the full one in its title. */
export function absoluteTime(iso) {
  const el = document.createElement('time');
  if (iso) {
    el.dateTime = iso;
    el.title = fullTime(iso);
    el.textContent = shortTime(iso);
  }
  return el;
}

export function setRelative(el, iso, prefix = '') {
  if (!iso) {
    delete el.dataset.at;
    el.textContent = '';
    return;
  }
  el.dataset.at = iso;
  el.dataset.prefix = prefix;
  el.dateTime = iso;
  el.title = fullTime(iso);
  const text = `${prefix}${relative(iso)}`;
  if (el.textContent !== text) el.textContent = text;
}

/** A span counting up from `startIso` ("1m 05s"), for what is still running. */
export function elapsed(startIso) {
  const el = document.createElement('span');
  el.dataset.since = startIso;
  el.textContent = duration(Date.now() - Date.parse(startIso));
  return el;
}

export function startTicking(interval = 1000) {
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-at]')) {
      setRelative(el, el.dataset.at, el.dataset.prefix ?? '');
    }
    for (const el of document.querySelectorAll('[data-since]')) {
      const text = duration(Date.now() - Date.parse(el.dataset.since));
      if (el.textContent !== text) el.textContent = text;
    }
  }, interval);
}
