// The lifecycle port (jobs/lifecycle_port.h) on the store's database, written once against the
// SQL seam like the store: the store's schema, its connection pool when opened on a store, and
// the access-log append of audit_chain.h in the same transaction as each action.
#include "aterm/cloud/jobs/lifecycle_port.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "audit_rows.h"
#include "device_rows.h"
#include "engine.h"
#include "rows.h"
#include "sql/sql.h"
#include "sql/transactions.h"
#include "technician_rows.h"

namespace aterm::cloud::jobs {

namespace {

using sql::query;
using store_sql::read_account;
using store_sql::read_audit;
using store_sql::read_login;

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

std::string company_or_platform(const std::string& company_id) {
  return company_id.empty() ? std::string(k_platform_company) : company_id;
}

std::string utc_ms(std::int64_t ms) {
  return common::format_utc(common::from_unix_ms(ms));
}

class lifecycle_store final : public lifecycle_port {
 public:
  lifecycle_store(std::shared_ptr<sql::connection_pool> pool, store_sql::audit_sealing sealing)
      : tx_(std::move(pool), "jobs"), sealing_(std::move(sealing)) {}

  // Appends the key start when the chain is not yet under the key (audit_rows.h).
  status start_keyed_chain(std::int64_t now_ms) {
    if (!sealing_.key) return {};
    return tx_.write_status("start_keyed_chain", [&]() -> result<bool> {
      return store_sql::start_keyed_chain(*db_, sealing_, now_ms);
    });
  }

  // ---- accounts ----

  result<std::vector<account>> all_accounts() override {
    return tx_.read<std::vector<account>>("all_accounts", [&]() -> result<std::vector<account>> {
      std::vector<account> out;
      auto q = db_->prepare(store_sql::k_account_select + "ORDER BY a.company_id, a.login_id");
      while (q.step()) out.push_back(read_account(q));
      return out;
    });
  }

  status record_reminder(const account& a, const std::optional<mail_message>& reminder,
                         std::int64_t now_s) override {
    return tx_.write_status("record_reminder", [&]() -> result<bool> {
      int n = db_->prepare(
                     "UPDATE accounts SET reminder_sent_at_s = ? WHERE id = ? AND company_id = ? "
                     "AND reminder_sent_at_s IS NULL AND lock_reason IN ('none', 'failed_logins') "
                     "AND COALESCE(last_login_at_s, -1) = ?")
                  .bind(now_s)
                  .bind(a.id)
                  .bind(a.company_id)
                  .bind(a.last_login_at_s.value_or(-1))
                  .exec();
      if (n == 0) return fail(k_conflict, "account " + a.login_id + " changed");
      if (reminder) enqueue_locked(*reminder, now_s);
      store_sql::append_audit_record(
          *db_, sealing_,
          {a.company_id, "system", "account.inactivity_reminder", a.login_id, "success",
           reminder ? "mail queued" : "no mail address", ""},
          now_s * 1000);
      return true;
    });
  }

  result<std::optional<std::int64_t>> last_missing_email_notice(
      const std::string& company_id) override {
    using answer = std::optional<std::int64_t>;
    return tx_.read<answer>("last_missing_email_notice", [&]() -> result<answer> {
      auto q = db_->prepare(
          "SELECT max(ts_ms) FROM audit_log WHERE action = 'account.missing_email_notice' AND "
          "company_id = ?");
      q.bind(company_id);
      if (!q.step() || q.is_null(0)) return answer{};
      return answer{q.i64(0) / 1000};
    });
  }

  status record_missing_email_notice(const std::string& company_id,
                                     const std::vector<mail_message>& notices,
                                     const std::string& detail, std::int64_t now_s) override {
    return tx_.write_status("record_missing_email_notice", [&]() -> result<bool> {
      for (const auto& m : notices) enqueue_locked(m, now_s);
      store_sql::append_audit_record(
          *db_, sealing_,
          {company_id, "system", "account.missing_email_notice", company_id, "success", detail, ""},
          now_s * 1000);
      return true;
    });
  }

