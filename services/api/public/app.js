// Nezuko admin dashboard: plain ES modules on the public admin API (/api/v1). Hash routes, no framework, no build
// step: this shell signs in and routes; each page is a module of its own under pages/.
import { api, describeError, onUnauthorized, setCsrf } from './api.js';
import { renderBots } from './pages/bots.js';
import { renderExports } from './pages/exports.js';
import { renderGroups } from './pages/groups.js';
import { renderOverview } from './pages/overview.js';
import { renderVerifications } from './pages/verifications.js';
import { $, clearTimers, h, state } from './ui.js';

const ROUTES = {
  overview: renderOverview,
  bots: renderBots,
  groups: renderGroups,
  verifications: renderVerifications,
  exports: renderExports,
};

async function route() {
  if (!state.me) return;
  clearTimers();
  const name = location.hash.replace(/^#\/?/, '').split('/')[0] || 'overview';
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
  $('#setup-slot').replaceChildren();
  $('#login-view').hidden = false;
  const err = $('#login-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  document.title = 'Log in · Nezuko admin';
  $('#login-email').focus();
}

/** No owner yet: the one-time set-up form (the code comes from the server's console). */
function showSetup(message) {
  $('#topbar').hidden = true;
  $('#view').hidden = true;
  $('#login-view').hidden = true;
  if (!$('#setup-form')) {
    $('#setup-slot').replaceChildren($('#setup-template').content.cloneNode(true));
    $('#setup-form').addEventListener('submit', submitSetup);
  }
  const err = $('#setup-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  document.title = 'Set up · Nezuko admin';
  $('#setup-code').focus();
}

/** The login form, or the set-up form while no owner exists. */
async function showStart() {
  const setup = await api('/setup', { quiet401: true }).catch(() => null);
  if (setup?.needed) showSetup();
  else showLogin();
}

/** Creates the owner with the console's code; the answer signs them in like a login. */
async function submitSetup(e) {
  e.preventDefault();
  const button = $('#setup-submit');
  button.disabled = true;
  try {
    const res = await api('/setup', {
      method: 'POST',
      body: { code: $('#setup-code').value, email: $('#setup-email').value, password: $('#setup-password').value },
      quiet401: true,
    });
    $('#setup-password').value = '';
    showApp({ role: res.user.role, user: res.user, csrfToken: res.csrfToken });
    $('#main').focus();
  } catch (err) {
    // An owner was created meanwhile (another tab, another person): the login form is what is left.
    if (err.code === 'setup_done') showLogin(describeError(err));
    else showSetup(describeError(err));
  } finally {
    button.disabled = false;
  }
}

function showApp(me) {
  state.me = me;
  setCsrf(me.csrfToken);
  document.body.classList.toggle('role-viewer', me.role === 'viewer');
  // Bull Board shows job payloads and Redis internals: admins and owners only.
  $('#bull-board-link').closest('li').hidden = me.role === 'viewer';
  $('#login-view').hidden = true;
  $('#setup-slot').replaceChildren();
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
      const res = await api('/auth/login', {
        method: 'POST',
        body: { email: $('#login-email').value, password: $('#login-password').value },
        quiet401: true,
      });
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
  if (!document.cookie.includes('nezuko_csrf=')) return showStart();
  try {
    showApp(await api('/auth/me', { quiet401: true }));
  } catch {
    await showStart();
  }
}

void start();
