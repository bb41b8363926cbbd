// The dashboard shell: login, the menu of what the account may do, hash routing, the language
// toggle and the idle log-off (a warning shortly before, then back to the login page).
import * as api from './api.js';
import { t, lang, set_lang } from './i18n.js';
import { h, field, input, message_box, clear_errors_on_attempt, close_dialogs } from './ui.js';
import { pages } from './pages.js';
import { admin_page, overview_page } from './admin.js';
import { maintenance_banner, notices_page } from './notices.js';
import { jobs_page } from './jobs.js';
import { alarms_page, alarm_count_badge } from './alerts.js';

const app = document.getElementById('app');
const state = { me: null, perms: new Set(), site_admin: false, idle_ms: 0, cleanup: [] };

// The site administrator (company "platform") starts at the companies' overview; the company
// menus of devices and destinations do not apply to platform, which holds no routers.
const k_menu = [
  { route: 'overview', key: 'nav.overview', allowed: (s) => s.site_admin },
  { route: 'devices', key: 'nav.devices', allowed: (s) => !s.site_admin && s.perms.has('device.read') },
  {
    route: 'destinations',
    key: 'nav.destinations',
    allowed: (s) => !s.site_admin && (s.perms.has('destination.manage') || s.perms.has('device.register')),
  },
  { route: 'jobs', key: 'nav.jobs', allowed: (s) => !s.site_admin && s.perms.has('device.read') },
  { route: 'alarms', key: 'nav.alarms', allowed: (s) => s.perms.has('device.read') },
  { route: 'accounts', key: 'nav.accounts', allowed: (s) => s.perms.has('account.read') },
  { route: 'company', key: 'nav.company', allowed: (s) => s.perms.has('company.settings') },
  { route: 'audit', key: 'nav.audit', allowed: (s) => s.perms.has('audit.read') },
  { route: 'admin', key: 'nav.admin', allowed: (s) => s.site_admin },
  { route: 'notices', key: 'nav.notices', allowed: (s) => s.site_admin && s.perms.has('company.settings') },
  { route: 'password', key: 'nav.password', allowed: () => true },
];

// ---- idle log-off -------------------------------------------------------------------------
// The server ends a session security.session_idle_s after the last request the user caused (the
// pages' polls are marked background and do not count). The browser logs off at the same time
// without user input, warning a little before, so the page does not sit on an ended session.
const idle = { warn_timer: 0, end_timer: 0, tick: 0, banner: null, deadline: 0 };

function idle_stop() {
  clearTimeout(idle.warn_timer);
  clearTimeout(idle.end_timer);
  clearInterval(idle.tick);
  idle.banner?.remove();
  idle.banner = null;
}

function idle_arm() {
  idle_stop();
  if (!state.me || state.idle_ms <= 0) return;
  const warn_before = Math.min(60_000, state.idle_ms / 3);
  idle.deadline = Date.now() + state.idle_ms;
  idle.warn_timer = setTimeout(idle_warn, state.idle_ms - warn_before);
  idle.end_timer = setTimeout(() => logout('login.idle'), state.idle_ms);
}

function idle_warn() {
  const text = h('span', {});
  const update = () => {
    text.textContent = t('idle.warning', { s: Math.max(0, Math.ceil((idle.deadline - Date.now()) / 1000)) });
  };
  update();
  idle.tick = setInterval(update, 1000);
  idle.banner = h(
    'div',
    { class: 'idle-warning', role: 'alertdialog', 'aria-live': 'assertive', id: 'idle-warning' },
    text,
    h('button', { type: 'button', onclick: () => activity(true) }, t('idle.stay')),
  );
  document.body.append(idle.banner);
}

let last_activity = 0;
function activity(force) {
  if (!state.me) return;
  const now = Date.now();
  if (!force && !idle.banner && now - last_activity < 1000) return;
  last_activity = now;
  if (idle.banner) api.get('/session').catch(() => {});
  idle_arm();
}
for (const ev of ['keydown', 'pointerdown', 'wheel', 'touchstart']) {
  document.addEventListener(ev, () => activity(false), { passive: true, capture: true });
}

