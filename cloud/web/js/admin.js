// Site administrators (company "platform"): their first page, an overview of every company
// (routers, online share, open alarms, contract end, locked accounts); companies and contract end,
// unlocking accounts, unassigned devices and assigning them, alarms. The API refuses these to everyone else; the
// menu does not offer them.
import * as api from './api.js';
import { t } from './i18n.js';
import { h, field, input, select, table, message_box, jst, jst_input_to_iso } from './ui.js';

// An alarm's kind in words, with the API's name kept as data-kind.
function alarm_kind(kind) {
  const key = `admin.alarm.${kind}`;
  const text = t(key);
  return h('span', { 'data-kind': kind }, text === key ? kind : text);
}

export function admin_page(ctx) {
  const box = message_box();
  box.id = 'admin-status';
  const companies = h('div', { id: 'admin-companies' });
  const accounts = h('div', { id: 'admin-accounts' });
  const unassigned = h('div', { id: 'admin-unassigned' });
  const alarms = h('div', { id: 'admin-alarms' });
  const company_pick = select('company', [], '');
  company_pick.id = 'admin-company-pick';
  let company_ids = [];

  async function act(fn) {
    try {
      const r = await fn();
      box.ok(t('common.saved'));
      load();
      return r;
    } catch (err) {
      box.fail(err);
      return null;
    }
  }

  async function show_accounts() {
    if (!company_pick.value) return;
    try {
      const r = await api.get(`/admin/companies/${encodeURIComponent(company_pick.value)}/accounts`);
      accounts.replaceChildren(
        table(null, [t('accounts.login_id'), t('accounts.role'), t('accounts.locked'), t('accounts.last_login'), ''],
          r.accounts.map((a) => [
            a.login_id, a.role, a.locked === 'none' ? '—' : t(`lock.${a.locked}`),
            a.last_login_at_s ? jst(a.last_login_at_s * 1000) : '—',
            a.locked !== 'none'
              ? h('button', { type: 'button', onclick: () => act(() =>
                  api.post(`/admin/companies/${encodeURIComponent(a.company_id)}/accounts/${a.id}/unlock`)).then(show_accounts) },
                t('accounts.unlock'))
              : '',
          ])));
    } catch (err) {
      box.fail(err);
    }
  }

  async function load() {
    try {
      const [c, u, a] = await Promise.all([
        api.get('/admin/companies'), api.get('/admin/devices/unassigned'), api.get('/admin/alarms')]);
      company_ids = c.companies.map((x) => x.id).filter((id) => id !== 'platform');
      const keep = company_pick.value;
      company_pick.replaceChildren(...company_ids.map((id) => h('option', { value: id }, id)));
      if (keep) company_pick.value = keep;
      companies.replaceChildren(
        table(null, [t('admin.company_id'), t('admin.company_name'), t('admin.contract_end'), ''],
          c.companies.map((x) => {
            if (x.id === 'platform') return [x.id, x.name, '—', ''];
            const end = input('contract_end', { type: 'date', 'aria-label': `${t('admin.contract_end')} ${x.id}` });
            return [x.id, x.name, x.contract_end_s ? jst(x.contract_end_s * 1000) : '—',
              h('span', { class: 'actions' }, end, h('button', { type: 'button', onclick: () =>
                act(() => api.patch(`/admin/companies/${encodeURIComponent(x.id)}`,
                  { contract_end: end.value ? jst_input_to_iso(`${end.value}T23:59`) : null })) }, t('admin.set_end')))];
          })));
      unassigned.replaceChildren(
        table(null, [t('devices.col.id'), t('devices.col.last_seen'), t('admin.company_id'), t('dest.name'), ''],
          u.devices.map((d) => {
            const co = select('company_id', company_ids.map((id) => [id, id]), company_ids[0]);
            co.setAttribute('aria-label', `${t('admin.company_id')} ${d.id}`);
            const dest = input('destination', { value: 'default', 'aria-label': `${t('dest.name')} ${d.id}` });
            return [d.id, jst(d.last_seen_ms), co, dest, h('button', { type: 'button', onclick: () =>
              act(() => api.post(`/admin/devices/${encodeURIComponent(d.id)}/assign`,
                { company_id: co.value, destination: dest.value.trim() })) }, t('admin.assign'))];
          })));
      alarms.replaceChildren(
        table(null, [t('device.col.time'), t('admin.company_id'), t('admin.col.kind'), t('admin.col.detail')],
          a.alarms.map((x) => [jst(x.created_at_s * 1000), x.company_id || '—', alarm_kind(x.kind), x.detail])));
    } catch (err) {
      box.fail(err);
    }
  }

  const id = input('id', { required: true, id: 'new-company-id' });
  const name = input('name', { required: true, id: 'new-company-name' });
  const admin = input('administrator', { id: 'new-company-admin' });
  const admin_email = input('administrator_email', { id: 'new-company-admin-email', type: 'email' });
  const created = h('div', { id: 'admin-created' });
  const form = h('form', { class: 'toolbar', id: 'company-create' }, field(t('admin.company_id'), id),
    field(t('admin.company_name'), name), field(t('admin.admin_login'), admin),
    field(t('admin.admin_email'), admin_email),
    h('button', { type: 'submit', class: 'primary' }, t('admin.create_company')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { id: id.value.trim(), name: name.value.trim() };
    if (admin.value.trim()) {
      body.administrator = admin.value.trim();
      body.administrator_email = admin_email.value.trim();
    }
    const r = await act(() => api.post('/admin/companies', body));
    created.replaceChildren();
    if (r?.administrator?.password) {
      created.append(h('p', { class: 'card once' }, t('accounts.generated', { l: r.administrator.login_id }),
        h('code', { class: 'secret' }, r.administrator.password)));
    }
  });
  ctx.view.append(
    h('h1', {}, t('admin.heading')), box,
    h('section', {}, h('h2', {}, t('admin.companies')), companies, form, created),
    h('section', {}, h('h2', {}, t('admin.accounts')), h('div', { class: 'toolbar' },
      field(t('admin.company_id'), company_pick),
      h('button', { type: 'button', id: 'admin-show-accounts', onclick: show_accounts }, t('admin.show_accounts'))),
    accounts),
    h('section', {}, h('h2', {}, t('admin.unassigned')), unassigned),
    h('section', {}, h('h2', {}, t('admin.alarms')), alarms));
  load();
}

// The site administrator's first page: one row per company, the figures that need attention.
export function overview_page(ctx) {
  const box = message_box();
  box.id = 'overview-status';
  const list = h('div', { id: 'overview-companies' });
  async function load() {
    try {
      const r = await api.get('/admin/overview');
      list.replaceChildren(
        table(null, [t('admin.company_id'), t('admin.company_name'), t('overview.devices'), t('overview.online'),
          t('overview.alarms'), t('overview.contract_end'), t('overview.locked')],
        r.companies.map((c) => [
          c.id, c.name, String(c.devices),
          c.devices ? t('overview.online_share', { p: Math.round((100 * c.online) / c.devices), on: c.online, all: c.devices }) : '—',
          h('span', { class: c.open_alarms ? 'badge offline' : '', 'data-alarms': c.open_alarms }, String(c.open_alarms)),
          c.contract_end_s ? jst(c.contract_end_s * 1000) : '—',
          h('span', { class: c.locked_accounts ? 'badge unknown' : '', 'data-locked': c.locked_accounts }, String(c.locked_accounts)),
        ])));
    } catch (err) {
      box.fail(err);
    }
  }
  ctx.view.append(h('h1', {}, t('overview.heading')), box, list);
  load();
}
