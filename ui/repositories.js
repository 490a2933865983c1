// The Repositories tab: each connected repository with its lightfast.yml status, last ingested
// sha and last job, [Sync now], and a form to connect another one.

import * as api from './api.js';
import { h, icon, setText, shortSha, show, toast } from './dom.js';
import { format } from './state.js';
import { setRelative } from './time.js';

const CONFIG_LABEL = {
  pending: 'Not ingested yet',
  configured: 'Configured',
  unconfigured: 'Defaults (no lightfast.yml)',
  ingesting: 'Ingesting',
  error: 'lightfast.yml error',
};

export function createRepositories({ panel, getState, navigate, onList }) {
  const list = panel.querySelector('#repo-list');
  const empty = panel.querySelector('#repo-empty');
  const listError = panel.querySelector('#repo-error');
  const form = panel.querySelector('#connect-form');
  const formError = panel.querySelector('#connect-error');
  const result = panel.querySelector('#connect-result');
  let loaded = false;

  async function load() {
    try {
      const repositories = await api.query('repositories.list');
      loaded = true;
      show(listError, false);
      onList(repositories);
      list.replaceChildren(...repositories.map(repositoryItem));
      show(empty, repositories.length === 0);
    } catch (error) {
      setText(listError, `Could not load repositories: ${error.message}`);
      show(listError, true);
    }
  }

  function repositoryItem(repo) {
    const name = repo.url
      ? h('a', { href: repo.url, target: '_blank', rel: 'noopener', text: repo.fullName })
      : h('span', { text: repo.fullName });
    const sync = h('button', { type: 'button', class: 'button button-primary' }, icon('sync'), 'Sync now');
    sync.addEventListener('click', () => syncNow(repo, sync));
    const lastJob = repo.lastJob
      ? h('span', {},
        h('a', { href: format({ ...getState(), tab: 'jobs', job: repo.lastJob.id, files: [] }), text: `#${repo.lastJob.id}` }),
        ` ${repo.lastJob.status} `,
        (() => {
          const when = h('time', { class: 'muted' });
          setRelative(when, repo.lastJob.finishedAt ?? repo.lastJob.createdAt);
          return when;
        })())
      : h('span', { class: 'muted', text: 'none yet' });
    const where = repo.provider === 'local'
      ? h('code', { class: 'wrap', text: repo.localPath ?? '' })
      : h('span', { text: repo.installationId ? `GitHub App installation ${repo.installationId}` : 'GitHub' });
    return h('li', { class: 'repo', dataset: { repositoryId: String(repo.id) } },
      h('div', { class: 'repo-head' },
        h('h3', { class: 'repo-name' }, name),
        h('span', { class: `chip chip-config-${repo.configStatus}`, text: CONFIG_LABEL[repo.configStatus] ?? repo.configStatus }),
        h('div', { class: 'repo-actions' }, sync)),
      repo.configError ? h('p', { class: 'job-error', text: repo.configError }) : null,
      h('dl', { class: 'facts facts-compact' },
        fact('Source', where),
        fact('Branch', h('span', { class: 'mono', text: repo.defaultBranch })),
        fact('Store', h('span', { text: repo.store })),
        fact('Last ingested', repo.lastIngestedSha
          ? h('span', { class: 'mono', title: repo.lastIngestedSha, text: shortSha(repo.lastIngestedSha) })
          : h('span', { class: 'muted', text: 'never' })),
        fact('Last job', lastJob)));
  }

  async function syncNow(repo, button) {
    button.disabled = true;
    try {
      const started = await api.mutate('repositories.sync', { repositoryId: repo.id });
      toast(`Sync of ${repo.fullName} started as job #${started.jobId}.`);
      navigate({ tab: 'jobs', job: null, status: [], text: '', repo: null });
    } catch (error) {
      toast(`Could not sync ${repo.fullName}: ${error.message}`, { error: true });
    } finally {
      button.disabled = false;
    }
  }

  function providerFields() {
    const provider = form.elements.provider.value;
    for (const el of form.querySelectorAll('[data-provider]')) {
      const on = el.dataset.provider === provider;
      el.hidden = !on;
      for (const input of el.querySelectorAll('input')) input.disabled = !on;
    }
  }

  form.addEventListener('change', (event) => {
    if (event.target.name === 'provider') providerFields();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const provider = data.get('provider');
    const input = { provider };
    const branch = String(data.get('branch') ?? '').trim();
    if (branch) input.branch = branch;
    if (provider === 'local') {
      input.path = String(data.get('path')).trim();
      const name = String(data.get('name') ?? '').trim();
      if (name) input.name = name;
    } else {
      input.fullName = String(data.get('fullName')).trim();
      const installation = String(data.get('installationId') ?? '').trim();
      if (installation) input.installationId = Number(installation);
    }
    show(formError, false);
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      const answer = await api.mutate('repositories.connect', input);
      result.replaceChildren(connected(answer));
      form.reset();
      providerFields();
      await load();
    } catch (error) {
      setText(formError, error.message);
      show(formError, true);
    } finally {
      submit.disabled = false;
    }
  });
  providerFields();

  let lastTab = null;
  function apply(state) {
    const arrived = state.tab === 'repositories' && lastTab !== 'repositories';
    lastTab = state.tab;
    if (arrived || !loaded) load();
  }

  return { apply, load };
}

function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', {}, value));
}

function connected({ repository, webhook }) {
  const box = h('div', { class: 'notice', role: 'status' },
    h('p', {}, h('strong', { text: `Connected ${repository.fullName}.` }),
      ' Push to it, or press Sync now, to ingest it.'));
  if (webhook) {
    box.append(
      h('p', { text: 'Add this webhook to the repository on GitHub (Settings → Webhooks, content type application/json, just the push event). The secret is shown only this once.' }),
      h('dl', { class: 'facts' },
        fact('Payload URL', copyable(webhook.url)),
        fact('Secret', copyable(webhook.secret))));
  }
  return box;
}

function copyable(text) {
  const button = h('button', { type: 'button', class: 'button button-quiet', text: 'Copy' });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
  });
  return h('span', { class: 'copyable' }, h('code', { class: 'wrap', text }), button);
}
