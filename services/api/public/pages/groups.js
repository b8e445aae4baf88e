// The groups page: search, a group's settings and channels; admins change them and unmute everyone.
import { api, describeError } from '../api.js';
import { h, canChange, num, badge, toast, act, table, field, loadBots, botName, botSelect } from '../ui.js';

/** Whether Telegram names the bot this group's guard bot (join requests then come with a query to answer). */
const guardBadge = (g) =>
  g.isGuardBot === true
    ? badge('running', 'guard bot')
    : g.isGuardBot === false
      ? badge('stopped', 'not guard bot')
      : h('span.muted', {}, 'not known yet');

export async function renderGroups(view) {
  await loadBots();
  const q = h('input', { name: 'q', type: 'search', placeholder: 'Title words' });
  const bot = botSelect();
  const enabled = h(
    'select',
    { name: 'enabled' },
    h('option', { value: '' }, 'Any'),
    h('option', { value: 'true' }, 'Protected'),
    h('option', { value: 'false' }, 'Not protected'),
  );
  const form = h(
    'form.toolbar',
    { role: 'search', 'aria-label': 'Search groups' },
    field('Search', q, 'grow'),
    field('Bot', bot),
    field('Protection', enabled),
    h('button', { type: 'submit' }, 'Search'),
  );
  const list = h('div', { id: 'groups-list' });
  const panel = h('section.card.panel', { id: 'group-panel', hidden: true, 'aria-live': 'polite', tabindex: '-1' });
  view.append(h('div.page-head', {}, h('h1', {}, 'Groups')), form, list, panel);
  let page = 1;

  const refresh = async () => {
    const res = await api('/groups', {
      query: { q: q.value.trim(), bot_id: bot.value, enabled: enabled.value, page, per_page: 20 },
    });
    const rows = res.items.map((g) => {
      const open = h('button.secondary', { type: 'button', 'aria-label': `Open ${g.title ?? g.chatId}` }, 'Open');
      open.addEventListener('click', () => void showGroup(g.id));
      return h(
        'tr',
        {},
        h('td', {}, g.title ?? '—', h('br'), h('span.muted', {}, g.chatId)),
        h('td', {}, botName(g.botInstanceId)),
        h('td', {}, g.enabled ? badge('running', 'protected') : badge('stopped', 'off')),
        h('td', {}, g.mode === 'join_request' ? 'join requests' : 'mute'),
        h('td', {}, guardBadge(g)),
        h('td.num', {}, num(g.memberCount)),
        h('td', {}, open),
      );
    });
    const prev = h('button.secondary', { type: 'button', disabled: page <= 1 }, 'Previous');
    const next = h('button.secondary', { type: 'button', disabled: page >= res.totalPages }, 'Next');
    prev.addEventListener('click', () => {
      page--;
      void refresh();
    });
    next.addEventListener('click', () => {
      page++;
      void refresh();
    });
    list.replaceChildren(
      table(
        `${num(res.total)} group${res.total === 1 ? '' : 's'}`,
        ['Group', 'Bot', 'Protection', 'Mode', 'Guard bot', { label: 'Members', cls: 'num' }, ''],
        rows,
        'No group matches',
      ),
      h('div.pager', {}, prev, h('span.muted', {}, `Page ${res.page} of ${Math.max(1, res.totalPages)}`), next),
    );
  };

  const showGroup = async (id) => {
    const g = await api(`/groups/${id}`);
    const ro = !canChange();
    const enabledBox = h('input', { type: 'checkbox', name: 'enabled', checked: g.enabled, disabled: ro });
    const mode = h(
      'select',
      { name: 'mode', disabled: ro },
      h('option', { value: 'mute', selected: g.mode === 'mute' }, 'Mute non-subscribers'),
      h('option', { value: 'join_request', selected: g.mode === 'join_request' }, 'Approve join requests'),
    );
    const lifetime = h('input', {
      type: 'number',
      name: 'promptLifetimeSeconds',
      min: '10',
      max: '86400',
      value: String(g.promptLifetimeSeconds),
      disabled: ro,
    });
    const mute = h('input', {
      type: 'number',
      name: 'muteDurationSeconds',
      min: '0',
      max: '31622400',
      value: String(g.muteDurationSeconds),
      disabled: ro,
    });
    const language = h('input', {
      type: 'text',
      name: 'language',
      pattern: '[a-z]{2}',
      maxlength: '2',
      value: g.language,
      disabled: ro,
    });
    const banAfter = h('input', {
      type: 'number',
      name: 'senderChatBanAfter',
      min: '0',
      max: '100',
      value: String(g.senderChatBanAfter),
      disabled: ro,
    });
    const guardTimeout = h(
      'select',
      { name: 'guardTimeoutAction', disabled: ro },
      h('option', { value: 'decline', selected: g.guardTimeoutAction !== 'queue' }, 'Decline the request'),
      h('option', { value: 'queue', selected: g.guardTimeoutAction === 'queue' }, 'Leave it to the admins'),
    );
    const promptStyle = h(
      'select',
      { name: 'promptStyle', disabled: ro },
      h('option', { value: 'group', selected: g.promptStyle !== 'ephemeral' }, 'In the group'),
      h(
        'option',
        { value: 'ephemeral', selected: g.promptStyle === 'ephemeral' },
        'Only to the muted user (ephemeral)',
      ),
    );
    const prompt = h(
      'textarea',
      { name: 'customPromptText', maxlength: '2048', disabled: ro },
      g.customPromptText ?? '',
    );
    const settings = h(
      'form',
      { 'aria-label': 'Group settings' },
      h(
        'div.settings-grid',
        {},
        h('label.check', {}, enabledBox, 'Protection on'),
        field('Mode', mode),
        field('Prompt lifetime (s)', lifetime),
        field('Mute duration (s, 0 = until verified)', mute),
        field('Language', language),
        field('Ban a channel posting here at its n-th deleted post (0 = never)', banAfter),
        field('Guard bot: a request not joined in time', guardTimeout),
        field('Prompts shown', promptStyle),
      ),
      h('p.muted', {}, 'Guard bot: ', guardBadge(g)),
      field('Custom prompt text (optional)', prompt),
    );
    if (!ro) {
      const save = h('button', { type: 'submit' }, 'Save settings');
      settings.append(h('div.actions', {}, save));
      settings.addEventListener('submit', (e) => {
        e.preventDefault();
        void act(
          save,
          async () => {
            await api(`/groups/${g.id}`, {
              method: 'PATCH',
              body: {
                enabled: enabledBox.checked,
                mode: mode.value,
                promptLifetimeSeconds: Number(lifetime.value),
                muteDurationSeconds: Number(mute.value),
                language: language.value.trim(),
                senderChatBanAfter: Number(banAfter.value),
                guardTimeoutAction: guardTimeout.value,
                promptStyle: promptStyle.value,
                customPromptText: prompt.value.trim() ? prompt.value : null,
              },
            });
            await refresh();
          },
          'Settings saved',
        );
      });
    }
    const channelItems = g.channels.map((c) => {
      const li = h(
        'li',
        {},
        h('span', {}, c.title ?? '—', ' ', h('span.muted', {}, c.username ? `@${c.username}` : c.channelId)),
        c.botIsAdmin ? badge('running', 'bot is admin') : badge('error', 'bot not admin'),
      );
      if (!ro) {
        const unlink = h(
          'button.secondary',
          { type: 'button', 'aria-label': `Unlink ${c.title ?? c.channelId}` },
          'Unlink',
        );
        unlink.addEventListener(
          'click',
          () =>
            void act(
              unlink,
              async () => {
                await api(`/groups/${g.id}/channels/${c.id}`, { method: 'DELETE' });
                await showGroup(g.id);
              },
              'Channel unlinked',
            ),
        );
        li.append(unlink);
      }
      return li;
    });
    const parts = [
      h('h2', { id: 'group-panel-title' }, g.title ?? g.chatId),
      h(
        'p.muted',
        {},
        `${botName(g.botInstanceId)} · chat ${g.chatId} · ${num(g.openRestrictions)} muted by the bot · ${num(g.whitelisted)} whitelisted`,
      ),
      ...(g.uncheckableChannels
        ? [
            h(
              'p.warning',
              { role: 'status' },
              `The bot cannot check ${g.uncheckableChannels === 1 ? 'one channel' : `${g.uncheckableChannels} channels`} below (it is not an admin there): nobody is muted for not joining ${g.uncheckableChannels === 1 ? 'it' : 'them'} until it is.`,
            ),
          ]
        : []),
      settings,
      h('h3', {}, 'Linked channels'),
      h('ul.channel-list', {}, channelItems.length ? channelItems : h('li.muted', {}, 'No channel linked')),
    ];
    if (!ro) {
      const channels = await api('/channels', { query: { bot_id: g.botInstanceId, per_page: 100 } });
      const linked = new Set(g.channels.map((c) => c.id));
      const choice = h(
        'select',
        {},
        channels.items
          .filter((c) => !linked.has(c.id))
          .map((c) =>
            h('option', { value: c.id }, `${c.title ?? c.channelId}${c.username ? ` (@${c.username})` : ''}`),
          ),
      );
      const link = h('button.secondary', { type: 'submit' }, 'Link channel');
      const linkForm = choice.options.length
        ? h('form.toolbar', { 'aria-label': 'Link a channel' }, field('Channel of this bot', choice), link)
        : h('p.muted', {}, 'Every channel of this bot is linked.');
      linkForm.addEventListener('submit', (e) => {
        e.preventDefault();
        void act(
          link,
          async () => {
            await api(`/groups/${g.id}/channels`, { method: 'POST', body: { channelId: Number(choice.value) } });
            await showGroup(g.id);
          },
          'Channel linked',
        );
      });
      const unmute = h('button.danger', { type: 'button', id: 'unmute-all' }, 'Unmute everyone');
      unmute.addEventListener('click', () => {
        if (!window.confirm(`Unmute everyone the bot muted in ${g.title ?? 'this group'}?`)) return;
        void act(unmute, async () => {
          const res = await api(`/groups/${g.id}/unmute-all`, { method: 'POST', body: { disable: false } });
          toast(`Unmuting ${res.openRestrictions} member(s) in the background`);
        });
      });
      parts.push(
        linkForm,
        h('h3', {}, 'Muted members'),
        h('p.muted', {}, 'Lifts every restriction the bot set in this group (queued and paced).'),
        unmute,
      );
    }
    panel.replaceChildren(...parts);
    panel.setAttribute('aria-labelledby', 'group-panel-title');
    panel.hidden = false;
    panel.focus();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    page = 1;
    void refresh().catch((err) => toast(describeError(err), true));
  });
  await refresh();
}
