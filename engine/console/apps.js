// Apps: the SDK apps the engine syncs functions from, each with its URL, SDK, functions and last
// sync (and that sync's error); Sync now, Sync all, Add app and Remove.

import { del, get, post } from './api.js';
import { formDialog, textField } from './dialog.js';
import { copyButton, errorBox, h, icon, toast } from './dom.js';
import { busy, command, emptyState, href, loading, pageHead } from './pagekit.js';
import { relativeTime } from './time.js';

const LANGUAGES = { py: 'Python', js: 'TypeScript', ts: 'TypeScript', go: 'Go', kt: 'Kotlin', java: 'Java', rust: 'Rust', php: 'PHP', elixir: 'Elixir' };
const FRAMEWORKS = {
  fast_api: 'FastAPI', flask: 'Flask', django: 'Django', tornado: 'Tornado', digital_ocean: 'DigitalOcean',
  express: 'Express', nextjs: 'Next.js', remix: 'Remix', nuxt: 'Nuxt', hono: 'Hono', fastify: 'Fastify',
  koa: 'Koa', h3: 'H3', sveltekit: 'SvelteKit', astro: 'Astro', bun: 'Bun', deno: 'Deno', lambda: 'AWS Lambda',
  cloudflare: 'Cloudflare', 'cloudflare-pages': 'Cloudflare Pages', redwoodjs: 'RedwoodJS', nodejs: 'Node.js', vercel: 'Vercel',
};

