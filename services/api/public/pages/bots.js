// The bots page: status and health of every bot; admins add, start, stop and restart them.
import { api } from '../api.js';
import { h, canChange, num, ago, badge, toast, every, act, table, field, loadBots } from '../ui.js';

export async function renderBots(view) {
  const list = h('div', { id: 'bots-list' });
  const parts = [h('div.page-head', {}, h('h1', {}, 'Bots'), h('span.muted', {}, 'status refreshes every 5 s'))];
  if (canChange()) {
    const token = h('input', {
      name: 'token',
      type: 'password',
      autocomplete: 'off',
      required: true,
      placeholder: '123456:ABC…',
      spellcheck: 'false',
    });
    const form = h(
      'form.card.toolbar',
      { id: 'add-bot-form', 'aria-label': 'Add a bot' },
      field('Bot token from @BotFather', token, 'grow'),
      h('button', { type: 'submit' }, 'Add bot'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void act(form.querySelector('button'), async () => {
        const bot = await api('/bots', { method: 'POST', body: { token: token.value.trim() } });
        token.value = '';
        toast(`Added @${bot.username}`);
        await refresh();
      });
    });
    parts.push(form);
  }
  parts.push(list);
  view.append(...parts);

  const health = new Map();
  const loadHealth = async (bots) => {
    await Promise.all(
      bots.map(async (b) => {
        try {
          health.set(b.id, await api(`/bots/${b.id}/health`));
        } catch {
          health.delete(b.id);
        }
      }),
    );
  };
  const refresh = async () => {
    const bots = await loadBots();
    await loadHealth(bots);
    const headers = ['Bot', 'Status', 'Health', 'Heartbeat', { label: 'Restarts', cls: 'num' }, 'Last error'];
    if (canChange()) headers.push('Actions');
    const rows = bots.map((b) => {
      const hl = health.get(b.id);
      const cells = [
        h('td', {}, h('strong', {}, b.name ?? b.username), h('br'), h('span.muted', {}, `@${b.username} · #${b.id}`)),
        h('td', {}, badge(b.status), b.statusReason ? h('div.reasons', {}, b.statusReason) : null),
        h(
          'td',
          {},
          hl ? badge(hl.health) : '—',
          hl?.reasons?.length ? h('div.reasons', {}, hl.reasons.join('; ')) : null,
          hl ? h('div.reasons', {}, `queue ${hl.queue.waiting} waiting · breaker ${hl.breaker}`) : null,
        ),
        h(
          'td',
          {},
          hl?.heartbeatAgeMs != null ? `${Math.round(hl.heartbeatAgeMs / 1000)} s ago` : ago(b.lastHeartbeatAt),
        ),
        h('td.num', {}, num(b.restartCount)),
        h('td', {}, b.lastError ? h('span.reasons', {}, b.lastError) : '—'),
      ];
      if (canChange()) {
        const button = (name, label, cls = 'secondary') => {
          const el = h(
            `button.${cls}`,
            { type: 'button', 'aria-label': `${label} @${b.username}`, dataset: { action: name, bot: b.username } },
            label,
          );
          el.addEventListener(
            'click',
            () =>
              void act(
                el,
                async () => {
                  await api(`/bots/${b.id}/${name}`, { method: 'POST' });
                  await refresh();
                },
                `${label}: @${b.username}`,
              ),
          );
          return el;
        };
        cells.push(
          h(
            'td',
            {},
            h(
              'div.actions',
              {},
              b.isActive ? null : button('start', 'Start', 'primary'),
              b.isActive ? button('stop', 'Stop') : null,
              button('restart', 'Restart'),
            ),
          ),
        );
      }
      return h('tr', { dataset: { botId: b.id, status: b.status } }, cells);
    });
    list.replaceChildren(table(`${bots.length} bot${bots.length === 1 ? '' : 's'}`, headers, rows, 'No bots yet'));
  };
  await refresh();
  every(5_000, refresh);
}