// ---- session ------------------------------------------------------------------------------
function enter(session) {
  // A password someone else set (a first password, an administrator's reset): the server
  // answers nothing else until it is replaced, so that is the only page.
  if (session.password_change_required) {
    show_forced_change(session);
    return;
  }
  forced = null;
  state.me = session.account;
  state.perms = new Set(session.permissions);
  state.site_admin = session.account.company_id === 'platform';
  api.set_csrf(session.csrf_token);
  // The idle period as the server states it: its expiry minus now, at a moment of activity.
  state.idle_ms = Math.max(5000, session.expires_at_s * 1000 - Date.now());
  idle_arm();
  const first = k_menu.find((m) => m.allowed(state));
  if (!location.hash || location.hash === '#/' || location.hash === '#/login') {
    // The hashchange that follows renders the page, once.
    location.hash = `#/${first.route}`;
    return;
  }
  render();
}

async function logout(reason) {
  const was = state.me;
  state.me = null;
  idle_stop();
  if (was) await api.del('/session').catch(() => {});
  api.set_csrf(null);
  show_login(reason);
}

// The session ended on the server (expiry, a password change): back to the login page. With
// `home`, the next login starts at the first page instead of where the user was.
function session_ended(reason, home = false) {
  if (!state.me) return;
  state.me = null;
  idle_stop();
  api.set_csrf(null);
  if (home) history.replaceState(null, '', '#/');
  show_login(reason);
}

api.on_lost(() => session_ended('login.expired'));

function lang_button() {
  return h(
    'button',
    {
      type: 'button',
      class: 'lang',
      id: 'lang-toggle',
      lang: lang() === 'ja' ? 'en' : 'ja',
      'aria-label': t('lang.toggle_label'),
      onclick: () => {
        set_lang(lang() === 'ja' ? 'en' : 'ja');
        translate_page();
        if (state.me) render();
        else if (forced) show_forced_change(forced);
        else show_login(login_reason);
      },
    },
    t('lang.toggle'),
  );
}

let login_reason = null;
// The session of an account that must replace its password first, while that page shows.
let forced = null;
function show_login(reason) {
  login_reason = reason;
  forced = null;
  for (const c of state.cleanup.splice(0)) c();
  close_dialogs();
  const login_banner = maintenance_banner();
  state.cleanup.push(() => login_banner.stop());
  const box = message_box();
  const company = input('company_id', { required: true, autocomplete: 'organization' });
  const login_id = input('login_id', { required: true, autocomplete: 'username' });
  const password = input('password', {
    type: 'password',
    required: true,
    autocomplete: 'current-password',
  });
  const form = h(
    'form',
    { class: 'card login', id: 'login-form' },
    h('h1', {}, t('login.heading')),
    reason ? h('p', { class: 'message notice', id: 'login-reason', role: 'status' }, t(reason)) : null,
    field(t('login.company'), company),
    field(t('login.login_id'), login_id),
    field(t('login.password'), password),
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')),
    box,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.clear();
    try {
      const s = await api.post('/session', {
        company_id: company.value.trim(),
        login_id: login_id.value.trim(),
        password: password.value,
      });
      password.value = '';
      login_reason = null;
      enter(s);
    } catch (err) {
      password.value = '';
      box.className = 'message error';
      box.id = 'login-error';
      box.textContent = err.code === 'ip_not_allowed' ? t('login.ip_denied') : t('login.failed');
      password.focus();
    }
  });
  app.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, t('app.title')),
      h('div', { class: 'top-actions' }, lang_button()),
    ),
    login_banner,
    h('main', { id: 'view' }, form),
  );
  (company.value ? login_id : company).focus();
}

