// What every page of the dashboard shares: element building, formatting, the signed-in state, toasts and timers.
import { api, describeError } from './api.js';

export const $ = (sel, root = document) => root.querySelector(sel);

/** h('tag.class', { attr, onclick }, ...children): builds elements; text is always set as text, never HTML. */
export function h(tag, attrs = {}, ...children) {
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
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const state = { me: null, timers: [], uiConfig: { grafanaUrl: null }, bots: [] };
export const canChange = () => state.me && state.me.role !== 'viewer';

export const pct = (v) =>
  v === null || v === undefined ? '—' : `${(v * 100).toFixed(v >= 0.995 || v === 0 ? 0 : 1)}%`;
export const num = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en'));
export const ms = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
export const ago = (iso) => {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};
export const bytes = (n) =>
  n === null || n === undefined
    ? '—'
    : n < 1024
      ? `${n} B`
      : n < 1048576
        ? `${(n / 1024).toFixed(1)} KB`
        : `${(n / 1048576).toFixed(1)} MB`;
export const badge = (value, extra) => h(`span.badge.s-${String(value).replace(/[^\w-]/g, '')}`, {}, extra ?? value);

let toastTimer;
export function toast(message, bad = false) {
  const el = $('#toast');
  el.textContent = message;
  el.classList.toggle('bad', bad);
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}

export function every(msInterval, fn) {
  const t = setInterval(() => void fn().catch(() => {}), msInterval);
  state.timers.push(t);
}
export function clearTimers() {
  for (const t of state.timers.splice(0)) {
    clearInterval(t);
    clearTimeout(t);
  }
}

export async function act(button, fn, okMessage) {
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

export const table = (caption, headers, rows, empty = 'Nothing here yet') =>
  h(
    'div.table-wrap',
    {},
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) =>
            h(typeof x === 'object' ? `th.${x.cls}` : 'th', { scope: 'col' }, typeof x === 'object' ? x.label : x),
          ),
        ),
      ),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty))),
    ),
  );

export const field = (labelText, input, cls = '') => {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  return h(`div.field${cls ? `.${cls}` : ''}`, {}, h('label', { for: id }, labelText), input);
};

export async function loadBots() {
  const page = await api('/bots', { query: { per_page: 100 } });
  state.bots = page.items;
  return page.items;
}
export const botName = (id) => {
  const b = state.bots.find((x) => x.id === Number(id));
  return b ? `@${b.username}` : `#${id}`;
};
export const botSelect = (allLabel = 'All bots') =>
  h(
    'select',
    { name: 'bot_id' },
    h('option', { value: '' }, allLabel),
    state.bots.map((b) => h('option', { value: b.id }, `@${b.username}`)),
  );
