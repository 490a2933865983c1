// The router's tRPC wire format: queries are GET ?input=<JSON>, mutations POST a JSON body;
// answers are {"result": {"data": ...}} or {"error": {"message", "data": {"code", "httpStatus"}}}.
// A 401 asks for the token again and repeats the call with the new one.

const TOKEN_KEY = 'docs-ingest.token';
const BASE = '/api/trpc/';

let askForToken = async () => {
  throw new ApiError('no token prompt', 401, 'UNAUTHORIZED');
};
let pendingPrompt = null;

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
}

/** `prompt(reason)` resolves with a token once the person has typed one. */
export function onUnauthorized(prompt) {
  askForToken = prompt;
}

function promptOnce(reason) {
  pendingPrompt ??= askForToken(reason).finally(() => {
    pendingPrompt = null;
  });
  return pendingPrompt;
}

async function call(name, method, input) {
  for (;;) {
    const token = getToken();
    if (!token) {
      await promptOnce('Paste an access token to see your organization’s jobs.');
      continue;
    }
    const headers = { Authorization: `Bearer ${token}` };
    let url = BASE + name;
    const init = { method, headers };
    if (method === 'GET') {
      if (input !== undefined) url += `?input=${encodeURIComponent(JSON.stringify(input))}`;
    } else {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(input ?? {});
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError('The service cannot be reached.', 0, 'NETWORK');
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 401) {
      if (getToken() === token) await promptOnce('That token was refused: it is unknown or was revoked. Paste another.');
      continue;
    }
    if (!response.ok || !body || !('result' in body)) {
      const message = body?.error?.message ?? `${name} failed (HTTP ${response.status})`;
      throw new ApiError(message, response.status, body?.error?.data?.code ?? null);
    }
    return body.result.data;
  }
}

export const query = (name, input) => call(name, 'GET', input);
export const mutate = (name, input) => call(name, 'POST', input);
