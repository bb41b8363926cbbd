#include "device_rows.h"

#include <algorithm>
#include <string_view>

#include "aterm/cloud/limits.h"
#include "aterm/common/json.h"

namespace aterm::cloud::store_sql {

const std::string k_device_select =
    "SELECT d.id, COALESCE(d.company_id, ''), d.destination_id, COALESCE(t.name, ''), "
    "d.presence, d.agent_version, d.last_seen_ms, COALESCE(d.state_json, ''), "
    "d.state_received_ms, d.registered_at_s, d.first_seen_ms, COALESCE(d.model, ''), "
    "COALESCE(d.firmware, ''), COALESCE(d.wan_ip, ''), COALESCE(t.profile_hash, ''), "
    "COALESCE(d.profile_hash, ''), d.profile_rev, COALESCE(c.status, ''), COALESCE(c.error, '') "
    "FROM devices d LEFT JOIN destinations t ON t.id = d.destination_id "
    "LEFT JOIN commands c ON c.id = d.profile_command_id ";

device read_device(const query& q) {
  device d;
  d.id = q.text(0);
  d.company_id = q.text(1);
  d.destination_id = q.opt_i64(2);
  d.destination_name = q.text(3);
  auto p = q.text(4);
  d.presence = p == "online"    ? presence_state::online
               : p == "offline" ? presence_state::offline
                                : presence_state::unknown;
  d.agent_version = q.text(5);
  d.last_seen_ms = q.opt_i64(6);
  d.state_json = q.text(7);
  d.state_received_ms = q.opt_i64(8);
  d.registered_at_s = q.opt_i64(9);
  d.first_seen_ms = q.opt_i64(10);
  d.model = q.text(11);
  d.firmware = q.text(12);
  d.wan_ip = q.text(13);
  d.profile.wanted_hash = q.text(14);
  d.profile.sent_hash = q.text(15);
  d.profile.sent_rev = q.opt_i64(16);
  d.profile.sent_status = q.text(17);
  d.profile.sent_error = q.text(18);
  if (!d.state_json.empty() && !d.profile.wanted_hash.empty()) {
    // Validated on ingest; only a profile compares the router's revision.
    auto state = common::parse_json(d.state_json);
    if (state.ok()) d.profile.reported_rev = common::json_int(state->get(), "config_rev");
  }
  return d;
}

namespace {

// The filter whose index a page walks: the most selective equality the query holds.
enum class device_index { company, destination, firmware, model, presence };

device_index index_of(const device_query& f) {
  if (f.destination_id) return device_index::destination;
  if (f.firmware) return device_index::firmware;
  if (f.model) return device_index::model;
  if (f.presence) return device_index::presence;
  return device_index::company;
}

std::string presence_text(const device_query& f) {
  return f.presence ? std::string(to_string(*f.presence)) : std::string();
}

}  // namespace

device_list_sql list_devices_sql(sql::dialect dialect, const device_query& f) {
  // Distinct texts per filter (not "? IS NULL OR ..." terms) so the planner sees the indexed
  // equality and picks the index that holds it.
  const auto index = index_of(f);
  std::string where = "d.company_id = ? ";
  switch (index) {
    case device_index::destination:
      where += "AND d.destination_id = ? ";
      break;
    case device_index::firmware:
      where += "AND d.firmware = ? ";
      break;
    case device_index::model:
      where += "AND d.model = ? ";
      break;
    case device_index::presence:
      where += "AND d.presence = ? ";
      break;
    case device_index::company:
      break;
  }
  where += "AND d.id > ? ";
  // The other filters: "+ 0" and "|| ''" keep a planner off their indexes, so the page stays on
  // the window's index and its cost bounded.
  std::string rest;
  if (!f.q.empty()) {
    rest += dialect == sql::dialect::postgres ? "AND strpos(lower(d.id), lower(?)) > 0 "
                                              : "AND instr(lower(d.id), lower(?)) > 0 ";
  }
  const std::size_t id_search = rest.size();
  if (f.firmware && index != device_index::firmware) rest += "AND d.firmware || '' = ? ";
  if (f.model && index != device_index::model) rest += "AND d.model || '' = ? ";
  if (f.presence && index != device_index::presence) rest += "AND d.presence || '' = ? ";
  if (f.last_seen_before_ms) rest += "AND d.last_seen_ms + 0 < ? ";
  if (f.last_seen_after_ms) rest += "AND d.last_seen_ms + 0 >= ? ";
  // length(?) of the text itself: PostgreSQL's substr takes an int4, not the int8 of a bound
  // integer.
  if (f.wan_prefix) rest += "AND substr(d.wan_ip, 1, length(?)) = ? ";
  // A tag is a lookup in device_tags' primary key (device_id, tag) per row of the window.
  if (f.tag) {
    rest +=
        "AND EXISTS (SELECT 1 FROM device_tags g WHERE g.device_id = d.id AND g.tag = ? "
        "AND g.company_id = d.company_id) ";
  }
  device_list_sql out;
  // A filter past the id search reads the rows: a shorter walk.
  const bool reads_rows = rest.size() > id_search;
  out.scan = reads_rows ? limits::k_max_device_filter_scan : limits::k_max_device_scan;
  if (!rest.empty() && !reads_rows && dialect == sql::dialect::postgres) {
    // Ids hold no comma (protocol::valid_device_id).
    out.id_window = "SELECT string_agg(s.id, ',') FROM (SELECT d.id FROM devices d WHERE " + where +
                    "ORDER BY d.id LIMIT ?) s";
    // The matches by their ids (joined by commas, bound where the cursor was): an index walk
    // from the first to the last match with the search as a filter read the row of every device
    // in between (PostgreSQL tests a non-indexed term on the row), 5,400 rows for 101 matches of
    // "77" in bench_api.
    std::string by_ids = where;
    by_ids.replace(by_ids.find("AND d.id > ? "), 13, "AND d.id = ANY(string_to_array(?, ',')) ");
    out.matches = k_device_select + "WHERE " + by_ids + "ORDER BY d.id LIMIT ?";
  }
  if (!rest.empty()) {
    out.scan_end = "SELECT d.id FROM devices d WHERE " + where + "ORDER BY d.id LIMIT 1 OFFSET ?";
    where += "AND d.id <= ? " + rest;
  }
  out.page = k_device_select + "WHERE " + where + "ORDER BY d.id LIMIT ?";
  return out;
}

namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `id` holds `lowered` (already lowercase) without regard to ASCII case: the engines' lower() in
// the C collation folds ASCII alone, and ids are ASCII (protocol::valid_device_id).
bool holds_folded(std::string_view id, std::string_view lowered) {
  return std::search(id.begin(), id.end(), lowered.begin(), lowered.end(),
                     [](char c, char l) { return ascii_lower(c) == l; }) != id.end();
}

}  // namespace

