// DOM helpers. Text always goes in through textContent, so data from the API or devices cannot
// become markup.
import { t } from './i18n.js';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let id_counter = 0;
// A labelled form field: <label for> + control, wrapped in a div.
// `hint`: an optional caption under the control (e.g. the chosen option's description).
export function field(label, control, hint = '') {
  if (!control.id) control.id = `f${++id_counter}`;
  if (hint && hint.id) control.setAttribute('aria-describedby', hint.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hint);
}

export function input(name, attrs = {}) {
  return h('input', { name, ...attrs });
}

export function select(name, options, value) {
  const s = h('select', { name });
  for (const [v, label] of options) {
    const o = h('option', { value: v }, label);
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

// A table from column headings and rows of cells.
export function table(caption, headings, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headings.map((x) => h('th', { scope: 'col' }, x)))),
      h(
        'tbody',
        {},
        rows.length === 0
          ? h('tr', {}, h('td', { colspan: headings.length }, t('common.none')))
          : rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))),
      ),
    ),
  );
}

// A status line for the result of an action; role=status so screen readers announce it.
export function message_box() {
  const box = h('p', { class: 'message', role: 'status', 'aria-live': 'polite' });
  box.ok = (text) => {
    box.className = 'message ok';
    box.textContent = text;
  };
  box.fail = (err) => {
    box.className = 'message error';
    box.textContent = error_text(err);
  };
  // Work in progress: announced, neither success nor failure yet.
  box.note = (text) => {
    box.className = 'message';
    box.textContent = text;
  };
  box.clear = () => {
    box.className = 'message';
    box.textContent = '';
  };
  return box;
}

// An API error in the user's language: the stable code's own words (error.<code>.<reason> when
// the answer names a reason the page has words for), filled from the answer's detail fields (e.g.
// {min_length}; a field, op, role or permission it names by the page's words for it); the
// English message only for a code the page does not know.
export function error_text(err) {
  const code = err?.code;
  if (code) {
    const details = err.details ?? {};
    const vars = { ...details, n: details.moves?.length ?? '' };
    // Names the answer carries are shown by their words where the page has them.
    for (const [name, prefix] of [['field', 'field.'], ['op', 'device.command.op.'], ['role', 'role.'], ['permission', 'perm.']]) {
      const label = `${prefix}${details[name]}`;
      if (typeof details[name] === 'string' && t(label) !== label) vars[name] = t(label);
    }
    const keys = typeof details.reason === 'string' ? [`error.${code}.${details.reason}`] : [];
    for (const key of [...keys, `error.${code}`]) {
      const text = t(key, vars);
      if (text !== key) return text;
    }
    if (err?.status === 403) return t('error.forbidden');
  }
  return t('common.error', { m: err?.message || code || String(err) });
}

const pad = (n) => String(n).padStart(2, '0');

// Times are shown in JST (+09:00) fixed, whatever the browser's zone.
export function jst(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms + 9 * 3600 * 1000);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} JST`
  );
}

// "2026-11-27T10:00" typed as JST -> ISO 8601 with +09:00.
export function jst_input_to_iso(v) {
  return v ? `${v.length === 16 ? v + ':00' : v}+09:00` : '';
}

export function presence_badge(p) {
  const kind = p === 'online' || p === 'offline' ? p : 'unknown';
  return h('span', { class: `badge ${kind}` }, t(`presence.${kind}`));
}

export function status_badge(s) {
  const good = s === 'succeeded';
  const bad = s === 'failed' || s === 'timed_out' || s === 'expired';
  return h(
    'span',
    { class: `badge ${good ? 'online' : bad ? 'offline' : 'unknown'}`, 'data-status': s, title: t(`status.${s}.desc`) },
    t(`status.${s}`),
  );
}

// The one-line description of a stable name (`<key>.desc`) as a caption line, or '' when the
// dictionary has none.
export function describe(key, attrs = {}) {
  const text = t(`${key}.desc`);
  return text === `${key}.desc` ? '' : h('small', { class: 'desc', ...attrs }, text);
}

// Titles each option of `sel` with the description of `key_of(value)`, and keeps `caption`
// showing the chosen option's description.
export function describe_options(sel, key_of, caption) {
  const show = () => {
    for (const o of sel.options) {
      const d = o.value ? t(`${key_of(o.value)}.desc`) : '';
      if (d && d !== `${key_of(o.value)}.desc`) o.title = d;
    }
    const key = sel.value ? `${key_of(sel.value)}.desc` : '';
    const text = key ? t(key) : '';
    caption.textContent = text === key ? '' : text;
  };
  sel.addEventListener('change', show);
  return show;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

// A router's uptime as days and hours ("3日 4時間", "3 d 4 h"); minutes while under an hour.
export function uptime(seconds) {
  if (typeof seconds !== 'number' || seconds < 0) return '—';
  const d = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  if (d === 0 && hours === 0) return t('time.minutes', { m: Math.floor(seconds / 60) });
  return d > 0 ? t('time.days_hours', { d, h: hours }) : t('time.hours', { h: hours });
}

// A labelled list of facts: [label, value] pairs, a value being text or a node; pairs without a
// value are left out.
export function facts(pairs, attrs = {}) {
  return h(
    'dl',
    { class: 'facts', ...attrs },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

// Asks before a destructive or privileged action, naming what it acts on. Resolves true only
// when the operator confirms; Escape, the cancel button and closing the dialog resolve false.
// Both buttons carry fixed ids (confirm-ok, confirm-cancel) for tests.
export function confirm_action(message, action_label) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'danger', id: 'confirm-ok' }, action_label);
    const cancel = h('button', { type: 'button', id: 'confirm-cancel' }, t('confirm.cancel'));
    const text = h('p', { id: 'confirm-text' }, message);
    const dialog = h(
      'dialog',
      { id: 'confirm-dialog', 'aria-labelledby': 'confirm-text' },
      text,
      h('div', { class: 'actions' }, cancel, ok),
    );
    let answered = false;
    const answer = (yes) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(yes);
    };
    ok.addEventListener('click', () => answer(true));
    cancel.addEventListener('click', () => answer(false));
    dialog.addEventListener('close', () => answer(false));
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice has the focus, so Enter does not confirm by accident.
    cancel.focus();
  });
}

// Answers every open confirmation with "no": the page behind it is being replaced (another
// page, the login page after a log-off).
export function close_dialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}

// An earlier error stays on screen only until the next attempt: a form sent or a button
// pressed inside `root` clears every error message shown there before the action runs.
export function clear_errors_on_attempt(root) {
  const clear = () => {
    for (const m of root.querySelectorAll('.message.error')) {
      m.className = 'message';
      m.textContent = '';
    }
  };
  root.addEventListener('submit', clear, true);
  root.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('button')) clear();
  }, true);
}