  status lock_inactive(const account& a, const std::optional<mail_message>& notice,
                       std::int64_t now_s) override {
    return tx_.write_status("lock_inactive", [&]() -> result<bool> {
      int n = db_->prepare(
                     "UPDATE accounts SET lock_reason = 'inactivity', locked_until_s = NULL, "
                     "locked_at_s = ? WHERE id = ? AND company_id = ? AND reminder_sent_at_s = ? "
                     "AND lock_reason IN ('none', 'failed_logins')")
                  .bind(now_s)
                  .bind(a.id)
                  .bind(a.company_id)
                  .bind(a.reminder_sent_at_s.value_or(-1))
                  .exec();
      if (n == 0) return fail(k_conflict, "account " + a.login_id + " changed");
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(a.id).exec();
      if (notice) enqueue_locked(*notice, now_s);
      store_sql::append_audit_record(*db_, sealing_,
                                     {a.company_id, "system", "account.inactivity_lock", a.login_id,
                                      "success", notice ? "mail queued" : "no mail address", ""},
                                     now_s * 1000);
      return true;
    });
  }

  status delete_inactive(const account& a, std::int64_t now_s) override {
    return tx_.write_status("delete_inactive", [&]() -> result<bool> {
      int n = db_->prepare(
                     "DELETE FROM accounts WHERE id = ? AND company_id = ? "
                     "AND lock_reason = 'inactivity'")
                  .bind(a.id)
                  .bind(a.company_id)
                  .exec();
      if (n == 0) return fail(k_conflict, "account " + a.login_id + " changed");
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(a.id).exec();
      store_sql::append_audit_record(
          *db_, sealing_,
          {a.company_id, "system", "account.inactivity_delete", a.login_id, "success", "", ""},
          now_s * 1000);
      return true;
    });
  }

  // ---- devices ----

  result<std::vector<stale_device>> stale_devices(std::int64_t before_ms) override {
    return tx_.read<std::vector<stale_device>>(
        "stale_devices", [&]() -> result<std::vector<stale_device>> {
          std::vector<stale_device> out;
          auto q = db_->prepare(
              "SELECT d.id, COALESCE(d.company_id, ''), d.last_seen_ms, d.presence FROM devices d "
              "WHERE d.last_seen_ms < ? AND (d.company_id IS NULL OR d.company_id = '' "
              "OR d.state_json IS NOT NULL "
              "OR EXISTS (SELECT 1 FROM state_history h WHERE h.device_id = d.id) "
              "OR EXISTS (SELECT 1 FROM commands c WHERE c.device_id = d.id) "
              "OR EXISTS (SELECT 1 FROM technician_logins t WHERE t.device_id = d.id)) "
              "ORDER BY d.id");
          q.bind(before_ms);
          while (q.step()) {
            out.push_back({q.text(0), q.text(1), q.i64(2), q.text(3) == "online"});
          }
          return out;
        });
  }

  status delete_device_data(const std::string& device_id, std::int64_t before_ms,
                            std::int64_t now_s) override {
    return tx_.write_status("delete_device_data", [&]() -> result<bool> {
      auto q = db_->prepare(
          "SELECT COALESCE(company_id, ''), last_seen_ms FROM devices WHERE id = ? "
          "AND last_seen_ms < ?");
      q.bind(device_id).bind(before_ms);
      if (!q.step()) return fail(k_conflict, "device " + device_id + " was heard from");
      std::string company_id = q.text(0);
      std::int64_t last_seen_ms = q.i64(1);
      delete_device_data_locked(device_id, company_id.empty());
      store_sql::append_audit_record(
          *db_, sealing_,
          {company_or_platform(company_id), "system", "device.data_delete", device_id, "success",
           "last_seen=" + utc_ms(last_seen_ms), ""},
          now_s * 1000);
      return true;
    });
  }

  // ---- technician logins ----

