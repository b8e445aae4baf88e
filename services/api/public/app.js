// Nezuko admin dashboard: plain ES modules on the public admin API (/api/v1). Hash routes, no framework.
import { api, describeError, onUnauthorized, setCsrf } from './api.js';
import { donut, horizontalBars, stackedBars } from './charts.js';

const $ = (sel, root = document) => root.querySelector(sel);

/** h('tag.class', { attr, onclick }, ...children): builds elements; text is always set as text, never HTML. */
function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const state = { me: null, timers: [], uiConfig: { grafanaUrl: null }, bots: [] };
const canChange = () => state.me && state.me.role !== 'viewer';

const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(v >= 0.995 || v === 0 ? 0 : 1)}%`);
const num = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en'));
const ms = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const ago = (iso) => {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};
const bytes = (n) => (n === null || n === undefined ? '—' : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);
const badge = (value, extra) => h(`span.badge.s-${String(value).replace(/[^\w-]/g, '')}`, {}, extra ?? value);

let toastTimer;
function toast(message, bad = false) {
  const el = $('#toast');
  el.textContent = message;
  el.classList.toggle('bad', bad);
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}

function every(msInterval, fn) {
  const t = setInterval(() => void fn().catch(() => {}), msInterval);
  state.timers.push(t);
}
function clearTimers() {
  for (const t of state.timers.splice(0)) {
    clearInterval(t);
    clearTimeout(t);
  }
}

async function act(button, fn, okMessage) {
  button.disabled = true;
  try {
    await fn();
    if (okMessage) toast(okMessage);
  } catch (err) {
    toast(describeError(err), true);
  } finally {
    button.disabled = false;
  }
}

const table = (caption, headers, rows, empty = 'Nothing here yet') =>
  h(
    'div.table-wrap',
    {},
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((x) => h(typeof x === 'object' ? `th.${x.cls}` : 'th', { scope: 'col' }, typeof x === 'object' ? x.label : x)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty))),
    ),
  );

const field = (labelText, input, cls = '') => {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h(`div.field${cls ? `.${cls}` : ''}`, {}, h('label', { for: id }, labelText), input);
};

async function loadBots() {
  const page = await api('/bots', { query: { per_page: 100 } });
  state.bots = page.items;
  return page.items;
}
const botName = (id) => {
  const b = state.bots.find((x) => x.id === Number(id));
  return b ? `@${b.username}` : `#${id}`;
};
const botSelect = (allLabel = 'All bots') =>
  h('select', { name: 'bot_id' }, h('option', { value: '' }, allLabel), state.bots.map((b) => h('option', { value: b.id }, `@${b.username}`)));

// ---------------------------------------------------------------- overview

