// Device rows of the store: the columns a device is read from, and the statements of
// store::list_devices, kept apart from sql_store.cpp so the store's tests can check the query
// plans (EXPLAIN QUERY PLAN) of the very text the store runs.
// Plain functions of values; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aterm/cloud/model.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;
using sql::query;

// "SELECT <device columns> FROM devices d LEFT JOIN destinations t ... " (a trailing space; add
// WHERE). read_device reads one row of it.
extern const std::string k_device_select;
device read_device(const query& q);

// The statements of one list_devices page. Every one walks one index in id order from the
// cursor: devices_company (company_id, id), or the index of the page's most selective equality
// filter: devices_company_destination, _firmware, _model or _presence (company_id, column, id),
// so a page costs its own rows, not the fleet. Every other filter (the substring search, a
// second equality, last seen, WAN prefix, tag) is tested on the rows of a window of index entries
// after the cursor (device_list_sql::scan), written so no planner uses an index for it.
// Sorts after every device id (ids start with a letter or digit; byte order in both engines): the
// end of a window that runs to the last device.
inline constexpr std::string_view k_after_every_id = "~";

struct device_list_sql {
  // Only when the page has such a filter: the id a part of the walk's entries after the cursor,
  // where that part stops (the store walks `scan` entries at most, in parts that double from
  // limits::k_first_device_window). Binds: bind_device_window, the part's size - 1 (the offset).
  std::string scan_end;
  // Binds: bind_device_window, [scan end (k_after_every_id when none), bind_device_rest],
  // limit + 1. The end is a bound of the index range, so the walk stops there.
  std::string page;
  // The window's size: limits::k_max_device_scan for the id search alone (answered from the
  // index), limits::k_max_device_filter_scan when a filter reads the rows.
  std::size_t scan = 0;
  // PostgreSQL only, and only when the id search is the one filter past the window (it needs no
  // row): one walk of a part's index entries answers, in one row, its ids (comma-separated, in
  // no order), which id_search_page tests for the search, instead of an offset walk and a page
  // walk, each planned for its values (bench_api, search with no match: p50 15.7 ms before). The
  // test is done here, not by the server: lower() and strpos() on every id cost PostgreSQL
  // twice the walk itself (about 9 against 4 ms for 20,000 ids). SQLite's offset walk steps the
  // index without making rows: its two walks cost less than this one aggregate (4.9 against
  // 8.4 ms). Binds: bind_device_window, the part's size.
  std::string id_window;
  // With id_window: the rows of the matches it answered, by id. Binds: bind_device_window with
  // the matches' ids joined by commas as its cursor, the number of matches.
  std::string matches;
};
device_list_sql list_devices_sql(sql::dialect dialect, const device_query& filter);
// A page of a list whose statements have id_window: its window walked in parts that double from
// limits::k_first_device_window, each part one id_window statement, then the matches' rows.
// `limit` is the page's size (1..limits::k_max_page). REQUIRES: inside a transaction of `db`.
device_page id_search_page(connection& db, const device_list_sql& sql,
                           const std::string& company_id, const device_query& filter,
                           std::size_t limit);
// company_id, the indexed equality (if any), the cursor.
void bind_device_window(query& q, const std::string& company_id, const device_query& filter);
// The filters tested on the window's rows, in the order list_devices_sql wrote them.
void bind_device_rest(query& q, const device_query& filter);

// The device leaves its company (unassign, contract end): its row drops the company,
// destination and latest state, and the tenancy's state history, commands, technician logins,
// tags and places in fleet jobs are deleted, so the next company that registers it reads nothing of
// them. Presence, agent version and times seen stay: they describe the device, and the unassigned
// list shows them. REQUIRES: inside a write transaction of `db`.
void release_device(connection& db, const std::string& device_id);

}  // namespace aterm::cloud::store_sql
