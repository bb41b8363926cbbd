// Fleet jobs and tags (docs/http-api.md, "Fleet jobs" and "Tags"): the Jobs page (create a job
// for the routers of a tag, a device-list filter or a list of ids, prefilled by the device list's
// selection; each job's progress bar with its counts per status, live; cancel), the progress bar
// the fleet summary shows too, and the tag editor of the router page.
import * as api from './api.js';
import { t } from './i18n.js';
import { h, field, input, select, table, message_box, jst, confirm_action } from './ui.js';

// Progress refreshes this often while the page is open (a background request: no session
// activity, no access-log record).
const k_job_refresh_ms = 2000;
const k_statuses = ['queued', 'sent', 'succeeded', 'failed', 'timed_out', 'cancelled'];
const k_job_ops = ['reboot', 'ping', 'state.refresh', 'log.tail', 'tags.set'];

// What the device list hands over to the Jobs page it opens ({target, op, args, rollout}, each
// optional): kept in this module, not in the URL or storage, and taken by the next Jobs page.
let handover = null;

// Opens the Jobs page with its form filled from `prefill`: target ({device_ids}, {tag},
// {query}), op, args and rollout as POST /jobs takes them.
export function open_jobs_page(prefill) {
  handover = prefill;
  location.hash = '#/jobs';
}