export function mount(root, ctx) {
  ctx.setTitle('Apps');
  let apps = null;
  let generation = 0;

  const addButton = h('button', { type: 'button', class: 'button button-primary' }, icon('plus'), 'Add app');
  const syncAllButton = h('button', { type: 'button', class: 'button' }, icon('sync'), 'Sync all');
  const body = h('div', { class: 'apps-body' }, loading('Loading apps…'));
  root.append(pageHead('Apps', 'The SDK apps this engine syncs functions from.', [syncAllButton, addButton]), body);

  async function load() {
    const mine = ++generation;
    try {
      apps = (await get('/apps')).apps;
    } catch (exc) {
      if (mine === generation) body.replaceChildren(errorBox(exc.message));
      return;
    }
    if (mine === generation) paint();
  }

  function paint() {
    syncAllButton.hidden = !apps.some((app) => app.kept);
    if (!apps.length) {
      body.replaceChildren(emptyApps());
      return;
    }
    body.replaceChildren(h('div', { class: 'app-grid' }, apps.map(appCard)));
  }

  /** Put `app` where its card was (or first, when new), keeping the others as they are. */
  function replace(app) {
    const index = apps.findIndex((known) => known.id === app.id);
    if (index >= 0) apps[index] = app;
    else apps.unshift(app);
    const card = body.querySelector(`[data-app-id="${app.id}"]`);
    if (card) card.replaceWith(appCard(app));
    else paint();
    syncAllButton.hidden = !apps.some((known) => known.kept);
  }

  function appCard(app) {
    const title = app.name ?? displayUrl(app.url);
    const syncButton = h('button', { type: 'button', class: 'button button-small', 'aria-label': `Sync ${title} now` }, icon('sync'), 'Sync now');
    syncButton.addEventListener('click', () => busy(syncButton, async () => {
      const synced = await post(`/apps/${app.id}/sync`);
      replace(synced);
      focusCardButton(synced.id, 'Sync now');
      if (synced.error) toast(`${title} did not sync: ${synced.error}`, { error: true });
      else toast(`${synced.name ?? title} synced: ${countText(synced.function_count)}`);
    }));
    const removeButton = h('button', { type: 'button', class: 'button button-small button-danger', 'aria-label': `Remove ${title}` }, 'Remove');
    removeButton.addEventListener('click', () => confirmRemove(app, title));
    const [look, word] = app.error ? ['failed', 'Sync failed'] : app.synced_at ? ['completed', 'Synced'] : ['pending', 'Not synced'];
    const state = h('span', { class: `status status-${look}` }, icon(look), word);
    return h(
      'article',
      { class: 'card app-card', dataset: { appId: app.id }, 'aria-labelledby': `app-${app.id}` },
      h('div', { class: 'app-head' },
        h('div', { class: 'app-title' },
          h('h2', { id: `app-${app.id}`, text: title }),
          h('div', { class: 'app-tags' },
            state,
            app.kept
              ? h('span', { class: 'tag', title: 'Synced at start and by Sync all: given with --sdk-url or added here' }, 'Kept')
              : h('span', { class: 'tag', title: 'The app registered itself; the engine does not sync it on its own' }, 'Registered itself'))),
        h('div', { class: 'app-actions' }, syncButton, removeButton)),
      h('div', { class: 'app-url' }, h('span', { class: 'mono id', text: app.url }), copyButton(app.url, 'Copy URL')),
      h('dl', { class: 'app-facts' },
        fact('SDK', app.sdk_language ? `${LANGUAGES[app.sdk_language] ?? app.sdk_language} ${app.sdk_version ?? ''}`.trim() : null),
        fact('Framework', app.framework ? FRAMEWORKS[app.framework] ?? app.framework : null),
        fact('Functions', functionList(app)),
        fact('Last sync', app.synced_at ? relativeTime(app.synced_at) : h('span', { class: 'muted', text: 'Never' }))),
      app.error && errorBox(`Last sync failed: ${app.error}`),
    );
  }

  function fact(label, value) {
    return h('div', { class: 'app-fact' }, h('dt', { text: label }), h('dd', {}, value ?? h('span', { class: 'muted', text: '—' })));
  }

  function functionList(app) {
    if (!app.function_count) return h('span', { class: 'muted', text: 'None' });
    return h('details', { class: 'app-functions' },
      h('summary', { text: countText(app.function_count) }),
      h('ul', {}, app.function_ids.map((slug) => h('li', {}, h('a', { class: 'mono', href: href('/functions', { function: slug }), text: slug })))));
  }

  function focusCardButton(id, label) {
    const button = [...body.querySelectorAll(`[data-app-id="${id}"] button`)].find((b) => b.textContent === label);
    button?.focus();
  }

  function confirmRemove(app, title) {
    const count = app.function_count;
    formDialog({
      title: `Remove ${title}?`,
      description: h('span', {},
        `The engine stops syncing ${app.url}${count ? ` and removes its ${countText(count)}` : ''}; runs already made stay in the history. `,
        'An app given to the engine with ', h('code', {}, '--sdk-url'), ' comes back when the engine restarts with that flag.'),
      fields: [],
      submitLabel: 'Remove app',
      danger: true,
      async onSubmit() {
        await del(`/apps/${app.id}`);
        apps = apps.filter((known) => known.id !== app.id);
        paint();
        toast(`${title} removed`);
        addButton.focus();
      },
    });
  }

  function openAddDialog() {
    const url = textField('App serve URL', { type: 'url', required: true, placeholder: 'http://127.0.0.1:3000/api/inngest', autocomplete: 'off', spellcheck: 'false' });
    formDialog({
      title: 'Add app',
      description: 'The URL where your app serves its Inngest functions. The engine syncs it now and again at every start.',
      fields: [url.element],
      submitLabel: 'Add app',
      async onSubmit() {
        const app = await post('/apps', { url: url.input.value.trim() });
        replace(app);
        if (app.error) toast(`Added ${app.url}, but it did not sync: ${app.error}`, { error: true });
        else toast(`${app.name} added: ${countText(app.function_count)}`);
      },
    });
    url.input.focus();
  }

  addButton.addEventListener('click', openAddDialog);
  syncAllButton.addEventListener('click', () => busy(syncAllButton, async () => {
    apps = (await post('/apps/sync')).apps;
    paint();
    const failed = apps.filter((app) => app.kept && app.error);
    if (failed.length) toast(`${failed.length} app${failed.length === 1 ? '' : 's'} did not sync`, { error: true });
    else toast('Every kept app synced');
  }));

  load();
  return {
    unmount() {
      generation += 1;
    },
  };
}

function countText(count) {
  return `${count} function${count === 1 ? '' : 's'}`;
}

function displayUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.host + (parsed.pathname === '/' ? '' : parsed.pathname);
  } catch {
    return url;
  }
}

function emptyApps() {
  return emptyState(
    'No apps yet',
    h('p', {}, 'An app is the URL where your code serves its Inngest functions (', h('code', {}, 'serve()'),
      ' in the SDK). Add it with ', h('strong', {}, 'Add app'), ', or start the engine with it:'),
    command('docs-ingest engine --sdk-url http://127.0.0.1:3000/api/inngest'),
    h('p', { class: 'muted' }, 'An SDK app in development mode also registers itself with the engine when it starts.'),
  );
}
