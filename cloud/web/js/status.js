// The public status page (/status): current and past incidents and maintenance windows from
// GET /api/v1/status, without a login; no tenant data is shown because the answer holds none.
import * as api from './api.js';
import { t, lang, set_lang } from './i18n.js';
import { h } from './ui.js';
import { jst_text } from './notices.js';

const root = document.getElementById('status-page');

function text_of(n) {
  return lang() === 'en' ? n.text.en : n.text.ja;
}

function maintenance_item(m) {
  return h(
    'li',
    { class: `notice maintenance phase-${m.phase}`, 'data-id': String(m.id) },
    h(
      'p',
      {},
      h('strong', {}, `${jst_text(m.starts_at)} – ${jst_text(m.ends_at)}`),
      ' ',
      h('span', { class: 'badge' }, t(`status.phase.${m.phase}`)),
      m.urgent ? h('span', { class: 'badge urgent' }, t('status.urgent')) : '',
    ),
    h('p', { class: 'notice-text' }, text_of(m)),
    h('p', { class: 'muted' }, t('status.announced', { at: jst_text(m.announced_at) })),
  );
}

function incident_item(i) {
  const updates = [...i.updates].reverse().map((u) =>
    h(
      'li',
      {},
      h('strong', {}, `${jst_text(u.at)} ${t(`status.incident.${u.status}`)}`),
      ' ',
      h('span', {}, lang() === 'en' ? u.text.en : u.text.ja),
    ),
  );
  return h(
    'li',
    { class: `notice incident incident-${i.status}`, 'data-id': String(i.id) },
    h('p', {}, h('strong', {}, `#${i.id} ${t(`status.incident.${i.status}`)}`), ' ', h('span', { class: 'muted' }, t('status.posted', { at: jst_text(i.posted_at) }))),
    h('ul', { class: 'updates' }, ...updates),
  );
}

function section(id, heading, items, empty) {
  return h(
    'section',
    { id, class: 'card' },
    h('h2', {}, heading),
    items.length ? h('ul', { class: 'notices' }, ...items) : h('p', { class: 'muted' }, empty),
  );
}

function render(status) {
  const open = status.incidents.filter((i) => i.status !== 'resolved');
  const past = status.incidents.filter((i) => i.status === 'resolved');
  const upcoming = status.maintenance.filter((m) => m.phase !== 'completed');
  const done = status.maintenance.filter((m) => m.phase === 'completed');
  document.title = t('status.title');
  root.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, t('app.title')),
      h(
        'div',
        { class: 'top-actions' },
        h('a', { href: '/' }, t('status.dashboard')),
        h('button', { type: 'button', class: 'lang', onclick: () => { set_lang(lang() === 'ja' ? 'en' : 'ja'); render(status); } }, t('lang.toggle')),
      ),
    ),
    h(
      'main',
      { id: 'view' },
      h('h1', {}, t('status.heading')),
      h('p', { id: 'status-summary', class: open.length ? 'message error' : 'message notice' }, open.length ? t('status.degraded') : t('status.all_ok')),
      section('status-incidents', t('status.incidents'), open.map(incident_item), t('status.no_incidents')),
      section('status-maintenance', t('status.maintenance'), upcoming.map(maintenance_item), t('status.no_maintenance')),
      section('status-past', t('status.past'), [...past.map(incident_item), ...done.map(maintenance_item)], t('status.no_past')),
      h('p', { class: 'muted' }, t('status.generated', { at: jst_text(status.generated_at) })),
    ),
  );
}

set_lang(lang());
api
  .get('/status')
  .then(render)
  .catch(() => root.replaceChildren(h('p', { class: 'message error' }, t('status.unavailable'))));