async function renderOverview(view) {
  const cards = h('div.cards', { id: 'stat-cards' });
  const updated = h('span.muted', { id: 'snapshot-age' }, 'loading…');
  const chart = (id, title, note) =>
    h('section.card.chart-card', { 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), note ? h('p.chart-note', {}, note) : null, h('div.chart', { id, dataset: { hasData: 'false' } }));
  view.append(
    h('div.page-head', {}, h('h1', {}, 'Overview'), updated),
    cards,
    h(
      'div.charts',
      {},
      chart('chart-activity', 'Verifications over time', 'Per hour, last 24 hours, by outcome'),
      chart('chart-success', 'Success rate', 'Decisions in the last 24 hours'),
      chart('chart-latency', 'Decision latency', 'Last 24 hours'),
      chart('chart-cache', 'Membership cache', 'Answers served from the cache, last 24 hours'),
      chart('chart-top-groups', 'Top groups', 'Most decisions in the last 7 days'),
      chart('chart-bots', 'Bots by status', 'Right now'),
    ),
  );
  const refresh = async () => {
    const [dash, latency] = await Promise.all([api('/stats/dashboard'), api('/stats/charts/latency-distribution', { query: { period: 'last24h' } })]);
    if (!dash.available || !dash.data) {
      updated.textContent = 'Waiting for the first statistics snapshot…';
      state.timers.push(setTimeout(() => void refresh().catch(() => {}), 2_000));
      return;
    }
    const d = dash.data;
    updated.textContent = `Snapshot ${ago(dash.generatedAt)} · refreshes every 10 s`;
    const p = d.last24h;
    const bots = Object.values(d.botsByStatus).reduce((a, b) => a + b, 0);
    const protectedGroups = d.bots.reduce((a, b) => a + b.protectedGroups, 0);
    const stat = (label, value, sub) => h('div.card.stat', {}, h('div.stat-label', {}, label), h('div.stat-value', {}, value), sub ? h('div.stat-sub', {}, sub) : null);
    cards.replaceChildren(
      stat('Decisions (24 h)', num(p.total), `${num(d.today.total)} today`),
      stat('Success rate', pct(p.successRate), `${num(p.errors)} errors`),
      stat('Already subscribed', pct(p.passRate), 'verified or approved'),
      stat('Cache hit rate', pct(p.cacheHitRate), `${num(p.cacheHits)} hits`),
      stat('Latency p95', ms(p.latencyPercentilesMs.p95), `p50 ${ms(p.latencyPercentilesMs.p50)}`),
      stat('Bots running', `${num(d.botsByStatus.running ?? 0)} / ${num(bots)}`, `${num(protectedGroups)} protected groups`),
    );

    const series = d.series.hourly24h;
    const hourLabel = (iso) => `${String(new Date(iso).getHours()).padStart(2, '0')}h`;
    const statuses = [
      ['verified', 'Verified'],
      ['restricted', 'Muted'],
      ['approved', 'Approved'],
      ['declined', 'Declined'],
      ['skipped', 'Skipped'],
      ['errors', 'Errors'],
    ];
    stackedBars($('#chart-activity'), {
      label: 'Verifications per hour over the last 24 hours',
      labels: series.map((s) => hourLabel(s.hour)),
      series: statuses.map(([key, name]) => ({ name, cls: `s-${key}`, values: series.map((s) => s[key] ?? 0) })),
      tickEvery: 4,
    });
    const completed = p.total - p.errors;
    donut($('#chart-success'), {
      label: 'Success rate over the last 24 hours',
      items: [
        { label: 'Completed', value: completed, cls: 's-success' },
        { label: 'Errors', value: p.errors, cls: 's-errors' },
      ],
      center: pct(p.successRate),
      centerLabel: 'success',
    });
    stackedBars($('#chart-latency'), {
      label: `Decision latency distribution; p50 ${ms(latency.percentiles?.p50)}, p95 ${ms(latency.percentiles?.p95)}`,
      labels: (latency.data ?? []).map((b) => b.bucket.replace('<=', '≤')),
      series: [{ name: 'Decisions', cls: 's-latency', values: (latency.data ?? []).map((b) => b.count) }],
      tickEvery: 2,
    });
    $('#chart-latency').append(h('p.chart-note', {}, `p50 ${ms(latency.percentiles?.p50)} · p90 ${ms(latency.percentiles?.p90)} · p95 ${ms(latency.percentiles?.p95)} · p99 ${ms(latency.percentiles?.p99)}`));
    donut($('#chart-cache'), {
      label: 'Membership cache hits over the last 24 hours',
      items: [
        { label: 'Hits', value: p.cacheHits, cls: 's-hits' },
        { label: 'Misses', value: Math.max(0, p.total - p.cacheHits), cls: 's-misses' },
      ],
      center: pct(p.cacheHitRate),
      centerLabel: 'hit rate',
    });
    horizontalBars($('#chart-top-groups'), {
      label: 'Groups with the most decisions in the last 7 days',
      items: d.topGroups.map((g) => ({ label: g.title ?? g.chatId, value: g.total, cls: 's-primary' })),
      empty: 'No decisions in the last 7 days',
    });
    horizontalBars($('#chart-bots'), {
      label: 'Bots by status',
      items: Object.entries(d.botsByStatus).map(([status, count]) => ({ label: status, value: count, cls: `s-${status}` })),
      empty: 'No bots',
    });
    // While a chart still waits for its first data (a fresh install), look again sooner than every 10 s.
    if (document.querySelector('.chart[data-has-data="false"]')) state.timers.push(setTimeout(() => void refresh().catch(() => {}), 2_000));
  };
  await refresh();
  every(10_000, refresh);
}

// ---------------------------------------------------------------- bots

