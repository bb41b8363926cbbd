#include "rows.h"

#include "aterm/cloud/limits.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"

namespace aterm::cloud::store_sql {

std::string to_json_array(const std::vector<std::string>& items) {
  common::json_ptr arr(cJSON_CreateArray());
  for (const auto& s : items) cJSON_AddItemToArray(arr.get(), cJSON_CreateString(s.c_str()));
  return common::print_json(arr.get());
}

std::vector<std::string> from_json_array(const std::string& text) {
  std::vector<std::string> out;
  auto parsed = common::parse_json(text, {limits::k_max_json_column, 4});
  if (!parsed.ok() || !cJSON_IsArray(parsed->get())) return out;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, parsed->get()) {
    if (cJSON_IsString(item)) out.emplace_back(item->valuestring);
  }
  return out;
}

const std::string k_login_select =
    "SELECT login_id, company_id, device_id, salt_hex, iterations, hash_hex, issued_at_s, "
    "expires_at_s, status, failed_count, install_command_id, created_by, technician_name "
    "FROM technician_logins ";

technician_login read_login(const query& q) {
  technician_login t;
  t.login_id = q.text(0);
  t.company_id = q.text(1);
  t.device_id = q.text(2);
  t.salt_hex = q.text(3);
  t.iterations = q.i64(4);
  t.hash_hex = q.text(5);
  t.issued_at_s = q.i64(6);
  t.expires_at_s = q.i64(7);
  t.status = parse_technician_login_status(q.text(8)).value_or(technician_login_status::revoked);
  t.failed_count = q.i64(9);
  t.install_command_id = q.text(10);
  t.created_by = q.text(11);
  t.technician_name = q.text(12);
  return t;
}

const std::string k_account_select =
    "SELECT a.id, a.company_id, a.login_id, a.email, a.role_id, r.name, a.password_hash, "
    "a.password_history, a.failed_count, a.locked_until_s, a.lock_reason, a.last_login_at_s, "
    "a.created_at_s, a.reminder_sent_at_s, a.locked_at_s, a.password_change_required "
    "FROM accounts a JOIN roles r ON r.id = a.role_id ";

account read_account(const query& q) {
  account a;
  a.id = q.i64(0);
  a.company_id = q.text(1);
  a.login_id = q.text(2);
  a.email = q.text(3);
  a.role_id = q.i64(4);
  a.role_name = q.text(5);
  a.password_hash = q.text(6);
  a.password_history = from_json_array(q.text(7));
  a.failed_count = q.i64(8);
  a.locked_until_s = q.opt_i64(9);
  a.locked = parse_lock_reason(q.text(10)).value_or(lock_reason::administrator);
  a.last_login_at_s = q.opt_i64(11);
  a.created_at_s = q.i64(12);
  a.reminder_sent_at_s = q.opt_i64(13);
  a.locked_at_s = q.opt_i64(14);
  a.password_change_required = q.i64(15) != 0;
  return a;
}

std::string insert_queued_command(connection& db, const std::string& company_id,
                                  const new_command& c, std::int64_t now_s) {
  std::string id =
      "c-" + common::crypto::to_hex(common::crypto::random_bytes(limits::k_command_id_bytes));
  db.prepare(
        "INSERT INTO commands(id, company_id, device_id, op, args_json, status, created_at_s, "
        "deadline_s, created_by) VALUES(?, ?, ?, ?, ?, 'queued', ?, ?, ?)")
      .bind(id)
      .bind(company_id)
      .bind(c.device_id)
      .bind(c.op)
      .bind(c.args_json)
      .bind(now_s)
      .bind(c.deadline_s)
      .bind(c.created_by)
      .exec();
  return id;
}

namespace {

// What a claim reads of a command and its router (both claim selects; read by the claim's
// caller in this order).
const std::string k_claim_columns =
    "SELECT c.id, c.device_id, c.op, c.args_json, c.deadline_s, d.online_epoch ";

// A claimable command of an online router: queued, or sent in an earlier connection of its
// router, or claimed before stale_before_ms (an instance that died), or claimed by this one.
const std::string k_claimable =
    "c.status IN ('queued', 'sent') AND c.deadline_s > ? "
    "AND d.presence = 'online' "
    "AND (c.status = 'queued' OR c.claim_epoch < d.online_epoch "
    "OR COALESCE(c.claimed_at_ms, 0) <= ? OR c.claimed_by = ?) ";

}  // namespace

// The router first (CROSS JOIN keeps SQLite's order; PostgreSQL plans it as any join): an offline
// router ends the query at once. Then the router's own open commands: "+ 0" keeps SQLite off
// commands_open (status, deadline_s), which it preferred to commands_device (device_id, status)
// and which walks every open command of every router, 20,000 queued ones in bench_api, at every
// command for an online router (the plan test in store_test.cpp).
const std::string k_claim_due_select =
    k_claim_columns +
    "FROM devices d CROSS JOIN commands c "
    "WHERE d.id = ? AND c.device_id = d.id AND d.presence = 'online' "
    "AND c.status IN ('queued', 'sent') AND c.deadline_s + 0 > ? "
    "AND (c.status = 'queued' OR c.claim_epoch < d.online_epoch) "
    "ORDER BY c.seq LIMIT ?";

std::string claim_candidates_sql(sql::dialect dialect) {
  // PostgreSQL: the candidates first, then their order. Given ORDER BY c.seq LIMIT on the join
  // itself, its planner walks commands_seq and looks up the router of every open command (about
  // 50 ms for 20,000 queued for offline routers in bench_api); materialized, it hashes the online
  // routers (devices_online, schema 18) and reads the open commands once (about 10 ms). SQLite
  // has no hash join: the walk in seq order is its plan either way, and it stops at `limit`
  // candidates.
  if (dialect == sql::dialect::postgres) {
    return "WITH m AS MATERIALIZED (SELECT c.id, c.seq FROM commands c "
           "JOIN devices d ON d.id = c.device_id WHERE " +
           k_claimable + ") SELECT id FROM m ORDER BY seq LIMIT ?";
  }
  return "SELECT c.id FROM commands c JOIN devices d ON d.id = c.device_id WHERE " + k_claimable +
         "ORDER BY c.seq LIMIT ?";
}

const std::string k_claim_recheck_select =
    k_claim_columns + "FROM commands c JOIN devices d ON d.id = c.device_id WHERE c.id = ? AND " +
    k_claimable;

}  // namespace aterm::cloud::store_sql
