// The verifications page: decisions, newest first, filtered, a page at a time.
import { api, describeError } from '../api.js';
import { h, ms, when, badge, toast, act, field, loadBots, botName, botSelect } from '../ui.js';

/** How a guard-bot join request was decided (verification_log.reason). */
const GUARD_REASONS = {
  guard_at_once: 'approved at once',
  guard_web_app: 'joined via the Web App',
  guard_timeout: 'timed out, declined',
  guard_queued: 'timed out, left to admins',
};

export async function renderVerifications(view) {
  await loadBots();
  const bot = botSelect();
  const status = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'Any'),
    ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'].map((s) => h('option', { value: s }, s)),
  );
  const chat = h('input', { name: 'chat_id', inputmode: 'numeric', placeholder: '-100…', size: '14' });
  const user = h('input', { name: 'user_id', inputmode: 'numeric', size: '12' });
  const from = h('input', { name: 'from', type: 'datetime-local' });
  const to = h('input', { name: 'to', type: 'datetime-local' });
  const form = h(
    'form.toolbar',
    { 'aria-label': 'Filter verifications' },
    field('Bot', bot),
    field('Status', status),
    field('Group chat id', chat),
    field('User id', user),
    field('From', from),
    field('To', to),
    h('button', { type: 'submit' }, 'Apply'),
  );
  const body = h('tbody');
  const more = h('button.secondary', { type: 'button', id: 'load-more', hidden: true }, 'Load older');
  const count = h('span.muted', { 'aria-live': 'polite' });
  view.append(
    h('div.page-head', {}, h('h1', {}, 'Verifications'), count),
    form,
    h(
      'div.table-wrap',
      {},
      h(
        'table',
        { id: 'verifications-table' },
        h('caption', {}, 'Decisions, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Time', 'Bot', 'Group', 'User', 'Status', 'Latency', 'Cache', 'Error', 'Guard bot'].map((x) =>
              h(x === 'Latency' ? 'th.num' : 'th', { scope: 'col' }, x),
            ),
          ),
        ),
        body,
      ),
    ),
    h('div.pager', {}, more),
  );
  let cursor = null;
  let shown = 0;
  const iso = (v) => (v ? new Date(v).toISOString() : undefined);
  const load = async (reset) => {
    if (reset) {
      body.replaceChildren();
      cursor = null;
      shown = 0;
    }
    const res = await api('/verifications', {
      query: {
        bot_id: bot.value,
        status: status.value,
        chat_id: chat.value.trim(),
        user_id: user.value.trim(),
        from: iso(from.value),
        to: iso(to.value),
        cursor,
        limit: 25,
      },
    });
    for (const v of res.items) {
      body.append(
        h(
          'tr',
          {},
          h('td', {}, when(v.createdAt)),
          h('td', {}, botName(v.botInstanceId)),
          h('td', {}, v.chatId),
          h('td', {}, v.userId),
          h('td', {}, badge(v.status)),
          h('td.num', {}, ms(v.latencyMs)),
          h('td', {}, v.cached ? 'hit' : 'miss'),
          h('td', {}, v.errorType ?? ''),
          h('td', {}, GUARD_REASONS[v.reason] ?? ''),
        ),
      );
    }
    shown += res.items.length;
    if (!shown) body.append(h('tr', {}, h('td.muted', { colspan: 8 }, 'No decision matches')));
    cursor = res.nextCursor;
    more.hidden = !cursor;
    count.textContent = `${shown} shown${cursor ? ', more available' : ''}`;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load(true).catch((err) => toast(describeError(err), true));
  });
  more.addEventListener('click', () => void act(more, () => load(false)));
  await load(true);
}
