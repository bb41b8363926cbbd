// The company pages: devices, one device, destinations and registration, accounts and roles,
// password change, company settings, access log. Each page gets `ctx` from app.js: `view` to
// fill, `args` from the route, `on_leave` for timers, `can(permission)`.
import * as api from './api.js';
import { tag_editor } from './jobs.js';
import { device_selection } from './job_selection.js';
import { technician_section } from './technician.js';
import { t, lang, dictionaries } from './i18n.js';
import {
  h,
  field,
  input,
  select,
  table,
  message_box,
  error_text,
  jst,
  jst_input_to_iso,
  presence_badge,
  status_badge,
  uptime,
  facts,
  confirm_action,
  describe,
  describe_options,
} from './ui.js';
import {
  fleet_filters,
  export_button,
  fleet_summary,
  profile_badge,
  remove_device_button,
  profile_editor,
} from './fleet.js';

// Presence and state refresh this often. The refreshes are background requests: they keep no
// session alive and are not access-log records.
const k_refresh_ms = 10_000;
const k_device_refresh_ms = 5000;
const k_page_size = 50;
// Snapshots on the chart: the API's history limit (a day at the default 5-minute interval).
const k_history_points = 288;
// Device ids per registration request: the API's page limit (limits::k_max_page).
const k_register_batch = 500;
const k_device_id = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;
// The same rule as a pattern attribute, which browsers compile with the v flag: there a '-' in a
// character class must be escaped, or the pattern is invalid and silently not checked.
const k_device_id_pattern = '[A-Za-z0-9][A-Za-z0-9_\\-]{2,63}';
const k_final = new Set(['succeeded', 'failed', 'timed_out', 'expired']);
// Ops that change the router beyond reading it: the page asks before sending them.
const k_confirm_ops = new Set(['reboot', 'factory_reset', 'config.set']);

// Runs fn(true) every `ms`: true says the call is the page's own, not the user's.
function every(ctx, ms, fn) {
  const timer = setInterval(() => fn(true), ms);
  ctx.on_leave(() => clearInterval(timer));
}

