// The fleet's parts of the company pages (pages.js places them): the device list's filters and
// its inventory export, the fleet summary (with the running jobs' progress), a router's configuration-profile status and its
// removal, and the configuration editor of a destination's profile.
import * as api from './api.js';
import { progress_bar } from './jobs.js';
import { t } from './i18n.js';
import { h, field, input, select, jst_input_to_iso, confirm_action, message_box } from './ui.js';

// The device list's filters beyond the search and presence: { element, params() }, params()
// being the API's query fields (docs/http-api.md). `on_change` runs when a choice list changes.
export function fleet_filters(on_change) {
  const model = input('model', { id: 'filter-model', maxlength: 128 });
  const firmware = input('firmware', { id: 'filter-firmware', maxlength: 128 });
  const destination = select('destination', [['', t('fleet.any_destination')]], '');
  destination.id = 'filter-destination';
  api
    .get('/destinations')
    .then((r) => {
      for (const d of r.destinations) destination.append(h('option', { value: String(d.id) }, d.name));
    })
    .catch(() => {});
  const after = input('last_seen_after', { type: 'datetime-local', id: 'filter-seen-after' });
  const before = input('last_seen_before', { type: 'datetime-local', id: 'filter-seen-before' });
  const wan = input('wan_prefix', { id: 'filter-wan', maxlength: 45, placeholder: '203.0.113.' });
  const tag = input('tag', { id: 'filter-tag', maxlength: 64 });
  destination.addEventListener('change', on_change);
  const params = () => ({
    model: model.value.trim(),
    firmware: firmware.value.trim(),
    destination: destination.value,
    last_seen_after: jst_input_to_iso(after.value),
    last_seen_before: jst_input_to_iso(before.value),
    wan_prefix: wan.value.trim(),
    tag: tag.value.trim(),
  });
  const element = h(
    'div',
    { class: 'toolbar', id: 'fleet-filters' },
    field(t('devices.col.model'), model),
    field(t('devices.col.fw'), firmware),
    field(t('fleet.destination'), destination),
    field(t('fleet.seen_after'), after),
    field(t('fleet.seen_before'), before),
    field(t('fleet.wan_prefix'), wan),
    field(t('fleet.tag'), tag),
  );
  return { element, params };
}

// Downloads every device the filters match as CSV (the server pages through them).
export function export_button(params) {
  const b = h('button', { type: 'button', id: 'device-export' }, t('fleet.export'));
  b.addEventListener('click', () => {
    location.href = '/api/v1/devices' + api.query({ ...params(), format: 'csv' });
  });
  return b;
}

// The running jobs of the summary: how many (a link to the Jobs page) and the progress of the
// newest few (GET /fleet/summary answers at most 5).
function running_jobs(s) {
  const box = h('div', { id: 'summary-jobs', 'data-count': String(s.running_jobs ?? 0) });
  box.append(h('a', { href: '#/jobs', id: 'summary-jobs-link' }, t('fleet.jobs_running', { n: s.running_jobs ?? 0 })));
  for (const j of s.jobs ?? []) {
    const c = j.counts;
    const done = c.succeeded + c.failed + c.timed_out + c.cancelled;
    box.append(
      h(
        'div',
        { class: 'summary-job', 'data-job': String(j.id) },
        h('span', { 'data-op': j.op }, t('fleet.job_line', { id: j.id, op: j.op })),
        progress_bar(j),
        h('span', { class: 'muted' }, `${done}/${c.total}`),
      ),
    );
  }
  return box;
}

// Online, offline, unknown and firmware versions of the company's routers, their open alarms and
// their running jobs.
export function fleet_summary(background = false) {
  const box = h('section', { id: 'fleet-summary', class: 'summary', 'aria-label': t('fleet.summary') });
  // The page asks for the count on its own, as the header does: a background request, no operation.
  const alarms = h('a', { href: '#/alarms', class: 'badge offline', id: 'summary-alarms', hidden: true });
  api
    .poll('/alarms' + api.query({ state: 'open', limit: 1 }))
    .then((r) => {
      alarms.dataset.count = String(r.open_count);
      alarms.textContent = t('alarms.open_count', { n: r.open_count });
      alarms.hidden = false;
    })
    .catch(() => {});
  (background ? api.poll : api.get)('/fleet/summary')
    .then((s) => {
      box.replaceChildren(
        alarms,
        ' ',
        h('span', { class: 'badge online', id: 'summary-online' }, t('fleet.online_n', { n: s.online })),
        ' ',
        h('span', { class: 'badge offline', id: 'summary-offline' }, t('fleet.offline_n', { n: s.offline })),
        ' ',
        h('span', { class: 'badge unknown', id: 'summary-unknown' }, t('fleet.unknown_n', { n: s.unknown })),
        ' ',
        h(
          'span',
          { class: 'muted', id: 'summary-firmware' },
          t('fleet.firmware_list', {
            list: s.firmware.map((f) => `${f.firmware || '—'}: ${f.devices}`).join(', ') || '—',
          }),
        ),
        running_jobs(s),
      );
    })
    .catch(() => {});
  return box;
}

// A router against its destination's profile: in sync, pending or failed with the reason.
export function profile_badge(p) {
  const status = p?.status || 'none';
  const kind = status === 'in_sync' ? 'online' : status === 'failed' ? 'offline' : 'unknown';
  const text =
    status === 'failed' ? t('profile.failed', { reason: p.reason || '' }) : t(`profile.${status}`);
  return h('span', { class: `badge ${kind}`, 'data-profile': status, title: p?.reason || '' }, text);
}

// Removes the router from the company after a confirmation; `on_done` runs once it is gone.
export function remove_device_button(id, on_done) {
  const box = message_box();
  const b = h('button', { type: 'button', class: 'danger', id: 'device-remove' }, t('fleet.remove'));
  b.addEventListener('click', async () => {
    if (!(await confirm_action(t('fleet.remove_confirm', { id }), t('fleet.remove')))) return;
    try {
      await api.del(`/devices/${encodeURIComponent(id)}`);
      on_done();
    } catch (err) {
      box.fail(err);
    }
  });
  return h('div', {}, b, box);
}

// "key = value" lines of a profile: true/false become booleans, numbers numbers, the rest text.
function parse_profile(text) {
  const config = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(t('profile.bad_line', { line }));
    const key = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    config[key] = v === 'true' ? true : v === 'false' ? false : v !== '' && !isNaN(Number(v)) ? Number(v) : v;
  }
  return config;
}

// The configuration editor of destination `dest` ({id, name, settings}): its profile as
// "key = value" lines; saving replaces settings.config (an empty editor removes the profile).
export function profile_editor(dest, on_saved) {
  const config = dest.settings?.config || {};
  const area = h('textarea', { id: `profile-${dest.id}`, rows: 5, cols: 40, spellcheck: 'false' });
  area.value = Object.entries(config)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  const box = message_box();
  const save = h('button', { type: 'submit', id: `profile-save-${dest.id}` }, t('profile.save'));
  const form = h(
    'form',
    { class: 'profile-editor' },
    field(t('profile.editor', { name: dest.name }), area),
    save,
    box,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const settings = { ...(dest.settings || {}) };
      const parsed = parse_profile(area.value);
      if (Object.keys(parsed).length) settings.config = parsed;
      else delete settings.config;
      if (!(await confirm_action(t('profile.confirm', { name: dest.name }), t('profile.save')))) return;
      await api.patch(`/destinations/${dest.id}`, { settings });
      box.ok(t('profile.saved'));
      on_saved?.();
    } catch (err) {
      box.fail(err);
    }
  });
  return form;
}
