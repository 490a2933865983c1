// The Search tab: search.query for the prompt's question, each hit with its repository, path,
// heading path, score, a snippet with the question's words marked, and where to open the file.

import * as api from './api.js';
import { h, icon, setText, show } from './dom.js';

const LIMIT = 20;
const SNIPPET_BEFORE = 120;
const SNIPPET_LENGTH = 360;

export function createSearch({ panel }) {
  const status = panel.querySelector('#search-status');
  const results = panel.querySelector('#search-results');
  const intro = panel.querySelector('#search-intro');
  let shown = null;
  let sequence = 0;

  async function run(question) {
    const mine = ++sequence;
    show(intro, false);
    setText(status, `Searching for “${question}”…`);
    panel.setAttribute('aria-busy', 'true');
    try {
      const data = await api.query('search.query', { query: question, limit: LIMIT });
      if (mine !== sequence) return;
      const terms = termsOf(question);
      results.replaceChildren(...data.hits.map((hit) => hitItem(hit, terms)));
      setText(status, data.hits.length
        ? `${data.hits.length} ${data.hits.length === 1 ? 'passage' : 'passages'} for “${question}”`
        : `Nothing found for “${question}”. Has a repository been ingested yet?`);
    } catch (error) {
      if (mine !== sequence) return;
      results.replaceChildren();
      setText(status, `Search failed: ${error.message}`);
    } finally {
      if (mine === sequence) panel.removeAttribute('aria-busy');
    }
  }

  function apply(state) {
    const question = state.q.trim();
    if (question === shown) return;
    shown = question;
    if (question) run(question);
    else {
      sequence += 1;
      results.replaceChildren();
      setText(status, '');
      show(intro, true);
    }
  }

  return { apply };
}

// Words too common to be worth marking in a snippet.
const STOP_WORDS = new Set(('a an and are as at be by can do does for from how i in is it of on or '
  + 'the to what when where which who why with you your').split(' '));

export function termsOf(question) {
  const words = question.toLowerCase().match(/[\p{L}\p{N}_]{2,}/gu) ?? [];
  const useful = words.filter((word) => !STOP_WORDS.has(word));
  return [...new Set(useful.length ? useful : words)].sort((a, b) => b.length - a.length);
}

/** `text` as text nodes and <mark>s around the terms: no markup from the text is ever parsed. */
export function highlighted(text, terms) {
  if (!terms.length) return [document.createTextNode(text)];
  const pattern = new RegExp(`(${terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'giu');
  return text.split(pattern).map((part, i) => (i % 2 ? h('mark', { text: part }) : document.createTextNode(part)));
}

function snippet(text, terms) {
  // Headings are shown as the heading path above the snippet; code fences and table rules are
  // markup, not words, and a table row reads as its cells.
  const body = text
    .replace(/^#{1,6}[ \t].*$/gm, '')
    .replace(/^[ \t]*(```|~~~).*$/gm, '')
    .replace(/^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$/gm, '')
    .replace(/^[ \t]*\|(.*)\|[ \t]*$/gm, (_, cells) => cells.split('|').map((cell) => cell.trim()).join(' · '))
    .trim() || text;
  const flat = body.replace(/\s+/g, ' ').trim();
  const lower = flat.toLowerCase();
  const first = Math.min(...terms.map((t) => lower.indexOf(t)).filter((i) => i >= 0), Infinity);
  const start = Number.isFinite(first) ? Math.max(0, first - SNIPPET_BEFORE) : 0;
  const end = Math.min(flat.length, start + SNIPPET_LENGTH);
  return `${start > 0 ? '…' : ''}${flat.slice(start, end)}${end < flat.length ? '…' : ''}`;
}

function hitItem(hit, terms) {
  const where = hit.url
    ? h('a', { class: 'hit-path', href: hit.url, target: '_blank', rel: 'noopener' }, hit.path, icon('external'))
    : h('span', { class: 'hit-path', text: hit.path });
  const headings = hit.headingPath.length
    ? h('p', { class: 'hit-headings' }, hit.headingPath.flatMap((heading, i) =>
      i ? [h('span', { class: 'sep', 'aria-hidden': 'true', text: '›' }), heading] : [heading]))
    : null;
  const local = !hit.url && hit.localPath
    ? h('p', { class: 'hit-local' }, h('span', { class: 'muted', text: 'Local file ' }), h('code', { class: 'wrap', text: hit.localPath }))
    : null;
  return h('li', { class: 'hit' },
    h('div', { class: 'hit-head' },
      h('span', { class: 'hit-repo', text: hit.repository }),
      where,
      h('span', { class: 'hit-score', title: 'Similarity score', text: hit.score.toFixed(3) })),
    headings,
    h('p', { class: 'hit-text' }, highlighted(snippet(hit.text, terms), terms)),
    local);
}