  result<std::vector<technician_login>> expired_technician_logins(std::int64_t issued_before_s,
                                                                  std::int64_t now_s) override {
    return tx_.read<std::vector<technician_login>>(
        "expired_technician_logins", [&]() -> result<std::vector<technician_login>> {
          std::vector<technician_login> out;
          auto q = db_->prepare(store_sql::k_login_select +
                                "WHERE issued_at_s <= ? AND expires_at_s <= ? ORDER BY login_id");
          q.bind(issued_before_s).bind(now_s);
          while (q.step()) out.push_back(read_login(q));
          return out;
        });
  }

  status delete_technician_login(const technician_login& t, std::int64_t now_s) override {
    return tx_.write_status("delete_technician_login", [&]() -> result<bool> {
      int n = db_->prepare("DELETE FROM technician_logins WHERE login_id = ? AND company_id = ?")
                  .bind(t.login_id)
                  .bind(t.company_id)
                  .exec();
      if (n == 0) return fail(k_not_found, "technician login " + t.login_id + " is gone");
      store_sql::bury_technician_login_locked(*db_, t, now_s * 1000);
      store_sql::append_audit_record(*db_, sealing_,
                                     {t.company_id, "system", "technician_login.delete", t.login_id,
                                      "success", "device=" + t.device_id, ""},
                                     now_s * 1000);
      return true;
    });
  }

  // ---- access log ----

  result<std::int64_t> audit_purge_candidates(std::int64_t before_ms) override {
    return tx_.read<std::int64_t>("audit_purge_candidates", [&]() -> result<std::int64_t> {
      return purge_count_locked(first_kept_locked(before_ms));
    });
  }

  result<audit_purge_outcome> purge_audit(std::int64_t before_ms, std::int64_t now_ms) override {
    return tx_.write<audit_purge_outcome>("purge_audit", [&]() -> result<audit_purge_outcome> {
      audit_purge_outcome out;
      // A purged login's reports are attributed while its issue is still in the access log.
      store_sql::purge_technician_tombstones_locked(*db_, before_ms);
      auto first_kept = first_kept_locked(before_ms);
      std::int64_t n = purge_count_locked(first_kept);
      if (n == 0) return out;
      audit_head head = store_sql::read_audit_head(*db_);
      auto start = sealing_.chain->purge(first_kept, head, now_ms);
      audit_record& r = start.checkpoint;
      audit_head next = sealing_.chain->seal(r, head, sealing_.key_or_null());
      store_sql::insert_audit_record(*db_, r);
      db_->prepare("UPDATE audit_head SET seq = ?, hash = ?, purge_before = ? WHERE id = 1")
          .bind(next.seq)
          .bind(next.hash)
          .bind(start.start_seq)
          .exec();
      out.deleted =
          db_->prepare("DELETE FROM audit_log WHERE seq < ?").bind(start.start_seq).exec();
      out.start_seq = start.start_seq;
      out.checkpoint_seq = r.seq;
      return out;
    });
  }

  // ---- mail outbox retention ----

  result<std::int64_t> sent_mail_purge_candidates(std::int64_t sent_until_s) override {
    return tx_.read<std::int64_t>("sent_mail_purge_candidates", [&]() -> result<std::int64_t> {
      auto q = db_->prepare(
          "SELECT (SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL AND sent_at_s <= "
          "?) "
          "+ (SELECT count(*) FROM webhook_outbox WHERE sent_at_s IS NOT NULL AND sent_at_s <= ?)");
      q.bind(sent_until_s).bind(sent_until_s);
      q.step();
      return q.i64(0);
    });
  }

  result<std::int64_t> purge_sent_mail(std::int64_t sent_until_s, std::int64_t now_s) override {
    return tx_.write<std::int64_t>("purge_sent_mail", [&]() -> result<std::int64_t> {
      std::int64_t n =
          db_->prepare("DELETE FROM mail_outbox WHERE sent_at_s IS NOT NULL AND sent_at_s <= ?")
              .bind(sent_until_s)
              .exec();
      // A delivered webhook event is outgoing mail of another kind: same retention.
      n += db_->prepare("DELETE FROM webhook_outbox WHERE sent_at_s IS NOT NULL AND sent_at_s <= ?")
               .bind(sent_until_s)
               .exec();
      if (n == 0) return n;
      store_sql::append_audit_record(
          *db_, sealing_,
          {std::string(k_platform_company), "system", "mail.purge", "mail_outbox", "success",
           "records=" + std::to_string(n) + " sent_until=" + utc_ms(sent_until_s * 1000), ""},
          now_s * 1000);
      return n;
    });
  }