// ---- devices ------------------------------------------------------------------------------
// Cursor paging: the API pages by an opaque cursor, so the pager keeps the cursors of the pages
// before this one; it works the same at 20 devices and at 100,000.
function devices(ctx) {
  const search = input('q', { type: 'search', id: 'device-search' });
  const filter = select(
    'online',
    [
      ['', t('devices.filter.all')],
      ['true', t('devices.filter.online')],
      ['false', t('devices.filter.offline')],
      ['unknown', t('devices.filter.unknown')],
    ],
    '',
  );
  filter.id = 'device-filter';
  const fleet = fleet_filters(() => restart());
  const params = () => ({ q: search.value.trim(), online: filter.value, ...fleet.params() });
  const selection = ctx.can('job.manage') && ctx.can('device.command') ? device_selection(params) : null;
  const summary = h('div', {}, fleet_summary());
  const box = message_box();
  const body = h('div', { id: 'device-table' });
  const count = h('span', { class: 'muted', id: 'device-count', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', id: 'page-prev' }, t('common.prev'));
  const next = h('button', { type: 'button', id: 'page-next' }, t('common.next'));
  // One entry per page walked so far: its cursor and how many rows the pages before it showed.
  // A search page may hold fewer rows than the limit (the API bounds the rows a search examines
  // and answers where it stopped), so the row numbers add up what was shown.
  let pages_walked = [{ cursor: '', before: 0 }];
  let shown = 0;
  let next_cursor = null;
  // The periodic refresh and a click can overlap; only the latest request may fill the table.
  let generation = 0;

  async function load(background = false) {
    const mine = ++generation;
    try {
      // The filter is the API's own (true, false or unknown), so every page holds only matching
      // devices however many the company has.
      const page = await (background ? api.poll : api.get)(
        '/devices' +
          api.query({
            ...params(),
            limit: k_page_size,
            cursor: pages_walked[pages_walked.length - 1].cursor,
          }),
      );
      if (mine !== generation) return;
      const list = page.devices;
      next_cursor = page.next_cursor || null;
      const p = pages_walked.length;
      const before = pages_walked[p - 1].before;
      shown = list.length;
      prev.disabled = p <= 1;
      next.disabled = !next_cursor;
      count.textContent =
        list.length === 0
          ? t(next_cursor ? 'devices.range_none_yet' : 'devices.range_empty', { p })
          : t('devices.range', { from: before + 1, to: before + list.length, p });
      // What the table shows, for tests and scripts: the page number and the filter it answers.
      body.dataset.page = String(p);
      body.dataset.filter = filter.value;
      body.replaceChildren(
        table(
          null,
          [
            ...(selection ? [selection.heading(list.map((d) => d.id))] : []),
            t('devices.col.id'),
            t('devices.col.presence'),
            t('devices.col.last_seen'),
            t('devices.col.destination'),
            t('devices.col.model'),
            t('devices.col.fw'),
            t('devices.col.profile'),
          ],
          list.map((d) => [
            ...(selection ? [selection.column(d.id)] : []),
            h('a', { href: `#/device/${encodeURIComponent(d.id)}`, class: 'device-link' }, d.id),
            presence_badge(d.presence),
            jst(d.last_seen_ms),
            d.destination || '—',
            d.state?.model ?? '—',
            d.state?.fw ?? '—',
            profile_badge(d.profile),
          ]),
        ),
      );
      selection?.shown();
      box.clear();
      if (background) summary.replaceChildren(fleet_summary(true));
    } catch (err) {
      if (mine === generation) box.fail(err);
    }
  }
  const restart = () => {
    pages_walked = [{ cursor: '', before: 0 }];
    selection?.reset();
    load();
  };
  const form = h(
    'form',
    { class: 'toolbar', role: 'search' },
    field(t('devices.search'), search),
    field(t('devices.filter'), filter),
    fleet.element,
    h('button', { type: 'submit' }, t('common.search')),
    export_button(params),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  filter.addEventListener('change', restart);
  prev.addEventListener('click', () => {
    if (pages_walked.length > 1) pages_walked.pop();
    load();
  });
  next.addEventListener('click', () => {
    if (!next_cursor) return;
    const here = pages_walked[pages_walked.length - 1];
    pages_walked.push({ cursor: next_cursor, before: here.before + shown });
    load();
  });
  ctx.view.append(
    h('h1', {}, t('devices.heading')),
    summary,
    form,
    selection?.element ?? '',
    box,
    body,
    h('div', { class: 'pager', role: 'navigation', 'aria-label': t('common.pager') }, prev, count, next),
  );
  load();
  every(ctx, k_refresh_ms, load);
}

// ---- one device ---------------------------------------------------------------------------
// Memory in use, in percent of the total, from a snapshot's mem.total_kb and mem.free_kb.
function memory_used_percent(state) {
  const total = state?.mem?.total_kb;
  const free = state?.mem?.free_kb;
  if (typeof total !== 'number' || typeof free !== 'number' || total <= 0) return undefined;
  return Math.round((1 - free / total) * 1000) / 10;
}

// "10:00:00 – 10:05:00 JST" within a day, else with dates.
function time_range(from_ms, to_ms) {
  const a = jst(from_ms);
  const b = jst(to_ms);
  if (a.slice(0, 10) === b.slice(0, 10)) return `${a.slice(11, 19)} – ${b.slice(11)}`;
  return `${a.slice(0, 16)} – ${b.slice(0, 16)} JST`;
}

// Small line charts drawn as SVG, one per series: the stored history first, then the values that
// arrive while the page is open.
function chart(series) {
  const ns = 'http://www.w3.org/2000/svg';
  const wrap = h('div', { class: 'charts' });
  const num = (v) => String(Math.round(v * 100) / 100);
  for (const s of series) {
    const n = s.points.length;
    const fig = h('figure', { class: 'chart', 'data-points': String(n) }, h('figcaption', {}, s.label));
    if (n === 0) {
      fig.append(h('p', { class: 'muted' }, t('device.chart.empty')));
      wrap.append(fig);
      continue;
    }
    const w = 300;
    const hgt = 80;
    const pad = 4;
    const values = s.points.map((p) => p.v);
    const lo = Math.min(0, ...values);
    const hi = Math.max(lo + 1, s.top ?? 0, ...values);
    const t0 = s.points[0].t;
    const span = Math.max(1, s.points[n - 1].t - t0);
    const x = (p) => (n === 1 ? w / 2 : ((p.t - t0) / span) * w).toFixed(1);
    const y = (p) => (hgt - pad - ((p.v - lo) / (hi - lo)) * (hgt - 2 * pad)).toFixed(1);
    const last = s.points[n - 1];
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', t('device.chart.aria', { l: s.label, n, v: num(last.v) }));
    // The scale's floor and top as faint rules, so a flat line still reads against its range.
    for (const v of [lo, hi]) {
      const rule = document.createElementNS(ns, 'line');
      const at = y({ v });
      for (const [k, val] of [['x1', 0], ['x2', w], ['y1', at], ['y2', at], ['class', 'chart-rule']]) {
        rule.setAttribute(k, String(val));
      }
      svg.append(rule);
    }
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', s.points.map((p) => `${x(p)},${y(p)}`).join(' '));
    line.setAttribute('class', 'chart-line');
    svg.append(line);
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('cx', x(last));
    dot.setAttribute('cy', y(last));
    dot.setAttribute('r', '3');
    dot.setAttribute('class', 'chart-dot');
    svg.append(dot);
    fig.append(
      svg,
      h('p', { class: 'muted chart-range' }, time_range(t0, last.t)),
      h('p', { class: 'muted' }, t('device.chart.values', { n, max: num(Math.max(...values)), now: num(last.v) })),
      h('p', { class: 'muted' }, t('device.chart.scale', { lo: num(lo), hi: num(hi) })),
    );
    wrap.append(fig);
  }
  return wrap;
}

// The op list and each op's argument fields come from the cloud's command table
// (GET /commands/catalogue), the table the cloud checks commands against and the router runs.
// An argument's label is device.command.arg.<name> and an op's device.command.op.<name> when
// i18n has one, else its name.
function arg_control(a) {
  if (a.type === 'integer') {
    const attrs = { type: 'number', min: a.min, max: a.max, step: 1 };
    if (a.default !== undefined) attrs.value = a.default;
    return input(a.name, attrs);
  }
  if (a.type === 'host') return input(a.name, { value: a.required ? '127.0.0.1' : '', autocomplete: 'off' });
  // literal (a confirmation the operator types), config_keys (comma separated)
  return input(a.name, { autocomplete: 'off' });
}

function arg_value(a, control) {
  const v = control.value.trim();
  if (v === '' && !a.required) return undefined;
  if (a.type === 'integer') return Number(v);
  if (a.type === 'config_keys') return v.split(',').map((k) => k.trim()).filter(Boolean);
  return v;
}

function label_or(key, fallback) {
  const s = t(key);
  return s === key ? fallback : s;
}

// A command's progress in words that follow its real status. A command to an offline router
// waits in the cloud until the router connects or its deadline passes.
function command_status_text(cmd, offline) {
  const vars = {
    op: op_label(cmd.op),
    id: cmd.id,
    deadline: jst(cmd.deadline_s * 1000),
    m: cmd.error || cmd.result_status || '—',
  };
  // The broker may hold a sent command for a router that is away: it still waits for the router.
  if ((cmd.status === 'queued' || cmd.status === 'sent') && offline) return t('command.queued_offline', vars);
  return t(`command.${cmd.status}`, vars);
}

function op_label(op) {
  return label_or(`device.command.op.${op}`, op);
}

const fixed1 = (v) => (typeof v === 'number' ? String(Math.round(v * 10) / 10) : '—');

// A command's result as labelled fields in the user's language. Fields the page has no words
// for are shown by their key, objects as compact JSON.
function result_view(c) {
  if (c.status !== 'succeeded') {
    if (c.error) return h('span', { class: 'result-error' }, c.error);
    return '—';
  }
  const r = c.result;
  if (!r || typeof r !== 'object' || Object.keys(r).length === 0) return t('result.done');
  const pairs = [];
  const rest = { ...r };
  const take = (k) => {
    const v = rest[k];
    delete rest[k];
    return v;
  };
  if (c.op === 'ping' && 'pong' in r) {
    pairs.push([t('result.pong'), take('pong') ? t('common.yes') : t('common.no')]);
  } else if (c.op === 'diag.ping') {
    const sent = take('sent');
    const received = take('received');
    const rtt = take('rtt_ms');
    const loss = sent > 0 ? Math.round((1 - received / sent) * 100) : 0;
    pairs.push([t('result.replies'), t('result.replies_value', { received, sent, loss })]);
    pairs.push([
      t('result.rtt'),
      rtt ? t('result.rtt_value', { min: fixed1(rtt.min), avg: fixed1(rtt.avg), max: fixed1(rtt.max) }) : t('result.no_reply'),
    ]);
  } else if (c.op === 'diag.traceroute') {
    pairs.push([t('result.host'), take('host')]);
    pairs.push([t('result.reached'), take('reached') ? t('common.yes') : t('common.no')]);
    const hops = take('hops') ?? [];
    pairs.push([
      t('result.hops'),
      h('ol', { class: 'hops' }, hops.map((x) => h('li', {}, x.addr ? `${x.addr} (${fixed1(x.rtt_ms)} ms)` : '*'))),
    ]);
  } else if (c.op === 'diag.dns') {
    pairs.push([t('result.name'), take('name')]);
    if ('server' in rest) pairs.push([t('result.server'), take('server')]);
    pairs.push([t('result.addresses'), (take('addresses') ?? []).join(', ') || t('result.none_found')]);
  } else if (c.op === 'config.get' || c.op === 'config.set') {
    pairs.push([t('result.rev'), String(take('rev'))]);
    const values = take('values');
    if (values) {
      pairs.push([
        t('result.values'),
        facts(Object.entries(values).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]), { class: 'facts nested' }),
      ]);
    }
  } else if (c.op === 'log.tail') {
    pairs.push([t('result.lines'), h('pre', { class: 'log-lines' }, (take('lines') ?? []).join('\n'))]);
  }
  for (const [k, v] of Object.entries(rest)) {
    pairs.push([label_or(`result.${k}`, k), typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  }
  return facts(pairs, { class: 'facts result' });
}

// `presence()` answers the router's presence as the page last read it.
function command_form(ctx, id, presence, on_sent) {
  const op = select('op', [], 'ping');
  op.id = 'command-op';
  let ops = [];
  let controls = [];
  const extra = h('div', { class: 'extra' });
  const show_extra = () => {
    const spec = ops.find((o) => o.op === op.value);
    controls = [];
    extra.replaceChildren();
    if (!spec) return;
    for (const a of spec.args) {
      const c = arg_control(a);
      c.id = `command-arg-${a.name}`;
      controls.push([a, c]);
      extra.append(field(label_or(`device.command.arg.${a.name}`, a.name), c));
    }
    if (spec.warning) extra.append(h('p', { class: 'message notice' }, t('device.command.warning')));
  };
  op.addEventListener('change', show_extra);
  const op_desc = h('small', { class: 'desc', id: 'command-op-desc' });
  const show_op_desc = describe_options(op, (v) => `op.${v}`, op_desc);
  const box = message_box();
  box.id = 'command-status';
  const result = h('div', { id: 'command-result' });
  api
    .get('/commands/catalogue')
    .then((c) => {
      ops = c.ops.filter((o) => !o.args.some((a) => a.type === 'config_values'));
      for (const o of ops) op.append(h('option', { value: o.op }, op_label(o.op)));
      op.value = 'ping';
      show_extra();
      show_op_desc();
    })
    .catch((err) => box.fail(err));
  const form = h(
    'form',
    { class: 'toolbar', id: 'command-form' },
    field(t('device.command.op'), op, op_desc),
    extra,
    h('button', { type: 'submit', class: 'primary' }, t('device.command.send')),
  );
  form.append(box, result);
  let watching = 0;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const spec = ops.find((o) => o.op === op.value);
    if (k_confirm_ops.has(op.value) || spec?.warning) {
      const ask = t('confirm.command', { op: op_label(op.value), id });
      if (!(await confirm_action(ask, op_label(op.value)))) return;
    }
    box.clear();
    result.replaceChildren();
    const args = {};
    for (const [a, c] of controls) {
      const v = arg_value(a, c);
      if (v !== undefined) args[a.name] = v;
    }
    clearInterval(watching);
    try {
      let cmd = await api.post(`/devices/${encodeURIComponent(id)}/commands`, { op: op.value, args });
      const show = () => {
        const final = k_final.has(cmd.status);
        box.className = `message ${cmd.status === 'succeeded' ? 'ok' : final ? 'error' : ''}`;
        box.dataset.status = cmd.status;
        box.replaceChildren(status_badge(cmd.status), ' ', command_status_text(cmd, presence() !== 'online'));
        if (cmd.status === 'succeeded') result.replaceChildren(result_view(cmd));
      };
      show();
      // Watch it to its final state.
      const timer = setInterval(async () => {
        try {
          cmd = await api.poll(`/commands/${encodeURIComponent(cmd.id)}`);
          show();
          if (k_final.has(cmd.status)) {
            clearInterval(timer);
            on_sent(true);
          }
        } catch (err) {
          clearInterval(timer);
          box.fail(err);
        }
      }, 1000);
      watching = timer;
      ctx.on_leave(() => clearInterval(timer));
      on_sent();
    } catch (err) {
      box.fail(err);
    }
  });
  return form;
}

// The latest state snapshot as labelled fields (DESIGN.md section 3's snapshot); a field the
// router did not send is left out.
function state_facts(s, received_ms) {
  if (!received_ms) return h('p', { class: 'muted' }, t('device.no_state'));
  const kb_to_mb = (kb) => Math.round(kb / 1024);
  const used = memory_used_percent(s);
  const wan = s.wan ?? {};
  return facts(
    [
      [t('state.model'), s.model],
      [t('state.fw'), s.fw],
      [t('state.uptime'), typeof s.uptime_s === 'number' ? uptime(s.uptime_s) : undefined],
      [t('state.wan_ip'), wan.ip],
      [t('state.wan_link'), typeof wan.up === 'boolean' ? h('span', { class: `badge ${wan.up ? 'online' : 'offline'}` }, t(wan.up ? 'state.link_up' : 'state.link_down')) : undefined],
      [t('state.lan_clients'), typeof s.lan?.clients === 'number' ? t('state.clients_value', { n: s.lan.clients }) : undefined],
      [t('state.cpu'), typeof s.cpu?.load1 === 'number' ? String(s.cpu.load1) : undefined],
      [
        t('state.memory'),
        used !== undefined ? t('state.memory_value', { p: used, used: kb_to_mb(s.mem.total_kb - s.mem.free_kb), total: kb_to_mb(s.mem.total_kb) }) : undefined,
      ],
      [t('state.config_rev'), typeof s.config_rev === 'number' ? String(s.config_rev) : undefined],
      [t('state.sent_at'), typeof s.ts === 'number' ? jst(s.ts * 1000) : undefined],
      [t('device.state_at'), received_ms ? jst(received_ms) : undefined],
    ],
    { class: 'facts state-fields' },
  );
}

function device(ctx) {
  const id = ctx.args[0] ?? '';
  const box = message_box();
  const info = h('div', {});
  const charts = h('div', {});
  const state_view = h('div', { id: 'device-state-fields' });
  const tags_view = h('div', {});
  // The snapshot as the router sent it, for support staff: closed unless asked for.
  const raw_pre = h('pre', { class: 'state', id: 'device-state' });
  const raw = h('details', { id: 'device-raw' }, h('summary', {}, t('device.raw')), raw_pre);
  const history = h('div', { id: 'device-history' });
  const series = [
    { key: (s) => s?.cpu?.load1, label: t('device.chart.load'), points: [] },
    { key: (s) => s?.lan?.clients, label: t('device.chart.clients'), points: [] },
    { key: memory_used_percent, label: t('device.chart.memory'), points: [], top: 100 },
  ];
  // One point per received snapshot, ordered by arrival at the cloud; a snapshot already drawn
  // (the history's newest is the device's latest state) is not drawn twice.
  const add_point = (received_ms, state) => {
    for (const x of series) {
      const v = x.key(state);
      if (typeof v !== 'number') continue;
      let i = x.points.length;
      while (i > 0 && x.points[i - 1].t > received_ms) i--;
      if (i > 0 && x.points[i - 1].t === received_ms) continue;
      x.points.splice(i, 0, { t: received_ms, v });
      if (x.points.length > k_history_points) x.points.shift();
    }
  };
  const history_note = h('p', { class: 'muted', id: 'chart-note' });

  // The stored history: the chart starts with what the router sent before the page was opened.
  async function load_history() {
    try {
      const r = await api.get(
        `/devices/${encodeURIComponent(id)}/history` + api.query({ limit: k_history_points }),
      );
      for (const row of r.history) add_point(row.ts_ms, row.state);
    } catch (err) {
      history_note.textContent = t('device.chart.history_failed', { m: error_text(err) });
    }
  }

  let presence = 'unknown';
  async function load(background = false) {
    try {
      const d = await (background ? api.poll : api.get)(`/devices/${encodeURIComponent(id)}`);
      box.clear();
      presence = d.presence;
      const s = d.state ?? {};
      info.replaceChildren(
        facts(
          [
            [t('devices.col.presence'), h('span', { id: 'device-presence' }, presence_badge(d.presence))],
            [t('devices.col.last_seen'), jst(d.last_seen_ms)],
            [t('devices.col.destination'), d.destination || '—'],
            [t('device.agent'), d.agent_version || '—'],
            [t('devices.col.profile'), h('span', { id: 'device-profile' }, profile_badge(d.profile))],
          ],
          { id: 'device-facts' },
        ),
      );
      // Once: a refresh must not replace what the user is typing into the tag editor.
      if (!tags_view.firstChild) tags_view.append(tag_editor(ctx, id, d.tags ?? []));
      state_view.replaceChildren(state_facts(s, d.state_received_ms));
      raw_pre.textContent = JSON.stringify(s, null, 2);
      if (d.state_received_ms) add_point(d.state_received_ms, s);
      charts.replaceChildren(chart(series));
      history.replaceChildren(
        table(
          null,
          [t('device.col.time'), t('device.col.op'), t('device.col.status'), t('device.col.by'), t('device.col.result')],
          d.recent_commands.map((c) => [
            jst(c.created_at_s * 1000),
            h('span', { 'data-op': c.op, title: c.op }, op_label(c.op)),
            status_badge(c.status),
            c.created_by,
            result_view(c),
          ]),
        ),
      );
    } catch (err) {
      box.fail(err);
    }
  }
  ctx.view.append(
    h('p', {}, h('a', { href: '#/devices' }, t('device.back'))),
    h('h1', {}, t('device.heading', { id })),
    box,
    info,
    tags_view,
    h('section', {}, h('h2', {}, t('device.chart')), charts, history_note),
    h('section', {}, h('h2', {}, t('device.state')), state_view, raw),
  );
  if (ctx.can('device.command')) {
    ctx.view.append(h('section', {}, h('h2', {}, t('device.commands')), command_form(ctx, id, () => presence, load)));
  }
  ctx.view.append(h('section', {}, h('h2', {}, t('device.history')), history));
  if (ctx.can('device.technician_login')) ctx.view.append(technician_section(ctx, id).section);
  if (ctx.can('device.register')) {
    ctx.view.append(remove_device_button(id, () => location.replace('#/devices')));
  }
  load_history().then(load);
  every(ctx, k_device_refresh_ms, load);
}

// ---- destinations and registration ---------------------------------------------------------
function destinations(ctx) {
  const box = message_box();
  const list = h('div', { id: 'dest-list' });
  const dest_select = select('destination', [], '');
  dest_select.id = 'register-destination';

  async function load() {
    try {
      const r = await api.get('/destinations');
      const keep = dest_select.value;
      dest_select.replaceChildren(...r.destinations.map((d) => h('option', { value: d.id }, d.name)));
      if (keep) dest_select.value = keep;
      list.replaceChildren(
        table(
          null,
          [t('dest.name'), t('dest.count'), ''],
          r.destinations.map((d) => [
            d.name,
            String(d.device_count),
            ctx.can('destination.manage')
              ? h('span', { class: 'actions' }, h('button', { type: 'button', class: 'dest-rename', 'data-dest': d.name, onclick: async () => {
                  const name = prompt(t('dest.rename_prompt', { n: d.name }), d.name);
                  if (name === null || !name.trim() || name.trim() === d.name) return;
                  try {
                    await api.patch(`/destinations/${d.id}`, { name: name.trim() });
                    box.ok(t('common.saved'));
                    load();
                  } catch (err) {
                    box.fail(err);
                  }
                } }, t('dest.rename')), h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: async () => {
                      if (!confirm(t('common.confirm_delete', { n: d.name }))) return;
                      try {
                        await api.del(`/destinations/${d.id}`);
                        box.ok(t('common.deleted', { n: d.name }));
                        load();
                      } catch (err) {
                        box.fail(err);
                      }
                    },
                  },
                  t('common.delete'),
                ))
              : '',
          ]),
        ),
      );
      if (ctx.can('destination.manage')) {
        profiles.replaceChildren(
          h('h2', {}, t('profile.heading')),
          ...r.destinations.map((d) => profile_editor(d, load)),
        );
      }
      move_to.replaceChildren(...r.destinations.map((d) => h('option', { value: d.id }, d.name)));
      names = new Map(r.destinations.map((d) => [String(d.id), d.name]));
    } catch (err) {
      box.fail(err);
    }
  }
  let names = new Map();
  const move_to = select('destination_id', [], '');
  move_to.id = 'move-destination';

  const profiles = h('section', { id: 'dest-profiles' });
  ctx.view.append(h('h1', {}, t('dest.heading')), box, list, profiles);
  if (ctx.can('destination.manage')) {
    const name = input('name', { required: true, maxlength: 128, id: 'dest-name' });
    const form = h('form', { class: 'toolbar', id: 'dest-form' }, field(t('dest.name'), name),
      h('button', { type: 'submit' }, t('dest.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api.post('/destinations', { name: name.value.trim() });
        name.value = '';
        box.ok(t('common.saved'));
        load();
      } catch (err) {
        box.fail(err);
      }
    });
    ctx.view.append(form);
  }
  if (ctx.can('device.register')) {
    const reg_box = message_box();
    reg_box.id = 'register-status';
    const device_id = input('device_id', { required: true, id: 'register-device', pattern: k_device_id_pattern });
    // The code printed on the device's label proves the company holds the device (docs/device-claim.md).
    const claim_code = input('claim_code', { required: true, id: 'register-code', autocomplete: 'off', maxlength: 32 });
    const one = h('form', { class: 'toolbar', id: 'register-one' }, field(t('dest.device_id'), device_id),
      field(t('dest.claim_code'), claim_code), h('button', { type: 'submit' }, t('dest.register_one')));
    const register = (d, code) =>
      api.post(`/destinations/${dest_select.value}/devices`, { device_id: d, claim_code: code });
    one.addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = device_id.value.trim();
      if (!k_device_id.test(d)) return reg_box.fail({ message: t('dest.bad_id') });
      try {
        try {
          await register(d, claim_code.value.trim());
        } catch (err) {
          if (err.code !== 'confirm_moves') throw err;
          const m = err.details.moves[0];
          const to = names.get(String(dest_select.value)) ?? dest_select.value;
          if (!confirm(t('dest.confirm_move', { id: d, from: m.from_destination, to }))) return reg_box.ok(t('dest.moves_cancelled'));
          await api.post(`/destinations/${dest_select.value}/devices`, { device_id: d, claim_code: claim_code.value.trim(), confirm_moves: true });
        }
        reg_box.ok(t('dest.registered', { id: d }));
        device_id.value = '';
        claim_code.value = '';
        load();
      } catch (err) {
        reg_box.fail(err);
      }
    });
    // A router of the company moves to another destination: asks once, naming both.
    const move_id = input('device_id', { required: true, id: 'move-device' });
    const move = h('form', { class: 'toolbar', id: 'move-form' }, field(t('dest.device_id'), move_id),
      field(t('dest.move_target'), move_to), h('button', { type: 'submit' }, t('dest.move')));
    move.addEventListener('submit', async (e) => {
      e.preventDefault();
      reg_box.clear();
      const d = move_id.value.trim();
      try {
        const dev = await api.get(`/devices/${encodeURIComponent(d)}`);
        const to = names.get(move_to.value) ?? move_to.value;
        if (!confirm(t('dest.confirm_move', { id: d, from: dev.destination || '—', to }))) return;
        await api.patch(`/devices/${encodeURIComponent(d)}`, { destination_id: Number(move_to.value) });
        reg_box.ok(t('dest.moved', { id: d, to }));
        move_id.value = '';
        load();
      } catch (err) {
        reg_box.fail(err);
      }
    });
    // One CSV line as the API's claim: its tags only when the line has a tags column.
    const claim = (x) => (x.tags ? { id: x.id, claim_code: x.code, tags: x.tags } : { id: x.id, claim_code: x.code });
    // Devices of a CSV that are already in another destination: listed, moved only on "move".
    const moves_box = h('div', { id: 'csv-moves' });
    const ask_moves = (held, dest) => {
      if (!held.length) return moves_box.replaceChildren();
      const to = names.get(String(dest)) ?? String(dest);
      moves_box.replaceChildren(h('div', { class: 'card', role: 'alertdialog', 'aria-labelledby': 'csv-moves-heading' },
        h('h3', { id: 'csv-moves-heading' }, t('dest.moves_heading')),
        h('ul', {}, held.map((m) => h('li', { 'data-device': m.id }, t('dest.move_line', { id: m.id, from: m.from_destination, to })))),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', id: 'csv-moves-apply', onclick: async () => {
            moves_box.replaceChildren();
            let moved = 0;
            const fails = [];
            for (let i = 0; i < held.length; i += k_register_batch) {
              const batch = held.slice(i, i + k_register_batch);
              try {
                await api.post(`/destinations/${dest}/devices`, { devices: batch.map(claim), confirm_moves: true });
                moved += batch.length;
              } catch (err) {
                fails.push(error_text(err));
              }
            }
            if (fails.length) reg_box.fail({ message: fails.join(' / ') });
            else reg_box.ok(t('dest.moves_done', { n: moved }));
            load();
          } }, t('dest.moves_apply', { n: held.length })),
          h('button', { type: 'button', id: 'csv-moves-cancel', onclick: () => {
            moves_box.replaceChildren();
            reg_box.ok(t('dest.moves_cancelled'));
          } }, t('dest.moves_cancel')))));
    };
    const file = input('csv', { type: 'file', accept: '.csv,text/csv,text/plain', id: 'register-csv' });
    const lines = h('ul', { class: 'line-errors', id: 'csv-errors' });
    const csv = h('form', { class: 'toolbar', id: 'register-csv-form' }, field(t('dest.csv'), file),
      h('button', { type: 'submit' }, t('dest.upload')));
    // Lines are device_id,claim_code[,tags], the tags separated by ";" (the API's text/csv form):
    // a line with a tags column replaces the router's tags once it is registered, an empty column
    // removes them. Valid lines go to the API in batches (a 10,000-line file is 20 requests, not
    // 10,000). A batch the API refuses (all or nothing, naming no device) is sent again line by
    // line, so each failing line gets its own message (a wrong code, bad tags); registering a line
    // twice is harmless (it is already in this destination). Each wrong code counts toward the
    // company's claim throttle.
    csv.addEventListener('submit', async (e) => {
      e.preventDefault();
      lines.replaceChildren();
      moves_box.replaceChildren();
      reg_box.clear();
      if (!file.files[0]) return;
      const text = await file.files[0].text();
      const errors = [];
      const valid = [];
      const rows = text.split(/\r?\n/);
      const cell = (c) => (c || '').trim().replace(/^"|"$/g, '');
      for (let i = 0; i < rows.length; i++) {
        const cells = rows[i].split(',');
        const [d, code] = cells.map(cell);
        if (!d || (i === 0 && /^device_id$/i.test(d))) continue;
        if (!k_device_id.test(d)) {
          errors.push({ n: i + 1, m: `${d.slice(0, 80)}: ${t('dest.bad_id')}` });
          continue;
        }
        const row = { n: i + 1, id: d, code: code || '' };
        // Everything after the second comma is the tags column, as the API reads it.
        if (cells.length > 2) row.tags = cell(cells.slice(2).join(',')).split(';').map((x) => x.trim()).filter(Boolean);
        valid.push(row);
      }
      let tagged = 0;
      const dest = dest_select.value;
      let ok = 0;
      const held = [];
      for (let start = 0; start < valid.length; start += k_register_batch) {
        reg_box.note(t('dest.csv_progress', { done: start, all: valid.length }));
        let batch = valid.slice(start, start + k_register_batch);
        const send = async (b) => {
          await api.post(`/destinations/${dest}/devices`, { devices: b.map(claim) });
          ok += b.length;
          tagged += b.filter((x) => x.tags).length;
        };
        try {
          await send(batch);
          continue;
        } catch (err) {
          if (err.status === 401) return;
          if (err.code === 'confirm_moves') {
            // The batch is proven; its moves wait for the user, the rest registers now.
            const moving = new Map(err.details.moves.map((m) => [m.id, m]));
            for (const x of batch) if (moving.has(x.id)) held.push({ ...x, from_destination: moving.get(x.id).from_destination });
            batch = batch.filter((x) => !moving.has(x.id));
            if (!batch.length) continue;
            try {
              await send(batch);
              continue;
            } catch (again) {
              if (again.status === 401) return;
            }
          }
        }
        for (const x of batch) {
          try {
            await send([x]);
          } catch (err) {
            errors.push({ n: x.n, m: `${x.id}: ${error_text(err)}` });
          }
        }
      }
      errors.sort((x, y) => x.n - y.n);
      lines.replaceChildren(...errors.map((x) => h('li', {}, t('dest.line', x))));
      reg_box.ok(t('dest.csv_summary', { ok, bad: errors.length }) +
        (tagged ? ` ${t('dest.csv_tagged', { n: tagged })}` : '') +
        (held.length ? ` ${t('dest.moves_pending', { n: held.length })}` : ''));
      ask_moves(held, dest);
      load();
    });
    ctx.view.append(
      h('section', {}, h('h2', {}, t('dest.register')), field(t('dest.destination'), dest_select), one, csv, reg_box, moves_box, lines,
        h('h3', {}, t('dest.move')), move),
    );
  }
  load();
}

