// The view lives in the address bar's hash, so a reload or a shared link opens the same view:
//   #tab=jobs&status=failed,cancelled&repo=3&text=readme&job=42&files=failed
//   #tab=search&q=how+do+I+deploy
// `#token=...` is taken out by app.js before anything else reads the hash.

export const TABS = ['search', 'jobs', 'repositories'];
export const JOB_STATUSES = ['queued', 'running', 'processed', 'skipped', 'failed', 'cancelled'];
export const ACTIVE_STATUSES = ['queued', 'running'];
export const DONE_STATUSES = ['processed', 'skipped', 'failed', 'cancelled'];
export const FILE_STATUSES = ['pending', 'processed', 'skipped', 'failed'];
const DEFAULT_TAB = 'jobs';

function positiveInt(text) {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function listOf(params, key, allowed) {
  const found = (params.get(key) ?? '').split(',').filter((s) => allowed.includes(s));
  return allowed.filter((s) => found.includes(s));
}

export function parse(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const tab = params.get('tab');
  const job = positiveInt(params.get('job'));
  return {
    tab: job ? 'jobs' : TABS.includes(tab) ? tab : DEFAULT_TAB,
    q: params.get('q') ?? '',
    status: listOf(params, 'status', JOB_STATUSES),
    repo: positiveInt(params.get('repo')),
    text: params.get('text') ?? '',
    job,
    files: listOf(params, 'files', FILE_STATUSES),
  };
}

export function format(state) {
  const params = new URLSearchParams();
  params.set('tab', state.tab);
  if (state.q) params.set('q', state.q);
  if (state.status.length) params.set('status', state.status.join(','));
  if (state.repo) params.set('repo', String(state.repo));
  if (state.text) params.set('text', state.text);
  if (state.job) params.set('job', String(state.job));
  if (state.job && state.files.length) params.set('files', state.files.join(','));
  return `#${params.toString().replaceAll('%2C', ',')}`;
}

/** The jobs.list filter of a view, as the router takes it (`status` is added per section). */
export function jobFilter(state) {
  const filter = {};
  if (state.repo) filter.repositoryIds = [state.repo];
  if (state.text.trim()) filter.text = state.text.trim();
  return filter;
}