device_page id_search_page(connection& db, const device_list_sql& sql,
                           const std::string& company_id, const device_query& f,
                           std::size_t limit) {
  device_page page;
  std::vector<std::string> matches;
  // Where the last part ended; empty once the company's devices ran out.
  std::string scan_end;
  device_query part = f;
  std::string lowered = f.q;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ascii_lower);
  std::size_t examined = 0;
  std::size_t step = limits::k_first_device_window;
  for (;;) {
    step = std::min(step, sql.scan - examined);
    auto q = db.prepare(sql.id_window);
    bind_device_window(q, company_id, part);
    q.bind(step);
    if (!q.step()) break;
    const std::string window = q.text(0);  // NULL (no entry) reads as empty
    while (q.step()) {
    }
    // The aggregate's order is the engine's: ids compare by bytes in both (k_after_every_id).
    const std::size_t before = matches.size();
    std::size_t entries = 0;
    std::string_view last;
    for (std::size_t at = 0; at < window.size();) {
      const std::size_t comma = std::min(window.find(',', at), window.size());
      const std::string_view id(window.data() + at, comma - at);
      ++entries;
      if (id > last) last = id;
      if (holds_folded(id, lowered)) matches.emplace_back(id);
      at = comma + 1;
    }
    std::sort(matches.begin() + static_cast<std::ptrdiff_t>(before), matches.end());
    examined += step;
    scan_end = entries == step ? std::string(last) : std::string();
    if (matches.size() > limit || scan_end.empty() || examined >= sql.scan) break;
    part.cursor = scan_end;
    step *= 2;
  }
  if (matches.size() > limit + 1) matches.resize(limit + 1);
  if (!matches.empty()) {
    auto q = db.prepare(sql.matches);
    part.cursor.clear();
    for (const auto& id : matches) {
      if (!part.cursor.empty()) part.cursor += ',';
      part.cursor += id;
    }
    bind_device_window(q, company_id, part);
    q.bind(matches.size());
    while (q.step()) page.devices.push_back(read_device(q));
  }
  if (page.devices.size() > limit) {
    page.devices.pop_back();
    page.next_cursor = page.devices.back().id;
  } else {
    page.next_cursor = scan_end;
  }
  return page;
}

void bind_device_window(query& q, const std::string& company_id, const device_query& f) {
  q.bind(company_id);
  switch (index_of(f)) {
    case device_index::destination:
      q.bind(*f.destination_id);
      break;
    case device_index::firmware:
      q.bind(*f.firmware);
      break;
    case device_index::model:
      q.bind(*f.model);
      break;
    case device_index::presence:
      q.bind(presence_text(f));
      break;
    case device_index::company:
      break;
  }
  q.bind(f.cursor);
}

void bind_device_rest(query& q, const device_query& f) {
  const auto index = index_of(f);
  if (!f.q.empty()) q.bind(f.q);
  if (f.firmware && index != device_index::firmware) q.bind(*f.firmware);
  if (f.model && index != device_index::model) q.bind(*f.model);
  if (f.presence && index != device_index::presence) q.bind(presence_text(f));
  if (f.last_seen_before_ms) q.bind(*f.last_seen_before_ms);
  if (f.last_seen_after_ms) q.bind(*f.last_seen_after_ms);
  if (f.wan_prefix) q.bind(*f.wan_prefix).bind(*f.wan_prefix);
  if (f.tag) q.bind(*f.tag);
}

void release_device(connection& db, const std::string& device_id) {
  db.prepare("DELETE FROM state_history WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM commands WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM technician_logins WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM technician_login_tombstones WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM device_tags WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM fleet_job_devices WHERE device_id = ?").bind(device_id).exec();
  db.prepare(
        "UPDATE devices SET company_id = NULL, destination_id = NULL, registered_at_s = NULL, "
        "state_json = NULL, state_received_ms = NULL, state_count = 0, "
        "profile_command_id = NULL, profile_hash = NULL, profile_rev = NULL WHERE id = ?")
      .bind(device_id)
      .exec();
}

}  // namespace aterm::cloud::store_sql