// ---- accounts and roles -------------------------------------------------------------------
// A built-in role in the user's language; a company's own role by its name.
function role_label(name) {
  const key = `role.${name}`;
  const text = t(key);
  return text === key ? name : text;
}

function accounts(ctx) {
  const box = message_box();
  box.id = 'accounts-status';
  const list = h('div', { id: 'accounts-list' });
  const roles_list = h('div', { id: 'roles-list' });
  const role_select = select('role', [], '');
  role_select.id = 'account-role';
  role_select.required = true;
  const role_desc = h('small', { class: 'desc', id: 'account-role-desc' });
  const show_role_desc = describe_options(role_select, (v) => `role.${v}`, role_desc);

  async function load() {
    try {
      const [a, r] = await Promise.all([api.get('/accounts'), api.get('/roles')]);
      const keep = role_select.value;
      // No role is preselected: the operator chooses one (the first would be administrator).
      role_select.replaceChildren(
        h('option', { value: '', disabled: true, selected: true }, t('accounts.role_choose')),
        ...r.roles.map((x) => h('option', { value: x.name }, role_label(x.name))),
      );
      if (keep) role_select.value = keep;
      show_role_desc();
      list.replaceChildren(
        table(
          null,
          [t('accounts.login_id'), t('accounts.role'), t('accounts.email'), t('accounts.locked'), t('accounts.last_login'), ''],
          a.accounts.map((x) => [
            x.login_id,
            role_label(x.role),
            x.email || '—',
            h('span', {}, x.locked === 'none' ? '—' : t(`lock.${x.locked}`),
              x.password_change_required ? h('span', { class: 'badge unknown', 'data-flag': 'password_change_required' }, t('accounts.must_change')) : null),
            x.last_login_at_s ? jst(x.last_login_at_s * 1000) : '—',
            ctx.can('account.manage') && x.id !== ctx.state.me.id ? account_actions(x, r.roles) : '',
          ]),
        ),
      );
      roles_list.replaceChildren(
        table(
          null,
          [t('roles.name'), t('roles.permissions'), ''],
          r.roles.map((x) => [
            x.built_in ? h('span', {}, `${role_label(x.name)} (${t('roles.built_in')})`, describe(`role.${x.name}`)) : x.name,
            h('span', {}, x.permissions.map((p, i) => h('span', { class: 'perm', title: t(`perm.${p}.desc`), 'data-perm': p },
              (i ? ', ' : '') + t(`perm.${p}`)))),
            ctx.can('role.manage') && !x.built_in
              ? h('button', {
                  type: 'button',
                  class: 'danger',
                  onclick: () => confirm(t('common.confirm_delete', { n: x.name })) && act(() => api.del(`/roles/${x.id}`)),
                }, t('common.delete'))
              : '',
          ]),
        ),
      );
    } catch (err) {
      box.fail(err);
    }
  }
  async function act(fn) {
    try {
      await fn();
      box.ok(t('common.saved'));
      load();
    } catch (err) {
      box.fail(err);
    }
  }

  // Change of role, password reset, disable / enable and delete of another account; each asks
  // once, naming the account. The server applies the delegation rules and says why it refuses.
  const reset_out = h('div', { id: 'account-reset' });
  function account_actions(x, roles) {
    const role = select('role', roles.map((r) => [r.name, role_label(r.name)]), x.role);
    role.id = `account-role-${x.id}`;
    role.setAttribute('aria-label', t('accounts.role_of', { l: x.login_id }));
    const disabled = x.locked === 'administrator';
    return h('span', { class: 'actions', 'data-account': x.login_id },
      role,
      h('button', { type: 'button', class: 'account-role-change', onclick: () => {
        if (role.value === x.role) return;
        if (!confirm(t('accounts.confirm_role', { l: x.login_id, r: role_label(role.value) }))) {
          role.value = x.role;
          return;
        }
        act(() => api.patch(`/accounts/${x.id}`, { role: role.value }));
      } }, t('accounts.change_role')),
      h('button', { type: 'button', class: 'account-reset', onclick: async () => {
        if (!confirm(t('accounts.confirm_reset', { l: x.login_id }))) return;
        reset_out.replaceChildren();
        try {
          const r = await api.post(`/accounts/${x.id}/password`, { generate: true });
          reset_out.replaceChildren(h('p', { class: 'card once' }, t('accounts.reset_done', { l: x.login_id }),
            h('code', { class: 'secret' }, r.password)));
          box.ok(t('common.saved'));
          load();
        } catch (err) {
          box.fail(err);
        }
      } }, t('accounts.reset')),
      x.locked === 'none'
        ? h('button', { type: 'button', class: 'account-disable danger', onclick: () =>
            confirm(t('accounts.confirm_disable', { l: x.login_id })) && act(() => api.patch(`/accounts/${x.id}`, { locked: true })) },
          t('accounts.disable'))
        : h('button', { type: 'button', class: 'account-enable', onclick: () =>
            act(() => api.patch(`/accounts/${x.id}`, { locked: false })) },
          disabled ? t('accounts.enable') : t('accounts.unlock')),
      h('button', {
        type: 'button',
        class: 'danger',
        onclick: () => confirm(t('common.confirm_delete', { n: x.login_id })) && act(() => api.del(`/accounts/${x.id}`)),
      }, t('common.delete')));
  }

  ctx.view.append(h('h1', {}, t('accounts.heading')), box, reset_out, list);
  if (ctx.can('account.manage')) {
    const login = input('login_id', { required: true, id: 'account-login', maxlength: 128 });
    const email = input('email', { type: 'email', required: true, id: 'account-email', maxlength: 128 });
    const pw = input('password', { type: 'password', autocomplete: 'new-password', id: 'account-password' });
    const generated = h('div', { id: 'account-generated' });
    const form = h('form', { class: 'toolbar', id: 'account-form' },
      field(t('accounts.login_id'), login), field(t('accounts.role'), role_select, role_desc),
      field(t('accounts.email'), email), field(t('accounts.password_opt'), pw),
      h('button', { type: 'submit', class: 'primary' }, t('accounts.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      generated.replaceChildren();
      const body = { login_id: login.value.trim(), role: role_select.value };
      if (email.value.trim()) body.email = email.value.trim();
      if (pw.value) body.password = pw.value;
      try {
        const a = await api.post('/accounts', body);
        pw.value = '';
        if (a.password) {
          generated.replaceChildren(
            h('p', { class: 'card once' }, t('accounts.generated', { l: a.login_id }), h('code', { class: 'secret' }, a.password)),
          );
        }
        login.value = '';
        email.value = '';
        box.ok(t('common.saved'));
        load();
      } catch (err) {
        box.fail(err);
      }
    });
    ctx.view.append(h('section', {}, h('h2', {}, t('accounts.create')), form, generated));
  }
  ctx.view.append(h('h2', {}, t('roles.heading')), roles_list);
  if (ctx.can('role.manage')) {
    const name = input('name', { required: true, id: 'role-name', maxlength: 128 });
    const perms = h('fieldset', { class: 'perms', id: 'role-permissions' }, h('legend', {}, t('roles.permissions')));
    api.get('/permissions').then((r) => {
      for (const p of r.permissions) {
        const cb = h('input', { type: 'checkbox', name: 'perm', value: p, id: `perm-${p}` });
        perms.append(h('label', { for: cb.id, class: 'check described' }, cb, t(`perm.${p}`), describe(`perm.${p}`)));
      }
    }, (err) => box.fail(err));
    const form = h('form', { id: 'role-form' }, field(t('roles.name'), name), perms,
      h('button', { type: 'submit', class: 'primary' }, t('roles.create')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const chosen = [...perms.querySelectorAll('input:checked')].map((c) => c.value);
      act(async () => {
        await api.post('/roles', { name: name.value.trim(), permissions: chosen });
        name.value = '';
        for (const c of perms.querySelectorAll('input:checked')) c.checked = false;
      });
    });
    ctx.view.append(h('section', {}, h('h2', {}, t('roles.create')), form));
  }
  load();
}

// ---- password change ----------------------------------------------------------------------
function password(ctx) {
  const box = message_box();
  box.id = 'password-status';
  const current = input('current_password', { type: 'password', required: true, autocomplete: 'current-password' });
  const next = input('password', { type: 'password', required: true, autocomplete: 'new-password' });
  const again = input('password_again', { type: 'password', required: true, autocomplete: 'new-password' });
  const form = h('form', { class: 'card narrow', id: 'password-form' },
    field(t('password.current'), current), field(t('password.new'), next), field(t('password.confirm'), again),
    h('button', { type: 'submit', class: 'primary' }, t('common.save')), box);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (next.value !== again.value) return box.fail({ message: t('password.mismatch') });
    try {
      await api.post(`/accounts/${ctx.state.me.id}/password`, {
        current_password: current.value,
        password: next.value,
      });
      // The server has ended this account's sessions, this one included.
      ctx.signed_out('password.changed', true);
    } catch (err) {
      box.fail(err);
    } finally {
      current.value = next.value = again.value = '';
    }
  });
  ctx.view.append(h('h1', {}, t('password.heading')), form);
}