  // ---- contract end ----

  result<std::vector<company>> ended_companies(std::int64_t now_s) override {
    return tx_.read<std::vector<company>>("ended_companies", [&]() -> result<std::vector<company>> {
      std::vector<company> out;
      auto q = db_->prepare(
          "SELECT id, name, contract_end_s, created_at_s FROM companies "
          "WHERE contract_end_s IS NOT NULL AND contract_end_s <= ? AND id != ? ORDER BY id");
      q.bind(now_s).bind(k_platform_company);
      while (q.step()) {
        company c;
        c.id = q.text(0);
        c.name = q.text(1);
        c.settings.contract_end_s = q.opt_i64(2);
        c.created_at_s = q.i64(3);
        out.push_back(std::move(c));
      }
      return out;
    });
  }

  result<std::vector<device>> company_devices(const std::string& company_id) override {
    return tx_.read<std::vector<device>>("company_devices", [&]() -> result<std::vector<device>> {
      std::vector<device> out;
      auto q = db_->prepare(
          "SELECT id, presence, last_seen_ms FROM devices WHERE company_id = ? ORDER BY id");
      q.bind(company_id);
      while (q.step()) {
        device d;
        d.id = q.text(0);
        d.company_id = company_id;
        d.presence = q.text(1) == "online" ? presence_state::online : presence_state::offline;
        d.last_seen_ms = q.opt_i64(2);
        out.push_back(std::move(d));
      }
      return out;
    });
  }

  result<contract_end_outcome> end_contract(const std::string& company_id,
                                            std::int64_t disconnected_before_ms,
                                            std::int64_t now_s) override {
    if (company_id == k_platform_company) return fail(k_invalid, "the platform has no contract");
    return tx_.write<contract_end_outcome>("end_contract", [&]() -> result<contract_end_outcome> {
      contract_end_outcome out;
      auto exists = db_->prepare("SELECT 1 FROM companies WHERE id = ?");
      exists.bind(company_id);
      if (!exists.step()) return fail(k_not_found, "no such company");
      {
        auto q =
            db_->prepare("SELECT login_id FROM accounts WHERE company_id = ? ORDER BY login_id");
        q.bind(company_id);
        while (q.step()) out.accounts.push_back(q.text(0));
      }
      out.sessions = static_cast<std::size_t>(
          db_->prepare("DELETE FROM sessions WHERE company_id = ?").bind(company_id).exec());
      db_->prepare("DELETE FROM accounts WHERE company_id = ?").bind(company_id).exec();
      out.roles = static_cast<std::size_t>(
          db_->prepare("DELETE FROM roles WHERE company_id = ?").bind(company_id).exec());
      std::vector<std::pair<std::string, bool>> devices;  // id, deleted
      {
        auto q = db_->prepare(
            "SELECT id, presence, last_seen_ms FROM devices WHERE company_id = ? ORDER BY id");
        q.bind(company_id);
        while (q.step()) {
          bool online = q.text(1) == "online";
          auto seen = q.opt_i64(2);
          devices.emplace_back(q.text(0), !online && seen.value_or(0) < disconnected_before_ms);
        }
      }
      db_->prepare("DELETE FROM commands WHERE company_id = ?").bind(company_id).exec();
      db_->prepare("DELETE FROM technician_logins WHERE company_id = ?").bind(company_id).exec();
      db_->prepare("DELETE FROM technician_login_tombstones WHERE company_id = ?")
          .bind(company_id)
          .exec();
      for (const auto& [id, gone] : devices) {
        if (gone) {
          delete_device_data_locked(id, true);
          out.devices_deleted.push_back(id);
        } else {
          // Still connected: it stays as an unassigned device, without this tenancy's data.
          store_sql::release_device(*db_, id);
          out.devices_unassigned.push_back(id);
        }
      }
      db_->prepare("DELETE FROM device_claim_failures WHERE company_id = ?")
          .bind(company_id)
          .exec();
      // The alerts' rows: alarms, rules, channels (mail addresses by account, webhook URLs) and
      // their undelivered events; the fleet jobs with their routers, and the tags.
      db_->prepare(
             "DELETE FROM webhook_outbox WHERE channel_id IN "
             "(SELECT id FROM notification_channels WHERE company_id = ?)")
          .bind(company_id)
          .exec();
      for (const char* table : {"notification_channels", "alert_rules", "alarms",
                                "fleet_job_devices", "fleet_jobs", "device_tags"}) {
        db_->prepare(std::string("DELETE FROM ") + table + " WHERE company_id = ?")
            .bind(company_id)
            .exec();
      }
      out.destinations = static_cast<std::size_t>(
          db_->prepare("DELETE FROM destinations WHERE company_id = ?").bind(company_id).exec());
      db_->prepare("DELETE FROM companies WHERE id = ?").bind(company_id).exec();
      store_sql::append_audit_record(
          *db_, sealing_,
          {company_id, "system", "company.contract_end", company_id, "success",
           "accounts=" + std::to_string(out.accounts.size()) +
               " destinations=" + std::to_string(out.destinations) +
               " devices_unassigned=" + std::to_string(out.devices_unassigned.size()) +
               " devices_deleted=" + std::to_string(out.devices_deleted.size()),
           ""},
          now_s * 1000);
      return out;
    });
  }

