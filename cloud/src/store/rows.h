// Rows that both ports on the store's database read (the store, sql_store.cpp, and the jobs'
// lifecycle port, lifecycle_store.cpp), in statement text both dialects run: accounts and
// technician logins, and the JSON-array columns (permission lists, IP allowlists, password
// history). Plain functions; thread-safe. Readers throw nothing.
#pragma once

#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;
using sql::query;

// A JSON array of strings as stored; from_json_array answers [] for a column that is not one
// and skips items that are not strings.
std::string to_json_array(const std::vector<std::string>& items);
std::vector<std::string> from_json_array(const std::string& text);

// "SELECT <columns> FROM accounts a JOIN roles r ... " (a trailing space; add WHERE/ORDER BY).
extern const std::string k_account_select;
account read_account(const query& q);

// "SELECT <columns> FROM technician_logins " (a trailing space).
extern const std::string k_login_select;
technician_login read_login(const query& q);

// Commits `c` as a queued command of the company created at `now_s` (the outbox publishes it
// through a claim); answers its generated id ("c-" + hex). REQUIRES: inside a write transaction.
std::string insert_queued_command(connection& db, const std::string& company_id,
                                  const new_command& c, std::int64_t now_s);

// The claims' statements (store_port.h, claim_due and claim_for_online), each answering the
// columns claim_locked reads: c.id, c.device_id, c.op, c.args_json, c.deadline_s,
// d.online_epoch.
// A command's own claim, of one router's due commands. Binds: the device id, now_s, the limit.
extern const std::string k_claim_due_select;
// The sweep's candidates: the ids (only) of claimable commands of online routers, oldest first.
// Binds: now_s, stale_before_ms, the claiming instance (or NULL), the limit.
std::string claim_candidates_sql(sql::dialect dialect);
// One candidate again, in the write transaction. Binds: the command id, then as the candidates'
// statement without the limit.
extern const std::string k_claim_recheck_select;

}  // namespace aterm::cloud::store_sql
