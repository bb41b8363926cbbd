// The router page's one-time technician logins (docs/security.md, "Technician logins"): issue one
// for a named technician, optionally mailed to them (ja and en, through the cloud's mail outbox);
// the login id and password are shown once, with a QR code of both, and never again; the list of
// active logins; revoking one says until when a router that is offline could still accept it.
import * as api from './api.js';
import { t } from './i18n.js';
import { qr_svg } from './qr.js';
import { h, field, input, table, message_box, error_text, jst, duration, confirm_action } from './ui.js';

export function technician_section(ctx, id) {
  const section = h('section', { 'aria-labelledby': 'tech-h' }, h('h2', { id: 'tech-h' }, t('tech.heading')));
  const box = message_box();
  const reveal = h('div', {});
  const list = h('div', { id: 'tech-list' });
  const base = `/devices/${encodeURIComponent(id)}/technician-logins`;

  async function revoke(x) {
    const ask = t('confirm.tech_revoke', { login: x.login_id, id });
    if (!(await confirm_action(ask, t('common.revoke')))) return;
    try {
      const r = await api.del(`${base}/${encodeURIComponent(x.login_id)}`);
      // An offline router cannot learn of the revoke: say until when it could still accept it.
      box.ok(
        r.offline_usable_until
          ? t('tech.revoked_offline', { login: x.login_id, until: jst(r.offline_usable_until * 1000) })
          : t('tech.revoked', { login: x.login_id }),
      );
      load();
    } catch (err) {
      box.fail(err);
    }
  }

  async function load() {
    try {
      const r = await api.get(base);
      list.replaceChildren(
        ...(r.enabled ? [] : [h('p', { class: 'muted' }, t('tech.disabled'))]),
        table(
          t('tech.active'),
          [t('tech.login_id'), t('tech.name'), t('device.col.status'), t('tech.col.expires'), t('tech.col.failed'), t('device.col.by'), ''],
          r.technician_logins.map((x) => [
            x.login_id,
            x.technician_name || '—',
            t(`tech.status.${x.status}`),
            jst(x.expires_at_s * 1000),
            String(x.failed_count),
            x.created_by,
            h('button', { type: 'button', class: 'danger', onclick: () => revoke(x) }, t('common.revoke')),
          ]),
        ),
      );
    } catch (err) {
      box.fail(err);
    }
  }

  // The password is shown once, with a QR code of the login id and password, a countdown to
  // expiry and a copy button; closing the panel removes it from the page for good.
  function show_once(login) {
    const pw = h('code', { class: 'secret', id: 'tech-password' }, login.password);
    const qr = h('div', { class: 'qr', id: 'tech-qr', role: 'img', 'aria-label': t('tech.qr') });
    qr.append(qr_svg(`${login.login_id}\n${login.password}`, 4));
    const left = h('p', { class: 'countdown', id: 'tech-countdown', 'aria-live': 'off' });
    const copied = h('span', { role: 'status', class: 'muted' });
    const tick = () => {
      const s = login.expires_at_s - Date.now() / 1000;
      left.textContent = s > 0 ? t('tech.expires_in', { t: duration(s) }) : t('tech.expired');
      if (s <= 0) {
        pw.textContent = '—';
        qr.replaceChildren();
      }
    };
    tick();
    const timer = setInterval(tick, 1000);
    const close = () => {
      clearInterval(timer);
      reveal.replaceChildren();
    };
    ctx.on_leave(close);
    const mailed = login.mail_to
      ? h('p', { id: 'tech-mailed' }, t(login.mail_queued ? 'tech.mailed' : 'tech.mail_failed', { to: login.mail_to }))
      : '';
    reveal.replaceChildren(
      h(
        'div',
        { class: 'card once', id: 'tech-once', role: 'region', 'aria-label': t('tech.heading') },
        h('p', { class: 'warning' }, t('tech.once')),
        h('dl', {},
          h('dt', {}, t('tech.name')), h('dd', {}, login.technician_name || '—'),
          h('dt', {}, t('tech.login_id')), h('dd', { id: 'tech-login-id' }, login.login_id),
          h('dt', {}, t('tech.password')), h('dd', {}, pw),
          h('dt', {}, t('tech.col.expires')), h('dd', {}, jst(login.expires_at_s * 1000))),
        qr,
        mailed,
        left,
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              onclick: async () => {
                try {
                  await navigator.clipboard.writeText(login.password);
                  copied.textContent = t('tech.copied');
                } catch (err) {
                  copied.textContent = error_text(err);
                }
              },
            },
            t('tech.copy'),
          ),
          h('button', { type: 'button', id: 'tech-close', onclick: close }, t('tech.done')),
          copied,
        ),
      ),
    );
  }

  const name = input('technician_name', { id: 'tech-name', required: true, maxlength: 64, autocomplete: 'off' });
  const email = input('email', { id: 'tech-email', type: 'email', maxlength: 128, autocomplete: 'off' });
  const form = h(
    'form',
    {
      id: 'tech-form',
      onsubmit: async (e) => {
        e.preventDefault();
        box.clear();
        if (!(await confirm_action(t('confirm.tech_issue', { id }), t('tech.issue')))) return;
        const body = { technician_name: name.value.trim() };
        if (email.value.trim()) body.email = email.value.trim();
        try {
          show_once(await api.post(base, body));
          form.reset();
          load();
        } catch (err) {
          box.fail(err.code === 'feature_disabled' ? { message: t('tech.disabled') } : err);
        }
      },
    },
    field(t('tech.name'), name),
    field(t('tech.email'), email, h('span', { class: 'muted', id: 'tech-email-hint' }, t('tech.email_hint'))),
    h('button', { type: 'submit', class: 'primary', id: 'tech-issue' }, t('tech.issue')),
  );
  section.append(form, box, reveal, list);
  load();
  return { section, load };
}
