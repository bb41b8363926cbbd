// Alarms (docs/alerts.md): the list with filters (state, kind, router), acknowledging an open
// alarm with a comment, and the open-alarm count in the page header, refreshed in the background.
// For company.settings holders also the alert rules and the notification channels: mail to
// chosen accounts, webhooks (the secret shown once) with a "send test event" button.
import * as api from './api.js';
import { t } from './i18n.js';
import { h, field, input, select, table, message_box, jst, confirm_action } from './ui.js';

const k_kinds = ['offline', 'cpu_load', 'memory_used', 'lan_clients', 'reboot_loop', 'firmware', 'login_failure_burst'];
const k_states = ['open', 'acknowledged', 'cleared'];
// The header's count and the list refresh this often, as background requests.
const k_refresh_ms = 30_000;

function kind_label(kind) {
  const key = `alarm.kind.${kind}`;
  const label = t(key);
  return label === key ? kind : label;
}

function state_badge(state) {
  return h('span', { class: `badge alarm-${state}`, 'data-state': state }, t(`alarm.state.${state}`));
}

// The open-alarm count of the caller's company in the header; refreshed until the page changes.
// data-count appears with the first answer, so a reader can wait for a count that is known.
export function alarm_count_badge(ctx) {
  const badge = h('a', { href: '#/alarms', class: 'alarm-count', id: 'alarm-count', hidden: true });
  async function refresh() {
    try {
      const r = await api.poll('/alarms' + api.query({ state: 'open', limit: 1 }));
      // The number alone keeps the header one line at phone width; the words are its label.
      badge.dataset.count = String(r.open_count);
      badge.textContent = String(r.open_count);
      badge.title = t('alarms.open_count', { n: r.open_count });
      badge.setAttribute('aria-label', badge.title);
      badge.hidden = r.open_count === 0;
    } catch {
      badge.hidden = true;
    }
  }
  refresh();
  const timer = setInterval(refresh, k_refresh_ms);
  ctx.on_leave(() => clearInterval(timer));
  return badge;
}

function ack_form(ctx, alarm, box, reload) {
  const comment = input('comment', { id: `alarm-comment-${alarm.id}`, maxlength: 1000, 'aria-label': t('alarms.comment'), placeholder: t('alarms.comment') });
  const form = h('form', { class: 'inline', id: `alarm-ack-form-${alarm.id}` }, comment,
    h('button', { type: 'submit', id: `alarm-ack-${alarm.id}` }, t('alarms.acknowledge')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api.post(`/alarms/${alarm.id}/acknowledge`, { comment: comment.value.trim() });
      box.ok(t('alarms.acknowledged'));
      reload();
    } catch (err) {
      box.fail(err);
    }
  });
  return form;
}

export function alarms_page(ctx) {
  const box = message_box();
  const state = select('state', [['', t('alarms.any')], ...k_states.map((s) => [s, t(`alarm.state.${s}`)])], 'open');
  state.id = 'alarm-filter-state';
  const kind = select('kind', [['', t('alarms.any')], ...k_kinds.map((k) => [k, kind_label(k)])], '');
  kind.id = 'alarm-filter-kind';
  const device = input('device', { id: 'alarm-filter-device', type: 'search' });
  const body = h('div', { id: 'alarm-table' });
  const count = h('p', { id: 'alarm-open-count' });
  const can_ack = ctx.can('device.command');
  async function load(background = false) {
    const q = api.query({ state: state.value, kind: kind.value, device: device.value.trim(), limit: 200 });
    try {
      const r = background ? await api.poll('/alarms' + q) : await api.get('/alarms' + q);
      count.textContent = t('alarms.open_count', { n: r.open_count });
      count.dataset.count = String(r.open_count);
      body.replaceChildren(
        r.alarms.length === 0
          ? h('p', { id: 'alarm-none' }, t('alarms.none'))
          : table(
            null,
            [t('alarms.col_time'), t('alarms.col_kind'), t('alarms.col_device'), t('alarms.col_detail'), t('alarms.col_state'), t('alarms.col_ack')],
            r.alarms.map((a) => [
              jst(a.created_at_s * 1000),
              kind_label(a.kind),
              a.device_id ? h('a', { href: `#/device/${encodeURIComponent(a.device_id)}` }, a.device_id) : '—',
              a.detail,
              h('span', { id: `alarm-state-${a.id}` }, state_badge(a.state)),
              a.state === 'open' && can_ack
                ? ack_form(ctx, a, box, () => load())
                : a.acknowledged_at_s
                  ? h('span', { id: `alarm-acked-${a.id}` }, t('alarms.acked_by', { by: a.acknowledged_by, c: a.comment }))
                  : '',
            ]),
          ),
      );
    } catch (err) {
      box.fail(err);
    }
  }
  const form = h('form', { class: 'toolbar', id: 'alarm-filter' },
    field(t('alarms.filter_state'), state), field(t('alarms.filter_kind'), kind), field(t('alarms.filter_device'), device),
    h('button', { type: 'submit' }, t('alarms.apply')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  for (const s of [state, kind]) s.addEventListener('change', () => load());
  const timer = setInterval(() => load(true), k_refresh_ms);
  ctx.on_leave(() => clearInterval(timer));
  ctx.view.append(h('h1', {}, t('alarms.heading')), count, form, box, body);
  load();
  if (ctx.can('company.settings')) {
    ctx.view.append(rules_section(), channels_section());
  }
}

// The company's rules: one row a kind, saved together.
function rules_section() {
  const box = message_box();
  const body = h('div', { id: 'rules-table' });
  const rows = [];
  async function load() {
    try {
      const r = await api.get('/alert-rules');
      rows.length = 0;
      for (const rule of r.rules) {
        const enabled = input('enabled', { type: 'checkbox', id: `rule-enabled-${rule.kind}`, 'aria-label': kind_label(rule.kind) });
        enabled.checked = rule.enabled;
        const threshold = input('threshold', { type: 'number', id: `rule-threshold-${rule.kind}`, value: String(rule.threshold), 'aria-label': t('rules.threshold') });
        const window_s = input('window_s', { type: 'number', id: `rule-window-${rule.kind}`, value: String(rule.window_s), 'aria-label': t('rules.window') });
        rows.push({ kind: rule.kind, enabled, threshold, window_s });
      }
      body.replaceChildren(table(null, [t('alarms.col_kind'), t('rules.enabled'), t('rules.threshold'), t('rules.window')],
        rows.map((x) => [kind_label(x.kind), x.enabled, x.threshold, x.window_s])));
    } catch (err) {
      box.fail(err);
    }
  }
  const form = h('form', { id: 'rules-form' }, body, h('button', { type: 'submit' }, t('common.save')), box);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const rules = rows.map((x) => ({ kind: x.kind, enabled: x.enabled.checked, threshold: Number(x.threshold.value), window_s: Number(x.window_s.value) }));
    try {
      await api.call('PUT', '/alert-rules', { rules });
      box.ok(t('rules.saved'));
    } catch (err) {
      box.fail(err);
    }
  });
  load();
  return h('section', { id: 'rules' }, h('h2', {}, t('rules.heading')), h('p', {}, t('rules.help')), form);
}