async function renderBots(view) {
  const list = h('div', { id: 'bots-list' });
  const parts = [h('div.page-head', {}, h('h1', {}, 'Bots'), h('span.muted', {}, 'status refreshes every 5 s'))];
  if (canChange()) {
    const token = h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true, placeholder: '123456:ABC…', spellcheck: 'false' });
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
        h('td', {}, hl ? badge(hl.health) : '—', hl?.reasons?.length ? h('div.reasons', {}, hl.reasons.join('; ')) : null, hl ? h('div.reasons', {}, `queue ${hl.queue.waiting} waiting · breaker ${hl.breaker}`) : null),
        h('td', {}, hl?.heartbeatAgeMs != null ? `${Math.round(hl.heartbeatAgeMs / 1000)} s ago` : ago(b.lastHeartbeatAt)),
        h('td.num', {}, num(b.restartCount)),
        h('td', {}, b.lastError ? h('span.reasons', {}, b.lastError) : '—'),
      ];
      if (canChange()) {
        const button = (name, label, cls = 'secondary') => {
          const el = h(`button.${cls}`, { type: 'button', 'aria-label': `${label} @${b.username}`, dataset: { action: name, bot: b.username } }, label);
          el.addEventListener('click', () => void act(el, async () => {
            await api(`/bots/${b.id}/${name}`, { method: 'POST' });
            await refresh();
          }, `${label}: @${b.username}`));
          return el;
        };
        cells.push(h('td', {}, h('div.actions', {}, b.isActive ? null : button('start', 'Start', 'primary'), b.isActive ? button('stop', 'Stop') : null, button('restart', 'Restart'))));
      }
      return h('tr', { dataset: { botId: b.id, status: b.status } }, cells);
    });
    list.replaceChildren(table(`${bots.length} bot${bots.length === 1 ? '' : 's'}`, headers, rows, 'No bots yet'));
  };
  await refresh();
  every(5_000, refresh);
}

// ---------------------------------------------------------------- groups