  status append_audit(const audit_entry& e, std::int64_t now_ms) override {
    return tx_.write_status("append_audit", [&]() -> result<bool> {
      store_sql::append_audit_record(*db_, sealing_, e, now_ms);
      return true;
    });
  }

  // ---- mail::outbox_port ----

  result<std::vector<mail_message>> due_mail(std::int64_t now_s, std::int64_t max_attempts,
                                             std::size_t limit) override {
    return tx_.read<std::vector<mail_message>>(
        "due_mail", [&]() -> result<std::vector<mail_message>> {
          std::vector<mail_message> out;
          auto q = db_->prepare(
              "SELECT id, recipient, subject, body, created_at_s, sent_at_s, attempts, "
              "next_attempt_s, last_error FROM mail_outbox WHERE sent_at_s IS NULL "
              "AND next_attempt_s <= ? AND attempts < ? ORDER BY id LIMIT ?");
          q.bind(now_s).bind(max_attempts).bind(limit);
          while (q.step()) {
            out.push_back({q.i64(0), q.text(1), q.text(2), q.text(3), q.i64(4), q.opt_i64(5),
                           q.i64(6), q.i64(7), q.text(8)});
          }
          return out;
        });
  }

  status mark_mail_sent(std::int64_t id, std::int64_t now_s) override {
    return tx_.write_status("mark_mail_sent", [&]() -> result<bool> {
      db_->prepare("UPDATE mail_outbox SET sent_at_s = ?, attempts = attempts + 1 WHERE id = ?")
          .bind(now_s)
          .bind(id)
          .exec();
      return true;
    });
  }

  status forget_mail_body(std::int64_t id) override {
    return tx_.write_status("forget_mail_body", [&]() -> result<bool> {
      db_->prepare("UPDATE mail_outbox SET body = '' WHERE id = ?").bind(id).exec();
      return true;
    });
  }

  status mark_mail_failed(std::int64_t id, const std::string& error,
                          std::int64_t next_attempt_s) override {
    return tx_.write_status("mark_mail_failed", [&]() -> result<bool> {
      db_->prepare(
             "UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, "
             "next_attempt_s = ? WHERE id = ?")
          .bind(error)
          .bind(next_attempt_s)
          .bind(id)
          .exec();
      return true;
    });
  }

 private:
  // A new message is due at once (next_attempt_s 0), also when the sweep ran "as of" a later
  // time than the outbox worker's clock.
  void enqueue_locked(const mail_message& m, std::int64_t now_s) {
    db_->prepare(
           "INSERT INTO mail_outbox(recipient, subject, body, created_at_s, next_attempt_s) "
           "VALUES(?, ?, ?, ?, 0)")
        .bind(m.to)
        .bind(m.subject)
        .bind(m.body)
        .bind(now_s)
        .exec();
  }

