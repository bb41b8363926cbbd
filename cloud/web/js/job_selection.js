// The device list's selection for fleet jobs: a checkbox per router, one for the page, "every
// router matching the filter", and "create a job", which opens the Jobs page (jobs.js) with the
// target (the chosen ids, or the filter as a query target) and an op, args and rollout to start
// from. The selection survives paging; changing the filter forgets "every router matching".
import { t } from './i18n.js';
import { h, field, select } from './ui.js';
import { open_jobs_page } from './jobs.js';

// A job names at most this many routers by id (limits::k_max_job_device_ids); more are named by
// the filter.
const k_max_ids = 10000;
const k_ops = ['reboot', 'ping', 'state.refresh', 'tags.set'];
// What the Jobs page starts from for an op: a reboot goes out gradually and stops itself when
// one router in five fails; the operator changes either before starting.
const k_start = {
  reboot: { args: {}, rollout: { per_minute: 10, max_in_flight: 0, abort_if_failed_pct: 20 } },
  'tags.set': { args: { tags: [] }, rollout: { per_minute: 0, max_in_flight: 0 } },
};
const k_default_start = { args: {}, rollout: { per_minute: 0, max_in_flight: 0 } };

// `filter()` answers the device list's current filter as GET /devices takes it. Returns
// { element, column(id), heading(ids), reset(), shown(ids) }: the bar above the table, a row's
// checkbox, the heading's page checkbox, and what the list calls when its filter changes and
// after it shows a page.
export function device_selection(filter) {
  const chosen = new Set();
  let matching = null;
  let page_ids = [];
  const count = h('span', { id: 'device-selected', class: 'muted', 'aria-live': 'polite' });
  const every = h('button', { type: 'button', id: 'select-matching' }, t('select.matching'));
  const clear = h('button', { type: 'button', id: 'select-clear' }, t('select.clear'));
  const op = select(
    'selection_op',
    k_ops.map((o) => [o, o]),
    'reboot',
  );
  op.id = 'selection-op';
  const create = h('button', { type: 'button', class: 'primary', id: 'job-from-selection' }, t('select.create_job'));
  const element = h('div', { class: 'toolbar', id: 'device-selection' }, count, every, clear, field(t('job.op'), op), create);
  const boxes = new Map();
  let page_box = null;

  function update() {
    count.dataset.count = matching ? 'filter' : String(chosen.size);
    count.textContent = matching ? t('select.count_matching') : t('select.count', { n: chosen.size });
    create.disabled = !matching && chosen.size === 0;
    clear.disabled = create.disabled;
    for (const [id, box] of boxes) {
      box.checked = Boolean(matching) || chosen.has(id);
      box.disabled = Boolean(matching);
    }
    if (page_box) {
      page_box.checked = Boolean(matching) || (page_ids.length > 0 && page_ids.every((id) => chosen.has(id)));
      page_box.disabled = Boolean(matching);
    }
  }

  function column(id) {
    const box = h('input', { type: 'checkbox', class: 'device-select', value: id, 'aria-label': t('select.one', { id }) });
    box.addEventListener('change', () => {
      if (box.checked && chosen.size < k_max_ids) chosen.add(id);
      else chosen.delete(id);
      update();
    });
    boxes.set(id, box);
    return box;
  }

  function heading(ids) {
    page_ids = ids;
    boxes.clear();
    page_box = h('input', { type: 'checkbox', id: 'select-page', 'aria-label': t('select.page') });
    page_box.addEventListener('change', () => {
      for (const id of page_ids) {
        if (page_box.checked && chosen.size < k_max_ids) chosen.add(id);
        else if (!page_box.checked) chosen.delete(id);
      }
      update();
    });
    return page_box;
  }

  every.addEventListener('click', () => {
    // Only the filters given: the query target refuses nothing the device list sends.
    matching = Object.fromEntries(Object.entries(filter()).filter(([, v]) => v !== '' && v !== undefined));
    update();
  });
  clear.addEventListener('click', () => {
    matching = null;
    chosen.clear();
    update();
  });
  create.addEventListener('click', () => {
    const start = k_start[op.value] || k_default_start;
    open_jobs_page({
      target: matching ? { query: matching } : { device_ids: [...chosen] },
      op: op.value,
      args: start.args,
      rollout: start.rollout,
    });
  });
  update();
  return {
    element,
    column,
    heading,
    reset() {
      if (matching) matching = null;
      update();
    },
    shown: update,
  };
}
