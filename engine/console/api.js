// The engine's console API (/api/console): JSON in and out; errors are
// {"error": "<what is wrong>", "status": <code>} and become ConsoleError with that message.

const BASE = '/api/console';

export class ConsoleError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** "?a=1&b=2" of `params`, or ''; null, undefined, '' and false are left out, arrays repeat. */
export function queryString(params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== '' && item !== false) query.append(name, String(item));
    }
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

async function call(method, path, { params, body } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path + queryString(params), init);
  } catch {
    throw new ConsoleError('The engine cannot be reached.', 0);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    throw new ConsoleError(answer?.error ?? `${method} ${path} failed (HTTP ${response.status})`, response.status);
  }
  return answer;
}

export const get = (path, params) => call('GET', path, { params });
export const post = (path, body = {}) => call('POST', path, { body });
export const del = (path) => call('DELETE', path);