  void delete_device_data_locked(const std::string& device_id, bool remove_row) {
    db_->prepare("DELETE FROM state_history WHERE device_id = ?").bind(device_id).exec();
    db_->prepare("DELETE FROM commands WHERE device_id = ?").bind(device_id).exec();
    db_->prepare("DELETE FROM technician_logins WHERE device_id = ?").bind(device_id).exec();
    db_->prepare("DELETE FROM technician_login_tombstones WHERE device_id = ?")
        .bind(device_id)
        .exec();
    if (remove_row) {
      db_->prepare("DELETE FROM devices WHERE id = ?").bind(device_id).exec();
      return;
    }
    db_->prepare(
           "UPDATE devices SET state_json = NULL, state_received_ms = NULL, "
           "presence = 'unknown', agent_version = '', first_seen_ms = NULL WHERE id = ?")
        .bind(device_id)
        .exec();
  }

  std::optional<audit_record> first_kept_locked(std::int64_t before_ms) {
    auto q = db_->prepare(store_sql::k_audit_select + "WHERE ts_ms >= ? ORDER BY seq LIMIT 1");
    q.bind(before_ms);
    if (!q.step()) return std::nullopt;
    return read_audit(q);
  }

  std::int64_t purge_count_locked(const std::optional<audit_record>& first_kept) {
    auto q = first_kept ? db_->prepare("SELECT count(*) FROM audit_log WHERE seq < ?")
                        : db_->prepare("SELECT count(*) FROM audit_log WHERE seq >= ?");
    q.bind(first_kept ? first_kept->seq : std::int64_t{0});
    q.step();
    return q.i64(0);
  }

  status rotate_audit_key(const std::string& new_key_id, std::int64_t now_ms) override {
    if (!sealing_.key) return fail(k_invalid, "no audit key to rotate from");
    return tx_.write_status("rotate_audit_key", [&]() -> result<bool> {
      store_sql::append_key_rotation(*db_, sealing_, new_key_id, now_ms);
      return true;
    });
  }

  result<audit_head> audit_head_now() override {
    return tx_.read<audit_head>(
        "audit_head_now", [&]() -> result<audit_head> { return store_sql::read_audit_head(*db_); });
  }

  sql::transactions tx_;
  sql::current_connection db_{tx_};  // used only inside tx_'s transactions
  store_sql::audit_sealing sealing_;
};

result<std::unique_ptr<lifecycle_port>> open_on_pool(std::shared_ptr<sql::connection_pool> pool,
                                                     store_sql::audit_sealing sealing) {
  if (!sealing.chain) return fail(k_invalid, "the store needs the access log's rule");
  auto port = std::make_unique<lifecycle_store>(std::move(pool), std::move(sealing));
  if (auto st = port->start_keyed_chain(common::system_clock::instance().now_ms()); !st.ok()) {
    return st;
  }
  return std::unique_ptr<lifecycle_port>(std::move(port));
}

}  // namespace

result<std::unique_ptr<lifecycle_port>> open_lifecycle_store(const store_options& options) {
  if (!options.rules.audit_chain) return fail(k_invalid, "the store needs the access log's rule");
  auto pool = store_sql::open_pool(options);
  if (!pool.ok()) return pool.error();
  return open_on_pool(std::move(pool).value(), {options.rules.audit_chain, options.audit_key});
}

result<std::unique_ptr<lifecycle_port>> open_lifecycle_store(store& shared,
                                                             std::optional<secret_key> audit_key) {
  const auto* on_pool = dynamic_cast<const store_sql::shared_pool*>(&shared);
  if (on_pool == nullptr) return fail(k_invalid, "the store shares no connection pool");
  return open_on_pool(on_pool->pool(), {on_pool->audit_chain(), std::move(audit_key)});
}

}  // namespace aterm::cloud::jobs