// ---- company settings ---------------------------------------------------------------------
const k_ipv4_cidr = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/(3[0-2]|[12]?\d))?$/;
const k_ipv6_cidr = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(\/(12[0-8]|1[01]\d|[1-9]?\d))?$/;

function company(ctx) {
  const box = message_box();
  box.id = 'company-status';
  const allow = h('textarea', { name: 'ip_allowlist', rows: 5, id: 'company-allowlist', spellcheck: 'false' });
  const ttl = input('technician_login_ttl_minutes', { type: 'number', min: 0, max: 1440, required: true, id: 'company-ttl' });
  const form = h('form', { class: 'card narrow', id: 'company-form' },
    field(t('company.allowlist'), allow), field(t('company.ttl'), ttl),
    h('button', { type: 'submit', class: 'primary' }, t('common.save')), box);
  const fill = (c) => {
    allow.value = c.ip_allowlist.join('\n');
    ttl.value = c.technician_login_ttl_minutes;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const entries = allow.value.split('\n').map((s) => s.trim());
    const list = [];
    for (let i = 0; i < entries.length; i++) {
      if (!entries[i]) continue;
      if (!k_ipv4_cidr.test(entries[i]) && !k_ipv6_cidr.test(entries[i])) {
        return box.fail({ message: t('company.bad_cidr', { n: i + 1, v: entries[i] }) });
      }
      list.push(entries[i]);
    }
    try {
      fill(await api.patch('/company', { ip_allowlist: list, technician_login_ttl_minutes: Number(ttl.value) }));
      box.ok(t('common.saved'));
    } catch (err) {
      box.fail(err);
    }
  });
  ctx.view.append(h('h1', {}, t('company.heading')), form);
  api.get('/company').then(fill, (err) => box.fail(err));
}