// Tags typed as one line: separated by commas or semicolons, trimmed, empties dropped.
export function parse_tags(text) {
  return text
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function progress_bar(job) {
  const c = job.counts;
  const done = c.succeeded + c.failed + c.timed_out + c.cancelled;
  const bar = h('div', {
    class: 'job-progress',
    role: 'progressbar',
    'aria-valuemin': '0',
    'aria-valuemax': String(c.total),
    'aria-valuenow': String(done),
    'data-done': String(done),
    'data-total': String(c.total),
    'data-succeeded': String(c.succeeded),
  });
  for (const s of ['succeeded', 'failed', 'timed_out', 'cancelled', 'sent']) {
    if (c[s] > 0) {
      // Through the CSSOM: the page's style-src 'self' refuses style attributes.
      const part = h('span', { class: `job-part job-${s}` });
      part.style.width = `${(100 * c[s]) / c.total}%`;
      bar.append(part);
    }
  }
  return bar;
}

function counts_line(job) {
  return h(
    'span',
    { class: 'job-counts' },
    k_statuses.map((s) => h('span', { class: 'job-count', 'data-status': s }, `${t(`job.status.${s}`)} ${job.counts[s]}`)),
  );
}

function target_text(target) {
  if (target?.tag !== undefined) return t('job.target.tag_is', { v: target.tag });
  if (target?.destination !== undefined) return t('job.target.destination_is', { v: target.destination });
  if (target?.device_ids) return t('job.target.ids_are', { n: target.device_ids.length });
  if (target?.query) return t('job.target.query_is', { v: JSON.stringify(target.query) });
  return '—';
}

export function jobs_page(ctx) {
  const box = message_box();
  box.id = 'job-status';
  const list = h('div', { id: 'job-list' });
  const op = select(
    'op',
    k_job_ops.map((o) => [o, o]),
    'reboot',
  );
  op.id = 'job-op';
  const kind = select(
    'target_kind',
    [
      ['tag', t('job.target.tag')],
      ['device_ids', t('job.target.ids')],
      ['online', t('job.target.online')],
      ['query', t('job.target.query')],
    ],
    'tag',
  );
  kind.id = 'job-target-kind';
  const value = input('target', { id: 'job-target' });
  const tags = input('tags', { id: 'job-tags', placeholder: t('job.tags_hint') });
  const args = input('args', { id: 'job-args', placeholder: '{"delay_s": 2}' });
  const per_minute = input('per_minute', { type: 'number', min: '0', id: 'job-per-minute', value: '0' });
  const max_in_flight = input('max_in_flight', { type: 'number', min: '0', id: 'job-max-in-flight', value: '0' });
  const abort_pct = input('abort_pct', { type: 'number', min: '1', max: '100', id: 'job-abort-pct' });
  // The device list hands its tag filter or selection over in the route: #/jobs/tag/<t>.
  if (ctx.args[0] === 'tag' && ctx.args[1]) value.value = decodeURIComponent(ctx.args[1]);
  if (ctx.args[0] === 'ids' && ctx.args[1]) {
    kind.value = 'device_ids';
    value.value = decodeURIComponent(ctx.args[1]);
  }
  const prefill = handover;
  handover = null;
  const prefilled = h('p', { class: 'muted', id: 'job-prefill', hidden: true });
  if (prefill) {
    const target = prefill.target || {};
    if (target.device_ids) {
      kind.value = 'device_ids';
      value.value = target.device_ids.join(',');
    } else if (target.tag !== undefined) {
      kind.value = 'tag';
      value.value = target.tag;
    } else if (target.query) {
      kind.value = 'query';
      value.value = JSON.stringify(target.query);
    }
    if (prefill.op) op.value = prefill.op;
    if (prefill.args && prefill.op === 'tags.set') tags.value = (prefill.args.tags || []).join(', ');
    else if (prefill.args) args.value = JSON.stringify(prefill.args);
    const r = prefill.rollout || {};
    if (r.per_minute !== undefined) per_minute.value = String(r.per_minute);
    if (r.max_in_flight !== undefined) max_in_flight.value = String(r.max_in_flight);
    if (r.abort_if_failed_pct !== undefined) abort_pct.value = String(r.abort_if_failed_pct);
    prefilled.dataset.kind = kind.value;
    prefilled.textContent = target.device_ids
      ? t('job.prefill_selection', { n: target.device_ids.length })
      : t('job.prefill_filter', { v: value.value });
    prefilled.hidden = false;
  }

  async function load(background = false) {
    try {
      const r = await (background ? api.poll : api.get)('/jobs');
      list.replaceChildren(
        table(
          null,
          [t('job.col.id'), t('job.col.op'), t('job.col.target'), t('job.col.state'), t('job.col.progress'), t('job.col.created'), ''],
          r.jobs.map((j) => [
            String(j.id),
            h('span', { 'data-op': j.op }, j.op),
            target_text(j.target),
            h('span', { class: 'job-state', 'data-state': j.state, title: j.reason }, t(`job.state.${j.state}`)),
            h('div', { class: 'job-row', id: `job-${j.id}` }, progress_bar(j), counts_line(j)),
            jst(j.created_at_s * 1000),
            j.state === 'running' && ctx.can('job.manage')
              ? h('button', { type: 'button', class: 'danger job-cancel', 'data-job': String(j.id), onclick: () => cancel(j) }, t('job.cancel'))
              : '',
          ]),
        ),
      );
    } catch (err) {
      box.fail(err);
    }
  }

  async function cancel(job) {
    if (!(await confirm_action(t('job.cancel_confirm', { id: job.id }), t('job.cancel')))) return;
    try {
      await api.post(`/jobs/${job.id}/cancel`);
      box.ok(t('job.cancelled', { id: job.id }));
    } catch (err) {
      box.fail(err);
    }
    load();
  }

  const form = h(
    'form',
    { class: 'card', id: 'job-form' },
    h('h2', {}, t('job.create')),
    field(t('job.op'), op),
    field(t('job.target'), kind),
    field(t('job.target_value'), value),
    prefilled,
    field(t('job.tags'), tags),
    field(t('job.args'), args),
    field(t('job.per_minute'), per_minute),
    field(t('job.max_in_flight'), max_in_flight),
    field(t('job.abort_pct'), abort_pct),
    h('button', { type: 'submit', class: 'primary', id: 'job-submit' }, t('job.submit')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.clear();
    let target;
    let job_args;
    try {
      target =
        kind.value === 'tag'
          ? { tag: value.value.trim() }
          : kind.value === 'device_ids'
            ? { device_ids: parse_tags(value.value) }
            : kind.value === 'query'
              ? { query: JSON.parse(value.value) }
              : { query: { online: 'true', q: value.value.trim() } };
      if (op.value !== 'tags.set' && args.value.trim()) job_args = JSON.parse(args.value);
    } catch {
      box.fail(new Error(t('job.bad_json')));
      return;
    }
    const rollout = {
      per_minute: Number(per_minute.value || 0),
      max_in_flight: Number(max_in_flight.value || 0),
    };
    if (abort_pct.value) rollout.abort_if_failed_pct = Number(abort_pct.value);
    const body = { op: op.value, target, rollout };
    if (op.value === 'tags.set') body.args = { tags: parse_tags(tags.value) };
    else if (job_args !== undefined) body.args = job_args;
    if (op.value === 'reboot' && !(await confirm_action(t('job.reboot_confirm'), t('job.submit')))) return;
    try {
      const j = await api.post('/jobs', body);
      box.ok(t('job.created', { id: j.id, n: j.counts.total }));
    } catch (err) {
      box.fail(err);
    }
    load();
  });
  ctx.view.append(h('h1', {}, t('job.heading')), box);
  if (ctx.can('job.manage') && ctx.can('device.command')) ctx.view.append(form);
  ctx.view.append(h('section', {}, h('h2', {}, t('job.list')), list));
  load();
  const timer = setInterval(() => load(true), k_job_refresh_ms);
  ctx.on_leave(() => clearInterval(timer));
}

// The router page's tags: chips, and an editor for accounts with device.register.
export function tag_editor(ctx, device_id, tags) {
  const chips = h('span', { id: 'device-tags' }, tags.map((x) => h('span', { class: 'badge tag' }, x)));
  const section = h('section', { id: 'device-tag-section' }, h('h2', {}, t('tags.heading')), chips);
  if (!ctx.can('device.register')) return section;
  const box = message_box();
  const text = input('tags', { id: 'device-tags-input', value: tags.join(', ') });
  const form = h(
    'form',
    { class: 'toolbar', id: 'device-tags-form' },
    field(t('tags.edit'), text),
    h('button', { type: 'submit' }, t('tags.save')),
    box,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api.call('PUT', `/devices/${encodeURIComponent(device_id)}/tags`, { tags: parse_tags(text.value) });
      chips.replaceChildren(...r.tags.map((x) => h('span', { class: 'badge tag' }, x)));
      box.ok(t('tags.saved'));
    } catch (err) {
      box.fail(err);
    }
  });
  section.append(form);
  return section;
}
