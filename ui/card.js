// One job card, built once and then updated in place as polls bring new versions of its job,
// so focus, hover and selection survive every refresh.

import { h, icon, setAttr, setText, shaRange, show } from './dom.js';
import { duration, setRelative } from './time.js';

export const STATUS_LABEL = {
  queued: 'Queued',
  running: 'Running',
  processed: 'Processed',
  skipped: 'Skipped',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const TITLE_VERB = {
  queued: 'Waiting to ingest',
  running: 'Ingesting',
  processed: 'Ingested',
  skipped: 'Nothing to ingest in',
  failed: 'Failed:',
  cancelled: 'Cancelled:',
};

export function isActive(job) {
  return job.status === 'queued' || job.status === 'running';
}

export function doneCount(progress) {
  return progress.processed + progress.skipped + progress.failed;
}

/** Which retry a job offers: the whole job, only its failed files, or none. */
export function retryKind(job) {
  if (job.status === 'failed' || job.status === 'cancelled') return 'all';
  if (job.status === 'processed' && job.progress.failed > 0) return 'failed-files';
  return null;
}

export function statusIcon(status) {
  return icon(status === 'running' ? 'running' : status, STATUS_LABEL[status] ?? status);
}

/** The branch a job's push was to: `main` for `refs/heads/main`. */
export function branchName(ref) {
  return ref ? ref.replace(/^refs\/heads\//, '') : '';
}

export function triggerText(job) {
  if (job.trigger === 'retry') return job.retryOf ? `retry of #${job.retryOf}` : 'retry';
  return job.trigger === 'manual' ? 'manual sync' : 'push';
}

export class JobCard {
  constructor(job, { onOpen, onRetry, onCancel, onSelect, detailsHref }) {
    this.id = job.id;
    this.status = null;
    const titleId = `job-${job.id}-title`;
    this.select = h('input', { type: 'checkbox', class: 'job-select', 'aria-label': `Select job #${job.id}` });
    this.select.addEventListener('change', () => onSelect(this.id, this.select.checked));
    this.iconSlot = h('span', { class: 'job-icon' });
    this.verb = h('span', { class: 'job-verb' });
    this.repo = h('span', { class: 'job-repo' });
    // Out of the tab order: the card itself and "View Details" open the same page.
    this.number = h('a', { class: 'job-number', href: detailsHref(job.id), tabindex: -1, text: `#${job.id}` });
    this.title = h('h3', { class: 'job-title', id: titleId }, this.verb, ' ', this.repo, ' ', this.number);
    this.summary = h('span', { class: 'job-summary' });
    this.when = h('time', { class: 'job-when' });
    this.took = h('span', { class: 'job-took' });
    this.line = h('p', { class: 'job-line' }, this.summary, this.when, this.took);
    this.bar = h('span', { class: 'progress-bar' });
    this.progress = h('div', {
      class: 'progress',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-label': `Files done in job #${job.id}`,
    }, this.bar);
    this.wait = h('p', { class: 'job-wait' });
    this.error = h('p', { class: 'job-error' });
    // What started a job never changes; a retry links to the job it retried.
    this.trigger = h('span', { class: 'chip chip-quiet' }, job.retryOf
      ? ['retry of\u00a0', h('a', { href: detailsHref(job.retryOf), text: `#${job.retryOf}` })]
      : triggerText(job));
    this.branch = h('span', { class: 'mono job-branch' });
    this.sha = h('span', { class: 'mono' });
    this.stale = h('span', { class: 'job-stale', text: 'live status delayed', hidden: true });
    this.meta = h('p', { class: 'job-meta' }, this.trigger, this.branch, this.sha, this.stale);
    this.details = h('button', { type: 'button', class: 'button', text: 'View Details' });
    this.details.addEventListener('click', () => onOpen(this.id));
    this.retry = h('button', { type: 'button', class: 'button' });
    this.retry.addEventListener('click', () => onRetry(this.id, this.retry.dataset.kind === 'failed-files'));
    this.cancel = h('button', { type: 'button', class: 'button button-danger', text: 'Cancel' });
    this.cancel.addEventListener('click', () => onCancel(this.id));
    const actions = h('div', { class: 'job-actions' }, this.details, this.retry, this.cancel);
    const body = h('div', { class: 'job-body' }, this.title, this.line, this.progress, this.wait, this.error, this.meta);
    this.el = h('article', {
      class: 'job',
      tabindex: 0,
      'aria-labelledby': titleId,
      dataset: { jobId: String(job.id) },
    }, this.select, this.iconSlot, body, actions);
    this.el.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && event.target === this.el) {
        event.preventDefault();
        onOpen(this.id);
      }
    });
    this.update(job);
  }

  update(job) {
    const { progress } = job;
    const done = doneCount(progress);
    if (this.status !== job.status) {
      this.status = job.status;
      this.el.dataset.status = job.status;
      this.iconSlot.replaceChildren(statusIcon(job.status));
    }
    setText(this.verb, TITLE_VERB[job.status] ?? job.status);
    setText(this.repo, job.repository.fullName);

    const active = isActive(job);
    if (job.status === 'running') {
      setText(this.summary, progress.total ? `${done} / ${progress.total} files processed` : 'Planning…');
      setRelative(this.when, job.startedAt ?? job.createdAt, 'Started ');
    } else if (job.status === 'queued') {
      setText(this.summary, 'Queued');
      setRelative(this.when, job.createdAt, 'Created ');
    } else {
      setText(this.summary, finishedSummary(job));
      setRelative(this.when, job.finishedAt ?? job.createdAt, finishedVerb(job.status));
    }
    setText(this.took, job.durationMs !== null && !active ? `took ${duration(job.durationMs)}` : '');

    show(this.progress, active && progress.total > 0);
    setAttr(this.progress, 'aria-valuemax', progress.total);
    setAttr(this.progress, 'aria-valuenow', done);
    setAttr(this.progress, 'aria-valuetext', `${done} of ${progress.total} files`);
    this.bar.style.width = `${progress.total ? (100 * done) / progress.total : 0}%`;

    // What a queued job waits for; a running one can wait too, for a file slot another job holds.
    show(this.wait, active && Boolean(job.waitingFor));
    setText(this.wait, job.waitingFor ? capitalized(job.waitingFor) : '');

    const error = errorText(job);
    show(this.error, Boolean(error));
    setText(this.error, error);

    setText(this.branch, branchName(job.ref));
    setAttr(this.branch, 'title', job.ref ? `Branch ${job.ref}` : null);
    setText(this.sha, shaRange(job.before, job.after));
    show(this.stale, Boolean(job.stale));

    const focused = document.activeElement;
    const retry = retryKind(job);
    show(this.retry, retry !== null);
    this.retry.dataset.kind = retry ?? '';
    setText(this.retry, retry === 'failed-files' ? 'Retry failed files' : 'Retry');
    show(this.cancel, active);
    // The button that had focus went away (a cancel took effect): focus stays on the card.
    if ((focused === this.retry || focused === this.cancel) && focused.hidden) this.el.focus({ preventScroll: true });
  }

  setSelected(selected) {
    if (this.select.checked !== selected) this.select.checked = selected;
    this.el.classList.toggle('is-selected', selected);
  }
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function finishedVerb(status) {
  return { processed: 'Completed ', skipped: 'Finished ', failed: 'Failed ', cancelled: 'Cancelled ' }[status] ?? '';
}

function finishedSummary(job) {
  const { total, processed, failed } = job.progress;
  const files = `${total} ${total === 1 ? 'file' : 'files'}`;
  if (job.status === 'skipped') return 'No files to index';
  // A cancel marks the files it stopped as skipped: what counts is how many were indexed.
  if (job.status === 'cancelled') return total ? `${processed} / ${total} files processed` : '';
  if (job.status === 'failed' && !total) return '';
  const parts = [files];
  if (failed) parts.push(`${failed} failed`);
  return parts.join(', ');
}

function errorText(job) {
  if (job.error && (job.status === 'failed' || job.status === 'processed' || job.status === 'cancelled')) {
    return job.status === 'failed' ? `Error: ${job.error}` : job.error;
  }
  if (job.status === 'processed' && job.progress.failed > 0) {
    return `${job.progress.failed} ${job.progress.failed === 1 ? 'file' : 'files'} could not be indexed`;
  }
  return '';
}