// Notification channels: the list with a test event per webhook, and forms to add either kind.
function channels_section() {
  const box = message_box();
  const list = h('div', { id: 'channel-list' });
  const secret = h('div', { id: 'channel-secret' });
  let accounts = [];
  async function load() {
    try {
      const [c, a] = await Promise.all([api.get('/notification-channels'), api.get('/accounts').catch(() => ({ accounts: [] }))]);
      accounts = a.accounts ?? [];
      const login_of = (id) => accounts.find((x) => x.id === id)?.login_id ?? String(id);
      list.replaceChildren(table(null, [t('channels.kind'), t('channels.target'), t('channels.status'), ''],
        c.channels.map((ch) => [
          t(`channels.kind.${ch.kind}`),
          ch.kind === 'webhook' ? ch.url : ch.account_ids.map(login_of).join(', '),
          ch.disabled ? t('channels.disabled') : ch.failing_since_s ? t('channels.failing') : t('channels.ok'),
          h('span', { class: 'actions' },
            ch.kind === 'webhook'
              ? h('button', { type: 'button', id: `channel-test-${ch.id}`, onclick: () => send_test(ch) }, t('channels.test'))
              : null,
            h('button', { type: 'button', class: 'danger', id: `channel-delete-${ch.id}`, onclick: () => remove(ch) }, t('common.delete'))),
        ])));
      picker.replaceChildren(...accounts.map((x) => h('option', { value: String(x.id) }, `${x.login_id} <${x.email}>`)));
    } catch (err) {
      box.fail(err);
    }
  }
  async function send_test(ch) {
    try {
      await api.post(`/notification-channels/${ch.id}/test`);
      box.ok(t('channels.test_queued'));
    } catch (err) {
      box.fail(err);
    }
  }
  async function remove(ch) {
    if (!(await confirm_action(t('channels.confirm_delete', { x: ch.url || t('channels.kind.email') }), t('common.delete')))) return;
    try {
      await api.del(`/notification-channels/${ch.id}`);
      load();
    } catch (err) {
      box.fail(err);
    }
  }
  const url = input('url', { type: 'url', id: 'webhook-url', placeholder: 'https://', required: true });
  const hook_form = h('form', { class: 'toolbar', id: 'webhook-form' }, field(t('channels.url'), url),
    h('button', { type: 'submit' }, t('channels.add_webhook')));
  hook_form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const made = await api.post('/notification-channels', { kind: 'webhook', url: url.value.trim() });
      url.value = '';
      // The secret is answered this once: shown until the operator closes it, never stored.
      const close = h('button', { type: 'button', id: 'channel-secret-close', onclick: () => secret.replaceChildren() }, t('channels.secret_close'));
      secret.replaceChildren(h('p', {}, t('channels.secret_once')), h('code', { id: 'channel-secret-value' }, made.secret), close);
      load();
    } catch (err) {
      box.fail(err);
    }
  });
  const picker = h('select', { name: 'accounts', multiple: true, id: 'email-accounts' });
  const mail_form = h('form', { class: 'toolbar', id: 'email-channel-form' }, field(t('channels.accounts'), picker),
    h('button', { type: 'submit' }, t('channels.add_email')));
  mail_form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const ids = [...picker.selectedOptions].map((o) => Number(o.value));
    try {
      await api.post('/notification-channels', { kind: 'email', account_ids: ids });
      load();
    } catch (err) {
      box.fail(err);
    }
  });
  load();
  return h('section', { id: 'channels' }, h('h2', {}, t('channels.heading')), list, box, secret, hook_form, mail_form);
}
