// A list of job cards fed by jobs.list: "Running Jobs" (queued + running) or "Completed Jobs".
// Each poll re-reads the first page (as many jobs as are shown, up to 100) and merges it by job
// id, keeping cards that were loaded further down with "Load more".

import * as api from './api.js';
import { h, setText, show } from './dom.js';

const PAGE = 25;
const MAX_PAGE = 100;

export class JobSection {
  constructor({ title, statuses, emptyText, cards, onLoaded }) {
    this.title = title;
    this.statuses = statuses;
    this.cards = cards; // the tab's shared Map of job id -> JobCard, so a card can change sections
    this.onLoaded = onLoaded;
    this.order = [];
    this.cursor = null;
    this.heading = h('h2', { class: 'section-title' });
    this.list = h('div', { class: 'job-list' });
    this.empty = h('p', { class: 'empty', text: emptyText, hidden: true });
    this.more = h('button', { type: 'button', class: 'button button-wide', text: 'Load more', hidden: true });
    this.more.addEventListener('click', () => this.loadMore());
    this.el = h('section', { class: 'job-section' }, this.heading, this.list, this.empty, this.more);
  }

  /** The statuses this section asks for under the status chips, or null when none fit. */
  statusesFor(chosen) {
    if (!chosen.length) return this.statuses;
    const fit = this.statuses.filter((s) => chosen.includes(s));
    return fit.length ? fit : null;
  }

  reset() {
    this.order = [];
    this.cursor = null;
    this.list.replaceChildren();
  }

  /** The request a poll makes, or null when the status chips leave nothing for this section. */
  request(filter, chosen) {
    const status = this.statusesFor(chosen);
    if (!status) return null;
    const limit = Math.min(MAX_PAGE, Math.max(PAGE, this.order.length));
    return { ...filter, status, limit };
  }

  merge(jobs, nextCursor) {
    const ids = jobs.map((job) => job.id);
    const returned = new Set(ids);
    const lowest = nextCursor === null || !ids.length ? -Infinity : Math.min(...ids);
    const tail = this.order.filter((id) => id < lowest && !returned.has(id));
    this.order = [...ids, ...tail];
    if (!tail.length) this.cursor = nextCursor;
  }

  async loadMore() {
    if (!this.cursor || !this.lastRequest) return;
    this.more.disabled = true;
    try {
      const data = await api.query('jobs.list', { ...this.lastRequest, limit: PAGE, cursor: this.cursor });
      for (const job of data.jobs) if (!this.order.includes(job.id)) this.order.push(job.id);
      this.cursor = data.nextCursor;
      this.onLoaded(data);
    } finally {
      this.more.disabled = false;
    }
  }

  /** Put the cards in `order` into the list, moving only those out of place. */
  render(total, enabled) {
    show(this.el, enabled);
    setText(this.heading, `${this.title} (${total})`);
    let cursor = this.list.firstElementChild;
    for (const id of this.order) {
      const card = this.cards.get(id);
      if (!card) continue;
      if (card.el !== cursor) this.list.insertBefore(card.el, cursor);
      else cursor = cursor.nextElementSibling;
    }
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    show(this.empty, enabled && this.order.length === 0);
    show(this.more, Boolean(this.cursor));
  }
}
