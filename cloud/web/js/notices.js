// The planned-maintenance banner every dashboard page shows from the announcement until the
// window ends, from the public GET /api/v1/status. It asks in the background (not activity of
// the user) and again every few minutes, so a window announced while a page is open appears.
// And the site administrators' page that announces maintenance and incidents
// (/api/v1/admin/maintenance, /api/v1/admin/incidents).
import * as api from './api.js';
import { t } from './i18n.js';
import { h, field, input, select, message_box, jst_input_to_iso } from './ui.js';

const k_refresh_ms = 5 * 60 * 1000;

// "2027-02-10T02:00:00+09:00" -> "2027-02-10 02:00 JST".
export function jst_text(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} JST` : '—';
}

// Windows announced and not yet ended, soonest first.
export function pending_windows(status, now_s = Date.now() / 1000) {
  return (status.maintenance || [])
    .filter((m) => m.ends_at_s > now_s)
    .sort((a, b) => a.starts_at_s - b.starts_at_s);
}

function banner_line(m, now_s) {
  const key = m.starts_at_s <= now_s ? 'notice.banner_in_progress' : m.urgent ? 'notice.banner_urgent' : 'notice.banner_scheduled';
  const text = document.documentElement.lang === 'en' ? m.text.en : m.text.ja;
  return h(
    'p',
    { class: 'maintenance-line' },
    h('strong', {}, t(key, { from: jst_text(m.starts_at), to: jst_text(m.ends_at) })),
    ' ',
    h('span', {}, text),
    ' ',
    h('a', { href: '/status' }, t('notice.status_link')),
  );
}

// An element that fills itself with the pending windows (empty when there are none). Returns
// it with a stop() for the page's cleanup.
export function maintenance_banner() {
  const el = h('div', { class: 'maintenance-banner', id: 'maintenance-banner', role: 'status', hidden: true });
  let timer = 0;
  const load = async () => {
    try {
      const status = await api.poll('/status');
      const now_s = Date.now() / 1000;
      const lines = pending_windows(status, now_s).map((m) => banner_line(m, now_s));
      el.replaceChildren(...lines);
      el.hidden = lines.length === 0;
    } catch {
      // The banner is a courtesy: a failed request leaves the page as it is.
    }
  };
  load();
  timer = setInterval(load, k_refresh_ms);
  el.stop = () => clearInterval(timer);
  return el;
}

const k_statuses = ['investigating', 'identified', 'monitoring', 'resolved'];

function texts(prefix) {
  const ja = h('textarea', { name: 'text_ja', id: `${prefix}-text-ja`, required: true, rows: 3 });
  const en = h('textarea', { name: 'text_en', id: `${prefix}-text-en`, required: true, rows: 3 });
  return { ja, en, fields: [field(t('notice.text_ja'), ja), field(t('notice.text_en'), en)] };
}

// Site administrators: schedule a window (refused by the server when later than 3 business days
// ahead unless urgent), post an incident, and update the open ones.
export function notices_page(ctx) {
  const box = message_box();
  box.id = 'notices-status';
  const open = h('div', { id: 'notices-open' });

  const starts = input('starts_at', { type: 'datetime-local', required: true, id: 'maintenance-starts' });
  const ends = input('ends_at', { type: 'datetime-local', required: true, id: 'maintenance-ends' });
  const urgent = input('urgent', { type: 'checkbox', id: 'maintenance-urgent' });
  const mt = texts('maintenance');
  const mform = h('form', { id: 'maintenance-form', class: 'card' }, h('h2', {}, t('notice.schedule')),
    field(t('notice.starts_at'), starts), field(t('notice.ends_at'), ends), ...mt.fields,
    h('label', { class: 'check' }, urgent, t('notice.urgent')),
    h('button', { type: 'submit', class: 'primary' }, t('notice.schedule_submit')));
  mform.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.clear();
    try {
      const r = await api.post('/admin/maintenance', {
        starts_at: jst_input_to_iso(starts.value), ends_at: jst_input_to_iso(ends.value),
        text_ja: mt.ja.value, text_en: mt.en.value, urgent: urgent.checked,
      });
      box.ok(t('notice.mailed', { n: r.mails_queued }));
      mform.reset();
      load();
    } catch (err) {
      box.fail(err);
    }
  });

  const status = select('status', k_statuses.map((s) => [s, t(`status.incident.${s}`)]), 'investigating');
  status.id = 'incident-status';
  const it = texts('incident');
  const iform = h('form', { id: 'incident-form', class: 'card' }, h('h2', {}, t('notice.post_incident')),
    field(t('notice.status'), status), ...it.fields,
    h('button', { type: 'submit', class: 'primary' }, t('notice.post_submit')));
  iform.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.clear();
    try {
      const r = await api.post('/admin/incidents', { status: status.value, text_ja: it.ja.value, text_en: it.en.value });
      box.ok(t('notice.mailed', { n: r.mails_queued }));
      iform.reset();
      load();
    } catch (err) {
      box.fail(err);
    }
  });

  function update_form(i) {
    const s = select('status', k_statuses.map((x) => [x, t(`status.incident.${x}`)]), i.status);
    s.id = `incident-${i.id}-status`;
    const ut = texts(`incident-${i.id}`);
    const f = h('form', { class: 'card', 'data-id': String(i.id) },
      h('h3', {}, `#${i.id} ${t(`status.incident.${i.status}`)}`), h('p', {}, i.text.ja), h('p', {}, i.text.en),
      field(t('notice.status'), s), ...ut.fields,
      h('button', { type: 'submit' }, t('notice.update_submit')));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      box.clear();
      try {
        const r = await api.post(`/admin/incidents/${i.id}/updates`, { status: s.value, text_ja: ut.ja.value, text_en: ut.en.value });
        box.ok(t('notice.mailed', { n: r.mails_queued }));
        load();
      } catch (err) {
        box.fail(err);
      }
    });
    return f;
  }

  async function load() {
    try {
      const r = await api.get('/admin/notices');
      const current = r.incidents.filter((i) => i.status !== 'resolved');
      open.replaceChildren(...(current.length ? current.map(update_form) : [h('p', { class: 'muted' }, t('status.no_incidents'))]));
    } catch (err) {
      box.fail(err);
    }
  }

  ctx.view.append(h('h1', {}, t('notice.heading')), box,
    h('p', {}, h('a', { href: '/status' }, t('notice.status_link'))),
    mform, iform, h('section', {}, h('h2', {}, t('status.incidents')), open));
  load();
}