async function renderGroups(view) {
  await loadBots();
  const q = h('input', { name: 'q', type: 'search', placeholder: 'Title words' });
  const bot = botSelect();
  const enabled = h('select', { name: 'enabled' }, h('option', { value: '' }, 'Any'), h('option', { value: 'true' }, 'Protected'), h('option', { value: 'false' }, 'Not protected'));
  const form = h('form.toolbar', { role: 'search', 'aria-label': 'Search groups' }, field('Search', q, 'grow'), field('Bot', bot), field('Protection', enabled), h('button', { type: 'submit' }, 'Search'));
  const list = h('div', { id: 'groups-list' });
  const panel = h('section.card.panel', { id: 'group-panel', hidden: true, 'aria-live': 'polite', tabindex: '-1' });
  view.append(h('div.page-head', {}, h('h1', {}, 'Groups')), form, list, panel);
  let page = 1;

  const refresh = async () => {
    const res = await api('/groups', { query: { q: q.value.trim(), bot_id: bot.value, enabled: enabled.value, page, per_page: 20 } });
    const rows = res.items.map((g) => {
      const open = h('button.secondary', { type: 'button', 'aria-label': `Open ${g.title ?? g.chatId}` }, 'Open');
      open.addEventListener('click', () => void showGroup(g.id));
      return h('tr', {}, h('td', {}, g.title ?? '—', h('br'), h('span.muted', {}, g.chatId)), h('td', {}, botName(g.botInstanceId)), h('td', {}, g.enabled ? badge('running', 'protected') : badge('stopped', 'off')), h('td', {}, g.mode === 'join_request' ? 'join requests' : 'mute'), h('td.num', {}, num(g.memberCount)), h('td', {}, open));
    });
    const prev = h('button.secondary', { type: 'button', disabled: page <= 1 }, 'Previous');
    const next = h('button.secondary', { type: 'button', disabled: page >= res.totalPages }, 'Next');
    prev.addEventListener('click', () => { page--; void refresh(); });
    next.addEventListener('click', () => { page++; void refresh(); });
    list.replaceChildren(
      table(`${num(res.total)} group${res.total === 1 ? '' : 's'}`, ['Group', 'Bot', 'Protection', 'Mode', { label: 'Members', cls: 'num' }, ''], rows, 'No group matches'),
      h('div.pager', {}, prev, h('span.muted', {}, `Page ${res.page} of ${Math.max(1, res.totalPages)}`), next),
    );
  };

  const showGroup = async (id) => {
    const g = await api(`/groups/${id}`);
    const ro = !canChange();
    const enabledBox = h('input', { type: 'checkbox', name: 'enabled', checked: g.enabled, disabled: ro });
    const mode = h('select', { name: 'mode', disabled: ro }, h('option', { value: 'mute', selected: g.mode === 'mute' }, 'Mute non-subscribers'), h('option', { value: 'join_request', selected: g.mode === 'join_request' }, 'Approve join requests'));
    const lifetime = h('input', { type: 'number', name: 'promptLifetimeSeconds', min: '10', max: '86400', value: String(g.promptLifetimeSeconds), disabled: ro });
    const mute = h('input', { type: 'number', name: 'muteDurationSeconds', min: '0', max: '31622400', value: String(g.muteDurationSeconds), disabled: ro });
    const language = h('input', { type: 'text', name: 'language', pattern: '[a-z]{2}', maxlength: '2', value: g.language, disabled: ro });
    const banAfter = h('input', { type: 'number', name: 'senderChatBanAfter', min: '0', max: '100', value: String(g.senderChatBanAfter), disabled: ro });
    const prompt = h('textarea', { name: 'customPromptText', maxlength: '2048', disabled: ro }, g.customPromptText ?? '');
    const settings = h(
      'form',
      { 'aria-label': 'Group settings' },
      h('div.settings-grid', {}, h('label.check', {}, enabledBox, 'Protection on'), field('Mode', mode), field('Prompt lifetime (s)', lifetime), field('Mute duration (s, 0 = until verified)', mute), field('Language', language), field('Ban a channel posting here at its n-th deleted post (0 = never)', banAfter)),
      field('Custom prompt text (optional)', prompt),
    );
    if (!ro) {
      const save = h('button', { type: 'submit' }, 'Save settings');
      settings.append(h('div.actions', {}, save));
      settings.addEventListener('submit', (e) => {
        e.preventDefault();
        void act(save, async () => {
          await api(`/groups/${g.id}`, {
            method: 'PATCH',
            body: {
              enabled: enabledBox.checked,
              mode: mode.value,
              promptLifetimeSeconds: Number(lifetime.value),
              muteDurationSeconds: Number(mute.value),
              language: language.value.trim(),
              senderChatBanAfter: Number(banAfter.value),
              customPromptText: prompt.value.trim() ? prompt.value : null,
            },
          });
          await refresh();
        }, 'Settings saved');
      });
    }
    const channelItems = g.channels.map((c) => {
      const li = h('li', {}, h('span', {}, c.title ?? '—', ' ', h('span.muted', {}, c.username ? `@${c.username}` : c.channelId)), c.botIsAdmin ? badge('running', 'bot is admin') : badge('error', 'bot not admin'));
      if (!ro) {
        const unlink = h('button.secondary', { type: 'button', 'aria-label': `Unlink ${c.title ?? c.channelId}` }, 'Unlink');
        unlink.addEventListener('click', () => void act(unlink, async () => {
          await api(`/groups/${g.id}/channels/${c.id}`, { method: 'DELETE' });
          await showGroup(g.id);
        }, 'Channel unlinked'));
        li.append(unlink);
      }
      return li;
    });
    const parts = [
      h('h2', { id: 'group-panel-title' }, g.title ?? g.chatId),
      h('p.muted', {}, `${botName(g.botInstanceId)} · chat ${g.chatId} · ${num(g.openRestrictions)} muted by the bot · ${num(g.whitelisted)} whitelisted`),
      ...(g.uncheckableChannels
        ? [h('p.warning', { role: 'status' }, `The bot cannot check ${g.uncheckableChannels === 1 ? 'one channel' : `${g.uncheckableChannels} channels`} below (it is not an admin there): nobody is muted for not joining ${g.uncheckableChannels === 1 ? 'it' : 'them'} until it is.`)]
        : []),
      settings,
      h('h3', {}, 'Linked channels'),
      h('ul.channel-list', {}, channelItems.length ? channelItems : h('li.muted', {}, 'No channel linked')),
    ];
    if (!ro) {
      const channels = await api('/channels', { query: { bot_id: g.botInstanceId, per_page: 100 } });
      const linked = new Set(g.channels.map((c) => c.id));
      const choice = h('select', {}, channels.items.filter((c) => !linked.has(c.id)).map((c) => h('option', { value: c.id }, `${c.title ?? c.channelId}${c.username ? ` (@${c.username})` : ''}`)));
      const link = h('button.secondary', { type: 'submit' }, 'Link channel');
      const linkForm = choice.options.length
        ? h('form.toolbar', { 'aria-label': 'Link a channel' }, field('Channel of this bot', choice), link)
        : h('p.muted', {}, 'Every channel of this bot is linked.');
      linkForm.addEventListener('submit', (e) => {
        e.preventDefault();
        void act(link, async () => {
          await api(`/groups/${g.id}/channels`, { method: 'POST', body: { channelId: Number(choice.value) } });
          await showGroup(g.id);
        }, 'Channel linked');
      });
      const unmute = h('button.danger', { type: 'button', id: 'unmute-all' }, 'Unmute everyone');
      unmute.addEventListener('click', () => {
        if (!window.confirm(`Unmute everyone the bot muted in ${g.title ?? 'this group'}?`)) return;
        void act(unmute, async () => {
          const res = await api(`/groups/${g.id}/unmute-all`, { method: 'POST', body: { disable: false } });
          toast(`Unmuting ${res.openRestrictions} member(s) in the background`);
        });
      });
      parts.push(linkForm, h('h3', {}, 'Muted members'), h('p.muted', {}, 'Lifts every restriction the bot set in this group (queued and paced).'), unmute);
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

// ---------------------------------------------------------------- verifications

async function renderVerifications(view) {
  await loadBots();
  const bot = botSelect();
  const status = h('select', { name: 'status' }, h('option', { value: '' }, 'Any'), ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'].map((s) => h('option', { value: s }, s)));
  const chat = h('input', { name: 'chat_id', inputmode: 'numeric', placeholder: '-100…', size: '14' });
  const user = h('input', { name: 'user_id', inputmode: 'numeric', size: '12' });
  const from = h('input', { name: 'from', type: 'datetime-local' });
  const to = h('input', { name: 'to', type: 'datetime-local' });
  const form = h('form.toolbar', { 'aria-label': 'Filter verifications' }, field('Bot', bot), field('Status', status), field('Group chat id', chat), field('User id', user), field('From', from), field('To', to), h('button', { type: 'submit' }, 'Apply'));
  const body = h('tbody');
  const more = h('button.secondary', { type: 'button', id: 'load-more', hidden: true }, 'Load older');
  const count = h('span.muted', { 'aria-live': 'polite' });
  view.append(
    h('div.page-head', {}, h('h1', {}, 'Verifications'), count),
    form,
    h('div.table-wrap', {}, h('table', { id: 'verifications-table' }, h('caption', {}, 'Decisions, newest first'), h('thead', {}, h('tr', {}, ['Time', 'Bot', 'Group', 'User', 'Status', 'Latency', 'Cache', 'Error'].map((x) => h(x === 'Latency' ? 'th.num' : 'th', { scope: 'col' }, x)))), body)),
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
    const res = await api('/verifications', { query: { bot_id: bot.value, status: status.value, chat_id: chat.value.trim(), user_id: user.value.trim(), from: iso(from.value), to: iso(to.value), cursor, limit: 25 } });
    for (const v of res.items) {
      body.append(h('tr', {}, h('td', {}, when(v.createdAt)), h('td', {}, botName(v.botInstanceId)), h('td', {}, v.chatId), h('td', {}, v.userId), h('td', {}, badge(v.status)), h('td.num', {}, ms(v.latencyMs)), h('td', {}, v.cached ? 'hit' : 'miss'), h('td', {}, v.errorType ?? '')));
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

// ---------------------------------------------------------------- exports

async function renderExports(view) {
  const list = h('div', { id: 'exports-list' });
  const parts = [h('div.page-head', {}, h('h1', {}, 'Exports'), h('span.muted', {}, 'gzip-compressed CSV, written in the background'))];
  if (canChange()) {
    await loadBots();
    const kind = h('select', { name: 'kind' }, ['verifications', 'audit', 'api_calls', 'groups'].map((k) => h('option', { value: k }, k.replace('_', ' '))));
    const bot = botSelect('All bots');
    const from = h('input', { name: 'from', type: 'datetime-local' });
    const to = h('input', { name: 'to', type: 'datetime-local' });
    const form = h('form.card.toolbar', { id: 'export-form', 'aria-label': 'Request an export' }, field('Kind', kind), field('Bot', bot), field('From', from), field('To', to), h('button', { type: 'submit' }, 'Request export'));
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
      const progress = x.status === 'done' ? h('span', {}, `${num(x.rows)} rows`) : x.status === 'running' || x.status === 'queued'
        ? h('progress', { max: String(Math.max(x.rows ?? 0, x.progressRows ?? 0, 1)), value: String(x.progressRows ?? 0), 'aria-label': `Export ${x.id} progress` }, `${num(x.progressRows)} rows`)
        : h('span.reasons', {}, x.error ?? '');
      let download = '—';
      if (x.status === 'done' && !x.fileDeletedAt && canChange()) download = h('a', { href: `/api/v1/exports/${x.id}/download`, download: '', dataset: { exportId: x.id } }, 'Download', h('span.visually-hidden', {}, ` export ${x.id}`));
      else if (x.fileDeletedAt) download = 'expired';
      return h('tr', { dataset: { exportId: x.id, status: x.status } }, h('td', {}, `#${x.id}`), h('td', {}, x.kind), h('td', {}, badge(x.status === 'running' ? 'running-export' : x.status, x.status)), h('td', {}, progress), h('td.num', {}, bytes(x.bytes)), h('td', {}, when(x.createdAt)), h('td', {}, download));
    });
    list.replaceChildren(table(`${num(res.total)} export${res.total === 1 ? '' : 's'}`, ['Id', 'Kind', 'Status', 'Progress', { label: 'Size', cls: 'num' }, 'Requested', 'File'], rows, 'No export yet'));
  };
  await refresh();
  every(2_000, refresh);
}

// ---------------------------------------------------------------- shell

const ROUTES = { overview: renderOverview, bots: renderBots, groups: renderGroups, verifications: renderVerifications, exports: renderExports };

async function route() {
  if (!state.me) return;
  clearTimers();
  const name = (location.hash.replace(/^#\/?/, '').split('/')[0] || 'overview');
  const render = ROUTES[name] ?? renderOverview;
  for (const a of document.querySelectorAll('#nav a[data-route]')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('#nav').classList.remove('open');
  $('#menu-toggle').setAttribute('aria-expanded', 'false');
  const view = $('#view');
  view.replaceChildren();
  view.hidden = false;
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Nezuko admin`;
  try {
    await render(view);
  } catch (err) {
    view.append(h('p.error', { role: 'alert' }, describeError(err)));
  }
}

function showLogin(message) {
  clearTimers();
  state.me = null;
  setCsrf(null);
  $('#topbar').hidden = true;
  $('#view').hidden = true;
  $('#view').replaceChildren();
  $('#login-view').hidden = false;
  const err = $('#login-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  document.title = 'Log in · Nezuko admin';
  $('#login-email').focus();
}

function showApp(me) {
  state.me = me;
  setCsrf(me.csrfToken);
  document.body.classList.toggle('role-viewer', me.role === 'viewer');
  // Bull Board shows job payloads and Redis internals: admins and owners only.
  $('#bull-board-link').closest('li').hidden = me.role === 'viewer';
  $('#login-view').hidden = true;
  $('#topbar').hidden = false;
  $('#who').textContent = `${me.user?.email ?? 'API token'} · ${me.role}`;
  if (!location.hash) history.replaceState(null, '', '#/overview');
  void route();
}

async function start() {
  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = $('#login-submit');
    button.disabled = true;
    try {
      const res = await api('/auth/login', { method: 'POST', body: { email: $('#login-email').value, password: $('#login-password').value }, quiet401: true });
      $('#login-password').value = '';
      showApp({ role: res.user.role, user: res.user, csrfToken: res.csrfToken });
      $('#main').focus();
    } catch (err) {
      showLogin(describeError(err));
    } finally {
      button.disabled = false;
    }
  });
  $('#logout').addEventListener('click', async () => {
    try {
      await api('/auth/logout', { method: 'POST', quiet401: true });
    } catch {
      /* already logged out */
    }
    showLogin();
  });
  $('#menu-toggle').addEventListener('click', () => {
    const open = $('#nav').classList.toggle('open');
    $('#menu-toggle').setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', () => void route());
  onUnauthorized(() => showLogin('Your session ended; please log in again.'));

  fetch('/ui-config.json')
    .then((r) => (r.ok ? r.json() : {}))
    .then((cfg) => {
      if (cfg.bullBoardPath) $('#bull-board-link').href = cfg.bullBoardPath;
      if (cfg.grafanaUrl) {
        $('#grafana-link').href = cfg.grafanaUrl;
        $('#grafana-item').hidden = false;
      }
    })
    .catch(() => {});

  // The CSRF cookie is readable and lives as long as the session: without it there is no session to resume,
  // so the page asks nothing (a 401 would only add noise to the console).
  if (!document.cookie.includes('nezuko_csrf=')) return showLogin();
  try {
    showApp(await api('/auth/me', { quiet401: true }));
  } catch {
    showLogin();
  }
}

void start();
