// The planned-maintenance banner every dashboard page shows from the announcement until the
// window ends, from the public GET /api/v1/status. It asks in the background (not activity of
// the user) and again every few minutes, so a window announced while a page is open appears.
import * as api from './api.js';
import { t } from './i18n.js';
import { h } from './ui.js';

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
