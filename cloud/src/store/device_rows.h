// Device rows of the store: the columns a device is read from, and the statements of
// store::list_devices, kept apart from sql_store.cpp so the store's tests can check the query
// plans (EXPLAIN QUERY PLAN) of the very text the store runs.
// Plain functions of values; thread-safe.
#pragma once

#include <string>

#include "aterm/cloud/model.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;
using sql::query;

// "SELECT <device columns> FROM devices d LEFT JOIN destinations t ... " (a trailing space; add
// WHERE). read_device reads one row of it.
extern const std::string k_device_select;
device read_device(const query& q);

// The statements of one list_devices page. Every one walks an index in id order from the cursor:
// devices_company (company_id, id), or devices_company_presence (company_id, presence, id) when
// the page filters on presence, so a page costs its own rows, not the fleet. A tag filter keeps
// the rows whose tag is found in the primary key of device_tags (device_id, tag).
struct device_list_sql {
  // Only for a search: the id `k_max_device_scan` entries after the cursor, where the page's scan
  // stops. Binds: company_id, [presence], cursor, [tag], k_max_device_scan - 1 (the offset).
  std::string scan_end;
  // Binds: company_id, [presence], cursor, [tag], [scan end or NULL twice, q], limit + 1.
  std::string page;
};
device_list_sql list_devices_sql(sql::dialect dialect, bool by_presence, bool search,
                                 bool by_tag = false);

// The device leaves its company (unassign, contract end): its row drops the company,
// destination and latest state, and the tenancy's state history, commands, technician logins,
// tags and places in fleet jobs are deleted, so the next company that registers it reads nothing of
// them. Presence, agent version and times seen stay: they describe the device, and the unassigned
// list shows them. REQUIRES: inside a write transaction of `db`.
void release_device(connection& db, const std::string& device_id);

}  // namespace aterm::cloud::store_sql