// The forced password change: the given password, a new one twice. The change ends the session
// on the server; the page signs in again with the new password and carries on.
function show_forced_change(session) {
  for (const c of state.cleanup.splice(0)) c();
  forced = session;
  api.set_csrf(session.csrf_token);
  const box = message_box();
  box.id = 'forced-password-status';
  const current = input('current_password', { type: 'password', required: true, autocomplete: 'current-password' });
  const next = input('password', { type: 'password', required: true, autocomplete: 'new-password' });
  const again = input('password_again', { type: 'password', required: true, autocomplete: 'new-password' });
  const form = h(
    'form',
    { class: 'card narrow', id: 'forced-password-form' },
    h('h1', {}, t('password.forced_heading')),
    h('p', { class: 'message notice', id: 'forced-password-reason' }, t('password.forced_reason', { l: session.account.login_id })),
    field(t('password.given'), current),
    field(t('password.new'), next),
    field(t('password.confirm'), again),
    h('button', { type: 'submit', class: 'primary' }, t('password.replace')),
    box,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.clear();
    if (next.value !== again.value) return box.fail({ message: t('password.mismatch') });
    const chosen = next.value;
    try {
      await api.post(`/accounts/${session.account.id}/password`, { current_password: current.value, password: chosen });
    } catch (err) {
      current.value = next.value = again.value = '';
      return box.fail(err);
    }
    current.value = next.value = again.value = '';
    try {
      const s = await api.post('/session', {
        company_id: session.account.company_id,
        login_id: session.account.login_id,
        password: chosen,
      });
      enter(s);
    } catch {
      api.set_csrf(null);
      show_login('password.changed');
    }
  });
  app.replaceChildren(
    signed_in_header(session.account, async () => {
      await api.del('/session').catch(() => {});
      api.set_csrf(null);
      show_login(null);
    }),
    h('main', { id: 'view' }, form),
  );
  current.focus();
}

// The top bar of a signed-in page: who is signed in, the language toggle and logout.
function signed_in_header(account, on_logout) {
  return h(
    'header',
    { class: 'top' },
    h('span', { class: 'brand' }, t('app.title')),
    h(
      'div',
      { class: 'top-actions' },
      h('span', { class: 'who', id: 'who' }, `${account.company_id} / ${account.login_id}`),
      lang_button(),
      h('button', { type: 'button', id: 'logout', onclick: on_logout }, t('nav.logout')),
    ),
  );
}

// ---- routing ------------------------------------------------------------------------------
function render() {
  if (!state.me) return;
  for (const c of state.cleanup.splice(0)) c();
  close_dialogs();
  const [route, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const allowed = k_menu.filter((m) => m.allowed(state));
  const active = route === 'device' ? 'devices' : route;
  const nav = h(
    'nav',
    { 'aria-label': t('nav.label') },
    h(
      'ul',
      {},
      allowed.map((m) =>
        h(
          'li',
          {},
          h(
            'a',
            {
              href: `#/${m.route}`,
              id: `nav-${m.route}`,
              'aria-current': m.route === active ? 'page' : null,
            },
            t(m.key),
          ),
        ),
      ),
    ),
  );
  const view = h('main', { id: 'view', tabindex: '-1' });
  clear_errors_on_attempt(view);
  const banner = maintenance_banner();
  state.cleanup.push(() => banner.stop());
  const header = signed_in_header(state.me, () => logout(null));
  app.replaceChildren(header, banner, nav, view);
  const ctx = {
    state,
    view,
    args: rest.map(decodeURIComponent),
    on_leave: (fn) => state.cleanup.push(fn),
    can: (p) => state.perms.has(p),
    signed_out: session_ended,
  };
  const entry = allowed.find((m) => m.route === active);
  if (state.perms.has('device.read')) header.querySelector('.top-actions').prepend(alarm_count_badge(ctx));
  const pages_more = { admin: admin_page, overview: overview_page, notices: notices_page, alarms: alarms_page, jobs: jobs_page };
  const page = pages_more[route] ?? pages[route];
  if (!entry || !page) {
    location.replace(`#/${allowed[0].route}`);
    return;
  }
  page(ctx);
}

window.addEventListener('hashchange', () => {
  if (state.me) render();
});

function translate_page() {
  document.title = t('app.title');
  const skip = document.querySelector('.skip');
  if (skip) skip.textContent = t('skip');
}

async function boot() {
  set_lang(lang());
  translate_page();
  try {
    enter(await api.get('/session'));
  } catch {
    show_login(null);
  }
}

boot();