// ---- access log ---------------------------------------------------------------------------
// Access-log actions the dashboard has words for: every key action.<name> of the dictionary
// (action.<name>.desc is its description). The filter offers them by their translated names,
// sorted in the user's language.
const k_action_prefix = 'action.';

function audit_actions() {
  return Object.keys(dictionaries.ja)
    .filter((k) => k.startsWith(k_action_prefix) && !k.endsWith('.desc'))
    .map((k) => [k.slice(k_action_prefix.length), t(k)])
    .sort((a, b) => a[1].localeCompare(b[1], lang()));
}

function action_cell(name) {
  const key = k_action_prefix + name;
  const label = t(key);
  const desc = t(`${key}.desc`);
  return label === key ? name : h('span', { title: desc === `${key}.desc` ? name : desc, 'data-action': name }, label);
}

// A record's result by its word, the stored value kept as data-result.
function result_cell(name) {
  const key = `audit.result.${name}`;
  return h('span', { 'data-result': name }, t(key) === key ? name : t(key));
}

// Newest first: what just happened is at the top; "older" pages back through the API's
// before_seq cursor.
function audit(ctx) {
  const box = message_box();
  // The last 24 hours unless the operator widens it.
  const from = input('from', { type: 'datetime-local', id: 'audit-from', value: jst(Date.now() - 86_400_000).slice(0, 16).replace(' ', 'T') });
  const to = input('to', { type: 'datetime-local', id: 'audit-to' });
  const account = input('account', { id: 'audit-account' });
  const action = select('action', [['', t('audit.action_all')], ...audit_actions()], '');
  action.id = 'audit-action';
  const action_desc = h('small', { class: 'desc', id: 'audit-action-desc' });
  describe_options(action, (v) => `${k_action_prefix}${v}`, action_desc)();
  const body = h('div', { id: 'audit-table' });
  const older = h('button', { type: 'button', id: 'audit-next' }, t('audit.older'));
  const newer = h('button', { type: 'button', id: 'audit-first' }, t('audit.newer'));
  // UTF-8 with a byte-order mark (the API adds it), so spreadsheet programs read Japanese right.
  const csv = h('a', { class: 'button', id: 'audit-csv', download: 'audit.csv' }, t('audit.csv'));
  let before = [];
  let next_before = null;
  const params = () => ({
    from: jst_input_to_iso(from.value),
    to: jst_input_to_iso(to.value),
    account: account.value.trim(),
    action: action.value,
    order: 'newest',
  });
  async function load() {
    csv.href = '/api/v1/audit' + api.query({ ...params(), format: 'csv' });
    try {
      const r = await api.get('/audit' + api.query({ ...params(), limit: 100, before_seq: before[before.length - 1] }));
      next_before = r.next_before_seq;
      older.disabled = next_before === null || next_before === undefined;
      newer.disabled = before.length === 0;
      body.replaceChildren(
        table(
          null,
          [t('audit.col.seq'), t('audit.col.time'), t('audit.col.actor'), t('audit.col.action'), t('audit.col.target'),
            t('audit.col.result'), t('audit.col.detail'), t('audit.col.ip')],
          r.records.map((x) => [String(x.seq), jst(x.ts_ms), x.actor, action_cell(x.action), x.target, result_cell(x.result), x.detail, x.source_ip]),
        ),
      );
      box.clear();
    } catch (err) {
      box.fail(err);
    }
  }
  const form = h('form', { class: 'toolbar', id: 'audit-form' },
    field(t('audit.from'), from), field(t('audit.to'), to), field(t('audit.account'), account),
    field(t('audit.action'), action, action_desc), h('button', { type: 'submit' }, t('audit.filter')), csv);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    before = [];
    load();
  });
  action.addEventListener('change', () => {
    before = [];
    load();
  });
  older.addEventListener('click', () => {
    before.push(next_before);
    load();
  });
  newer.addEventListener('click', () => {
    before.pop();
    load();
  });
  ctx.view.append(h('h1', {}, t('audit.heading')), form, box, body, h('div', { class: 'pager' }, newer, older));
  load();
}

export const pages = { devices, device, destinations, accounts, password, company, audit };
