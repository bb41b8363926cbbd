#include "aterm/common/command_table.h"
#include "aterm/common/json.h"
#include "rows.h"
#include "technician_rows.h"

namespace aterm::cloud::store_sql {

namespace {

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

std::string secret_op() {
  return std::string(to_string(common::commands::op_id::technician_login_secret));
}

}  // namespace

bool queue_technician_secret_locked(sql::connection& db, const technician_secret_rule& rule,
                                    const std::string& device_id, std::int64_t now_s) {
  if (rule.key_id.empty() || !rule.command) return false;
  auto d = db.prepare("SELECT company_id, technician_secret_key_id FROM devices WHERE id = ?");
  d.bind(device_id);
  if (!d.step() || d.is_null(0) || d.text(0).empty()) return false;
  if (d.text(1) == rule.key_id) return false;
  const std::string company_id = d.text(0);
  // A pending one reaches the router when it next connects: a second would only repeat it.
  auto pending = db.prepare(
      "SELECT 1 FROM commands WHERE device_id = ? AND op = ? "
      "AND status IN ('queued', 'sent') AND deadline_s > ?");
  pending.bind(device_id).bind(secret_op()).bind(now_s);
  if (pending.step()) return false;
  insert_queued_command(db, company_id, rule.command(device_id, now_s), now_s);
  return true;
}

void confirm_technician_secret_locked(sql::connection& db, const std::string& device_id,
                                      const std::string& op, const std::string& command_id) {
  if (op != secret_op()) return;
  auto stored = db.prepare("SELECT args_json FROM commands WHERE id = ? AND device_id = ?");
  stored.bind(command_id).bind(device_id);
  if (!stored.step()) return;
  auto args = common::parse_json(stored.text(0));
  if (!args.ok()) return;
  const auto key_id = common::json_string(args->get(), "key_id");
  if (!key_id || key_id->empty()) return;
  db.prepare("UPDATE devices SET technician_secret_key_id = ? WHERE id = ?")
      .bind(*key_id)
      .bind(device_id)
      .exec();
}

result<std::string> technician_secret_key_id_locked(sql::connection& db,
                                                    const std::string& company_id,
                                                    const std::string& device_id) {
  auto q =
      db.prepare("SELECT technician_secret_key_id FROM devices WHERE id = ? AND company_id = ?");
  q.bind(device_id).bind(company_id);
  if (!q.step()) return fail(k_not_found, "no such device");
  return q.text(0);
}

std::optional<std::string> technician_tombstone_locked(sql::connection& db,
                                                       const std::string& company_id,
                                                       const std::string& device_id,
                                                       const std::string& login_id) {
  auto q = db.prepare(
      "SELECT technician_name FROM technician_login_tombstones "
      "WHERE company_id = ? AND device_id = ? AND login_id = ?");
  q.bind(company_id).bind(device_id).bind(login_id);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

void bury_technician_login_locked(sql::connection& db, const technician_login& t,
                                  std::int64_t now_ms) {
  db.prepare(
        "INSERT INTO technician_login_tombstones(company_id, device_id, login_id, "
        "technician_name, deleted_at_ms) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(company_id, device_id, login_id) DO UPDATE SET "
        "technician_name = excluded.technician_name, deleted_at_ms = excluded.deleted_at_ms")
      .bind(t.company_id)
      .bind(t.device_id)
      .bind(t.login_id)
      .bind(t.technician_name)
      .bind(now_ms)
      .exec();
}

void bury_technician_logins_locked(sql::connection& db, std::int64_t issued_before_s,
                                   std::int64_t now_ms) {
  db.prepare(
        "INSERT INTO technician_login_tombstones(company_id, device_id, login_id, "
        "technician_name, deleted_at_ms) "
        "SELECT company_id, device_id, login_id, technician_name, ? FROM technician_logins "
        "WHERE issued_at_s <= ? "
        "ON CONFLICT(company_id, device_id, login_id) DO UPDATE SET "
        "technician_name = excluded.technician_name, deleted_at_ms = excluded.deleted_at_ms")
      .bind(now_ms)
      .bind(issued_before_s)
      .exec();
}

void purge_technician_tombstones_locked(sql::connection& db, std::int64_t before_ms) {
  db.prepare("DELETE FROM technician_login_tombstones WHERE deleted_at_ms < ?")
      .bind(before_ms)
      .exec();
}

status check_technician_mail(const mail_message& m) {
  if (m.to.empty() || m.subject.empty() || m.body.empty()) {
    return fail(k_invalid, "the technician's mail needs a recipient, a subject and a body");
  }
  return {};
}

}  // namespace aterm::cloud::store_sql
