// Alarms (docs/alerts.md): the list with filters (state, kind, router), acknowledging an open
// alarm with a comment, and the open-alarm count in the page header, refreshed in the background.
import * as api from './api.js';
import { t } from './i18n.js';
import { h, field, input, select, table, message_box, jst } from './ui.js';

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
export function alarm_count_badge(ctx) {
  const badge = h('a', { href: '#/alarms', class: 'alarm-count', id: 'alarm-count', 'data-count': '0', hidden: true });
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
}
