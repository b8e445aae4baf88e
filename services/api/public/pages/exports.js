// The exports page: CSV exports and their progress; admins request and download them.
import { api } from '../api.js';
import { h, canChange, num, when, bytes, badge, toast, every, act, table, field, loadBots, botSelect } from '../ui.js';

export async function renderExports(view) {
  const list = h('div', { id: 'exports-list' });
  const parts = [
    h(
      'div.page-head',
      {},
      h('h1', {}, 'Exports'),
      h('span.muted', {}, 'gzip-compressed CSV, written in the background'),
    ),
  ];
  if (canChange()) {
    await loadBots();
    const kind = h(
      'select',
      { name: 'kind' },
      ['verifications', 'audit', 'api_calls', 'groups'].map((k) => h('option', { value: k }, k.replace('_', ' '))),
    );
    const bot = botSelect('All bots');
    const from = h('input', { name: 'from', type: 'datetime-local' });
    const to = h('input', { name: 'to', type: 'datetime-local' });
    const form = h(
      'form.card.toolbar',
      { id: 'export-form', 'aria-label': 'Request an export' },
      field('Kind', kind),
      field('Bot', bot),
      field('From', from),
      field('To', to),
      h('button', { type: 'submit' }, 'Request export'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const filters = {};
      if (bot.value) filters.botId = Number(bot.value);
      if (from.value) filters.from = new Date(from.value).toISOString();
      if (to.value) filters.to = new Date(to.value).toISOString();
      void act(form.querySelector('button'), async () => {
        const row = await api('/exports', { method: 'POST', body: { kind: kind.value, filters } });
        toast(`Export #${row.id} queued`);
        await refresh();
      });
    });
    parts.push(form);
  }
  parts.push(list);
  view.append(...parts);

  const refresh = async () => {
    const res = await api('/exports', { query: { per_page: 20 } });
    const rows = res.items.map((x) => {
      const progress =
        x.status === 'done'
          ? h('span', {}, `${num(x.rows)} rows`)
          : x.status === 'running' || x.status === 'queued'
            ? h(
                'progress',
                {
                  max: String(Math.max(x.rows ?? 0, x.progressRows ?? 0, 1)),
                  value: String(x.progressRows ?? 0),
                  'aria-label': `Export ${x.id} progress`,
                },
                `${num(x.progressRows)} rows`,
              )
            : h('span.reasons', {}, x.error ?? '');
      let download = '—';
      if (x.status === 'done' && !x.fileDeletedAt && canChange())
        download = h(
          'a',
          { href: `/api/v1/exports/${x.id}/download`, download: '', dataset: { exportId: x.id } },
          'Download',
          h('span.visually-hidden', {}, ` export ${x.id}`),
        );
      else if (x.fileDeletedAt) download = 'expired';
      return h(
        'tr',
        { dataset: { exportId: x.id, status: x.status } },
        h('td', {}, `#${x.id}`),
        h('td', {}, x.kind),
        h('td', {}, badge(x.status === 'running' ? 'running-export' : x.status, x.status)),
        h('td', {}, progress),
        h('td.num', {}, bytes(x.bytes)),
        h('td', {}, when(x.createdAt)),
        h('td', {}, download),
      );
    });
    list.replaceChildren(
      table(
        `${num(res.total)} export${res.total === 1 ? '' : 's'}`,
        ['Id', 'Kind', 'Status', 'Progress', { label: 'Size', cls: 'num' }, 'Requested', 'File'],
        rows,
        'No export yet',
      ),
    );
  };
  await refresh();
  every(2_000, refresh);
}
