// The details of one job (its id is in the URL): header, phase timeline, the Inngest run and
// the per-file table with a status filter. Built once per job and updated in place while polled.

import * as api from './api.js';
import { STATUS_LABEL, branchName, isActive, retryKind, statusIcon, triggerText } from './card.js';
import { h, icon, setAttr, setText, shaRange, show } from './dom.js';
import { FILE_STATUSES, format } from './state.js';
import { clockTime, duration, fullTime, setElapsed, setRelative, stopElapsed } from './time.js';

const FILE_PAGE = 100;
const MAX_FILE_PAGE = 500;
const LIVE_RUN = new Set(['Queued', 'Running']);
const FILE_LABEL = { pending: 'Pending', processed: 'Processed', skipped: 'Skipped', failed: 'Failed' };

export function createDetails({ root, getState, navigate, retry, cancel }) {
  let openId = null;
  let fileKey = null;
  let needsLoad = false;
  let job = null;
  let runStatus = null;
  let fileOrder = [];
  let fileCursor = null;
  let fileRows = FILE_PAGE; // rows asked for: the first page, and a page more per "Load more"
  const rows = new Map();

  const back = h('a', { class: 'back-link' }, icon('back'), 'All jobs');
  const error = h('p', { class: 'panel-error', role: 'alert', hidden: true });
  const iconSlot = h('span', { class: 'job-icon' });
  const title = h('h2', { class: 'details-title', tabindex: -1 });
  const statusChip = h('span', { class: 'chip' });
  const stale = h('span', { class: 'job-stale', text: 'live status delayed', hidden: true });
  const repoLink = h('a', { class: 'details-repo' });
  const trigger = h('span', { class: 'chip chip-quiet' });
  const retryOf = h('a', { class: 'retry-of' });
  const branch = h('span', { class: 'mono job-branch' });
  const shaLink = h('a', { class: 'mono sha-link' });
  const retryButton = h('button', { type: 'button', class: 'button', hidden: true });
  retryButton.addEventListener('click', () => retry(openId, retryButton.dataset.kind === 'failed-files'));
  const cancelButton = h('button', { type: 'button', class: 'button button-danger', text: 'Cancel', hidden: true });
  cancelButton.addEventListener('click', () => cancel(openId));
  const runLink = h('a', { class: 'button', target: '_blank', rel: 'noopener', hidden: true }, 'Inngest run', icon('external'));
  const facts = {
    created: h('time'),
    started: h('time'),
    finished: h('time'),
    duration: h('span'),
    delivery: h('span', { class: 'mono wrap' }),
    run: h('span'),
  };
  const jobError = h('p', { class: 'job-error details-error', hidden: true });
  const timeline = h('ol', { class: 'timeline' });
  const runError = h('p', { class: 'job-error', hidden: true });
  const runOutput = h('pre', { class: 'run-output' });
  const runOutputBox = h('details', { class: 'run-output-box', hidden: true }, h('summary', { text: 'Run output' }), runOutput);
  const filesTitle = h('h3', { class: 'section-title' });
  const fileChips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filter files by status' });
  const fileBody = h('tbody');
  const tableWrap = h('div', { class: 'table-wrap' });
  const filesEmpty = h('p', { class: 'empty', hidden: true, text: 'No files match.' });
  const moreFiles = h('button', { type: 'button', class: 'button button-wide', text: 'Load more files', hidden: true });
  moreFiles.addEventListener('click', loadMoreFiles);

  const fileAll = chip('All', () => navigate({ files: [] }, { replace: true }));
  fileChips.append(fileAll);
  const fileChipFor = new Map();
  for (const status of FILE_STATUSES) {
    const button = chip(FILE_LABEL[status], () => {
      const current = getState().files;
      const next = current.includes(status) ? current.filter((s) => s !== status) : [...current, status];
      navigate({ files: FILE_STATUSES.filter((s) => next.includes(s)) }, { replace: true });
    });
    fileChipFor.set(status, button);
    fileChips.append(button);
  }

  const fact = (label, value, wide = false) => h('div', { class: wide ? 'fact fact-wide' : 'fact' }, h('dt', { text: label }), h('dd', {}, value));
  const body = h('div', { class: 'details-body' });
  root.append(back, error, body);
  body.append(
    h('header', { class: 'details-head' },
      h('div', { class: 'details-title-row' }, iconSlot, title, statusChip, stale),
      h('p', { class: 'details-sub' }, repoLink, trigger, retryOf),
      h('p', { class: 'details-sub' }, branch, shaLink),
      h('div', { class: 'details-actions' }, retryButton, cancelButton, runLink)),
    jobError,
    h('dl', { class: 'facts' },
      fact('Created', facts.created), fact('Started', facts.started), fact('Finished', facts.finished),
      fact('Duration', facts.duration), fact('Inngest run', facts.run), fact('Delivery', facts.delivery, true)),
    h('section', { class: 'details-section' }, h('h3', { class: 'section-title', text: 'Timeline' }), timeline,
      runError, runOutputBox),
    h('section', { class: 'details-section' }, filesTitle, fileChips, tableWrap, filesEmpty, moreFiles),
  );
  tableWrap.append(h('table', { class: 'files' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'File' }), h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', class: 'num', text: 'Chunks' }), h('th', { scope: 'col', class: 'num', text: 'Duration' }))),
    fileBody));

  function chip(label, onClick) {
    const button = h('button', { type: 'button', class: 'chip-toggle' }, label, h('span', { class: 'count' }));
    button.addEventListener('click', onClick);
    return button;
  }

  function request(extra = {}) {
    const input = { id: openId, ...extra };
    const statuses = getState().files;
    if (statuses.length) input.fileStatus = statuses;
    return input;
  }

  /** Follow the URL; true when a job opened or its file filter changed (a load is due). */
  function apply(state) {
    show(root, state.job !== null);
    back.href = format({ ...state, job: null, files: [] });
    const key = JSON.stringify([state.job, state.files]);
    if (key === fileKey) return false;
    const opened = state.job !== openId;
    openId = state.job;
    fileKey = key;
    fileOrder = [];
    fileCursor = null;
    fileRows = FILE_PAGE;
    rows.clear();
    fileBody.replaceChildren();
    needsLoad = openId !== null;
    if (opened) {
      job = null;
      runStatus = null;
      root.classList.add('is-loading');
      show(error, false);
      show(body, true);
      setText(title, openId ? `Job #${openId}` : '');
      if (openId) title.focus({ preventScroll: true });
      window.scrollTo({ top: 0 });
    }
    return needsLoad;
  }

  /** Re-read the open job when it is new or unfinished. A job that cannot be found (deleted, or
   * another organization's) shows only that; other failures are the tab's to report. */
  async function refresh() {
    if (openId === null) return;
    if (!needsLoad && !(job && unfinished())) return;
    const id = openId;
    const key = fileKey;
    const limit = Math.min(MAX_FILE_PAGE, fileRows);
    let data;
    try {
      data = await api.query('jobs.get', request({ fileLimit: limit }));
    } catch (failure) {
      if (id !== openId || (failure.status !== 404 && failure.status !== 400)) throw failure;
      setText(error, failure.status === 404 ? `Job #${id} was not found.` : failure.message);
      show(error, true);
      show(body, false);
      root.classList.remove('is-loading');
      needsLoad = false;
      return;
    }
    if (id !== openId || key !== fileKey) return;
    needsLoad = false;
    root.classList.remove('is-loading');
    render(data);
    // The rows a refresh re-reads are the first `limit` that match the filter now: a row that left
    // the filter leaves the table. Rows loaded with "Load more" past that stay as they were.
    const ids = data.files.items.map((f) => f.path);
    const returned = new Set(ids);
    const beyond = data.files.nextCursor === null ? [] : fileOrder.slice(limit).filter((p) => !returned.has(p));
    fileOrder = [...ids, ...beyond];
    if (!beyond.length) fileCursor = data.files.nextCursor;
    renderFiles(data.files);
  }

  // The table can record the end a moment before Inngest ends the run: follow the run too.
  function unfinished() {
    return isActive(job) || LIVE_RUN.has(runStatus);
  }

  async function loadMoreFiles() {
    if (!fileCursor) return;
    moreFiles.disabled = true;
    try {
      const data = await api.query('jobs.get', request({ fileCursor, fileLimit: FILE_PAGE }));
      for (const file of data.files.items) if (!rows.has(file.path)) fileOrder.push(file.path);
      fileCursor = data.files.nextCursor;
      fileRows = fileOrder.length;
      renderFiles(data.files);
    } finally {
      moreFiles.disabled = false;
    }
  }

  function render(data) {
    job = data.job;
    const state = getState();
    iconSlot.replaceChildren(statusIcon(job.status));
    root.dataset.status = job.status;
    setText(title, `Job #${job.id}`);
    setText(statusChip, STATUS_LABEL[job.status] ?? job.status);
    statusChip.className = `chip chip-${job.status}`;
    show(stale, Boolean(job.stale));
    setText(repoLink, job.repository.fullName);
    setAttr(repoLink, 'href', job.repository.url);
    setText(trigger, job.trigger === 'retry' ? 'retry' : triggerText(job));
    show(retryOf, Boolean(job.retryOf));
    if (job.retryOf) {
      setText(retryOf, `of job #${job.retryOf}`);
      retryOf.href = format({ ...state, job: job.retryOf, files: [] });
    }
    setText(branch, branchName(job.ref));
    setAttr(branch, 'title', job.ref ? `Branch ${job.ref}` : null);
    setText(shaLink, shaRange(job.before, job.after));
    setAttr(shaLink, 'href', job.compareUrl);
    setAttr(shaLink, 'title', job.before ? `${job.before} → ${job.after}` : job.after);

    const focused = document.activeElement;
    const kind = retryKind(job);
    show(retryButton, kind !== null);
    retryButton.dataset.kind = kind ?? '';
    setText(retryButton, kind === 'failed-files' ? 'Retry failed files' : 'Retry');
    show(cancelButton, isActive(job));
    if ((focused === retryButton || focused === cancelButton) && focused.hidden) title.focus({ preventScroll: true });
    show(runLink, Boolean(job.run?.url));
    setAttr(runLink, 'href', job.run?.url);

    setRelative(facts.created, job.createdAt);
    setRelative(facts.started, job.startedAt, '', isActive(job) ? 'not yet' : '—');
    setRelative(facts.finished, job.finishedAt, '', isActive(job) ? 'not yet' : '—');
    if (job.status === 'running' && job.startedAt) setElapsed(facts.duration, job.startedAt);
    else {
      stopElapsed(facts.duration);
      setText(facts.duration, job.durationMs === null ? '—' : duration(job.durationMs));
    }
    setText(facts.delivery, job.deliveryId);
    runStatus = data.run?.status ?? job.run?.status ?? null;
    setText(facts.run, runStatus ?? (job.run?.id ? 'unknown' : 'not started'));

    show(jobError, Boolean(job.error));
    setText(jobError, job.error ? `Error: ${job.error}` : '');
    renderTimeline(data.phases ?? []);
    show(runError, Boolean(data.run?.error) && data.run.error !== job.error);
    setText(runError, data.run?.error ? `Inngest run error: ${data.run.error}` : '');
    const output = data.run?.output;
    show(runOutputBox, output !== null && output !== undefined);
    setText(runOutput, output === null || output === undefined ? '' : JSON.stringify(output, null, 2));
  }

  function renderTimeline(phases) {
    const items = phases.map((phase) => {
      const when = h('span', { class: 'phase-when' });
      if (phase.state === 'active' && phase.startedAt) setElapsed(when, phase.startedAt, 'for ');
      else if (phase.startedAt && phase.finishedAt) {
        setText(when, `${clockTime(phase.startedAt)} · ${duration(Date.parse(phase.finishedAt) - Date.parse(phase.startedAt))}`);
      } else if (phase.startedAt) setText(when, clockTime(phase.startedAt));
      when.title = fullTime(phase.startedAt);
      return h('li', { class: `phase phase-${phase.state}` },
        h('span', { class: 'phase-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'phase-label', text: phase.label }),
        h('span', { class: 'visually-hidden', text: ` (${phase.state})` }),
        when);
    });
    // The timeline has nothing focusable, so rebuilding it is safe; skip it when unchanged.
    const signature = JSON.stringify(phases);
    if (timeline.dataset.signature !== signature) {
      timeline.dataset.signature = signature;
      timeline.replaceChildren(...items);
    }
  }

  function renderFiles(files) {
    const { counts } = files;
    const total = FILE_STATUSES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    setText(filesTitle, `Files (${total})`);
    const chosen = getState().files;
    fileAll.setAttribute('aria-pressed', String(chosen.length === 0));
    setText(fileAll.querySelector('.count'), String(total));
    for (const [status, button] of fileChipFor) {
      button.setAttribute('aria-pressed', String(chosen.includes(status)));
      setText(button.querySelector('.count'), String(counts[status] ?? 0));
    }
    for (const file of files.items) {
      const row = rows.get(file.path) ?? fileRow(file.path);
      rows.set(file.path, row);
      row.update(file);
    }
    let cursor = fileBody.firstElementChild;
    for (const path of fileOrder) {
      const row = rows.get(path);
      if (!row) continue;
      if (row.tr !== cursor) fileBody.insertBefore(row.tr, cursor);
      else cursor = cursor.nextElementSibling;
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      rows.delete(cursor.dataset.path);
      cursor.remove();
      cursor = next;
    }
    const none = total === 0 && chosen.length === 0;
    show(fileChips, !none);
    show(tableWrap, fileOrder.length > 0);
    setText(filesEmpty, none ? 'No files were planned for this job.' : 'No files match.');
    show(filesEmpty, fileOrder.length === 0);
    show(moreFiles, Boolean(fileCursor));
  }

  return { apply, refresh };
}

function fileRow(path) {
  const action = h('span', { class: 'chip chip-quiet', text: 'delete', hidden: true });
  const fileError = h('p', { class: 'file-error' });
  const status = h('span', { class: 'file-status' });
  const chunkCount = h('span');
  const chunkUnit = h('span', { class: 'unit', text: ' chunks' });
  const chunks = h('td', { class: 'num' }, chunkCount, chunkUnit);
  const took = h('td', { class: 'num' });
  const tr = h('tr', { dataset: { path } },
    h('td', { class: 'file-cell' }, h('span', { class: 'path', text: path }), ' ', action, fileError),
    h('td', {}, status), chunks, took);
  let last = null;
  return {
    tr,
    update(file) {
      const signature = JSON.stringify(file);
      if (signature === last) return;
      last = signature;
      tr.dataset.status = file.status;
      show(action, file.action === 'delete');
      status.replaceChildren(statusIcon(file.status === 'pending' ? 'pending' : file.status), FILE_LABEL[file.status] ?? file.status);
      setText(chunkCount, file.status === 'processed' ? String(file.chunks) : '—');
      show(chunkUnit, file.status === 'processed');
      setText(took, file.durationMs !== null ? duration(file.durationMs) : file.status === 'pending' ? '' : '—');
      show(fileError, Boolean(file.error));
      setText(fileError, file.error ?? '');
    },
  };
}
