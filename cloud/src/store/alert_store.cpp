// The alerts' port (alerts/alert_port.h) on the store's database, written once against the SQL
// seam like the store and on its connection pool, so a route's operation and its access-log
// record commit together with what it changed here.
#include <algorithm>

#include "aterm/cloud/alerts/alert_port.h"
#include "aterm/cloud/alerts/limits.h"
#include "aterm/cloud/store.h"
#include "engine.h"
#include "rows.h"
#include "sql/sql.h"
#include "sql/transactions.h"

namespace aterm::cloud::alerts {

namespace {

using common::result;
using common::status;
using sql::query;

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

std::int64_t returned_id(query& q) {
  q.step();
  return q.i64(0);
}

const std::string k_alarm_select =
    "SELECT id, company_id, kind, device_id, detail, created_at_s, acknowledged_at_s, "
    "acknowledged_by, ack_comment, cleared_at_s FROM alarms ";

alarm_record read_alarm(const query& q) {
  return {q.i64(0), q.text(1),    q.text(2), q.text(3), q.text(4),
          q.i64(5), q.opt_i64(6), q.text(7), q.text(8), q.opt_i64(9)};
}

const std::string k_channel_select =
    "SELECT id, company_id, kind, account_ids, url, salt, created_at_s, failing_since_s, "
    "disabled_at_s FROM notification_channels ";

channel read_channel(const query& q) {
  channel c;
  c.id = q.i64(0);
  c.company_id = q.text(1);
  c.kind = parse_channel_kind(q.text(2)).value_or(channel_kind::email);
  for (const auto& id : store_sql::from_json_array(q.text(3))) {
    c.account_ids.push_back(std::stoll(id));
  }
  c.url = q.text(4);
  c.salt = q.text(5);
  c.created_at_s = q.i64(6);
  c.failing_since_s = q.opt_i64(7);
  c.disabled_at_s = q.opt_i64(8);
  return c;
}

class alert_store final : public alert_port {
 public:
  explicit alert_store(std::shared_ptr<sql::connection_pool> pool)
      : tx_(std::move(pool), "alerts") {}

  // ---- rules ----

  result<std::vector<alert_rule>> stored_rules(const std::string& company_id) override {
    return tx_.read<std::vector<alert_rule>>(
        "stored_rules", [&]() -> result<std::vector<alert_rule>> {
          std::vector<alert_rule> out;
          auto q = db_->prepare(
              "SELECT kind, enabled, threshold, window_s FROM alert_rules WHERE company_id = ? "
              "ORDER BY kind");
          q.bind(company_id);
          while (q.step()) {
            auto kind = parse_rule_kind(q.text(0));
            if (!kind) continue;
            out.push_back({*kind, q.i64(1) != 0, q.i64(2), q.i64(3)});
          }
          return out;
        });
  }

  status save_rules(const std::string& company_id, const std::vector<alert_rule>& rules) override {
    return tx_.write_status("save_rules", [&]() -> result<bool> {
      for (const auto& r : rules) {
        db_->prepare("DELETE FROM alert_rules WHERE company_id = ? AND kind = ?")
            .bind(company_id)
            .bind(to_string(r.kind))
            .exec();
        db_->prepare(
               "INSERT INTO alert_rules(company_id, kind, enabled, threshold, window_s) "
               "VALUES(?, ?, ?, ?, ?)")
            .bind(company_id)
            .bind(to_string(r.kind))
            .bind(r.enabled ? 1 : 0)
            .bind(r.threshold)
            .bind(r.window_s)
            .exec();
      }
      return true;
    });
  }

  // ---- alarms ----

  result<std::vector<alarm_record>> active_router_alarms(const std::string& company_id) override {
    return tx_.read<std::vector<alarm_record>>(
        "active_router_alarms", [&]() -> result<std::vector<alarm_record>> {
          std::vector<alarm_record> out;
          auto q = db_->prepare(k_alarm_select +
                                "WHERE company_id = ? AND cleared_at_s IS NULL AND device_id <> '' "
                                "ORDER BY id");
          q.bind(company_id);
          while (q.step()) out.push_back(read_alarm(q));
          return out;
        });
  }

  result<std::optional<alarm_record>> raise_alarm(const alarm_record& a, std::int64_t now_s,
                                                  const notice_of& notice) override {
    using answer = std::optional<alarm_record>;
    return tx_.write<answer>("raise_alarm", [&]() -> result<answer> {
      auto q = db_->prepare(
          "INSERT INTO alarms(company_id, kind, device_id, detail, created_at_s) "
          "VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id");
      q.bind(a.company_id).bind(a.kind).bind(a.device_id).bind(a.detail).bind(now_s);
      if (!q.step()) return answer{};
      alarm_record raised = a;
      raised.id = q.i64(0);
      q.exec();
      raised.created_at_s = now_s;
      raised.acknowledged_at_s.reset();
      raised.cleared_at_s.reset();
      queue_notices_locked(raised, "alarm.raised", now_s, notice);
      return answer{std::move(raised)};
    });
  }

  result<bool> clear_alarm(const std::string& company_id, std::int64_t alarm_id, std::int64_t now_s,
                           const notice_of& notice) override {
    return tx_.write<bool>("clear_alarm", [&]() -> result<bool> {
      int n = db_->prepare(
                     "UPDATE alarms SET cleared_at_s = ? WHERE id = ? AND company_id = ? AND "
                     "cleared_at_s IS NULL")
                  .bind(now_s)
                  .bind(alarm_id)
                  .bind(company_id)
                  .exec();
      if (n == 0) return false;
      auto q = db_->prepare(k_alarm_select + "WHERE id = ?");
      q.bind(alarm_id);
      q.step();
      queue_notices_locked(read_alarm(q), "alarm.cleared", now_s, notice);
      return true;
    });
  }

  result<std::vector<alarm_record>> list_alarms(const std::string& company_id,
                                                const alarm_filter& f) override {
    return tx_.read<std::vector<alarm_record>>(
        "list_alarms", [&]() -> result<std::vector<alarm_record>> {
          std::string where =
              "WHERE company_id = ? AND (? = '' OR kind = ?) AND "
              "(? = '' OR device_id = ?) ";
          if (f.state == alarm_state::open) {
            where += "AND cleared_at_s IS NULL AND acknowledged_at_s IS NULL ";
          } else if (f.state == alarm_state::acknowledged) {
            where += "AND cleared_at_s IS NULL AND acknowledged_at_s IS NOT NULL ";
          } else if (f.state == alarm_state::cleared) {
            where += "AND cleared_at_s IS NOT NULL ";
          }
          auto q = db_->prepare(k_alarm_select + where + "ORDER BY id DESC LIMIT ?");
          q.bind(company_id).bind(f.kind).bind(f.kind).bind(f.device_id).bind(f.device_id);
          q.bind(std::clamp<std::size_t>(f.limit, 1, limits::k_max_alarm_page));
          std::vector<alarm_record> out;
          while (q.step()) out.push_back(read_alarm(q));
          return out;
        });
  }

  result<std::int64_t> count_open_alarms(const std::string& company_id) override {
    return tx_.read<std::int64_t>("count_open_alarms", [&]() -> result<std::int64_t> {
      auto q = db_->prepare(
          "SELECT count(*) FROM alarms WHERE company_id = ? AND cleared_at_s IS NULL AND "
          "acknowledged_at_s IS NULL");
      q.bind(company_id);
      q.step();
      return q.i64(0);
    });
  }

  result<alarm_record> acknowledge_alarm(const std::string& company_id, std::int64_t alarm_id,
                                         const std::string& by, const std::string& comment,
                                         std::int64_t now_s) override {
    return tx_.write<alarm_record>("acknowledge_alarm", [&]() -> result<alarm_record> {
      auto q = db_->prepare(k_alarm_select + "WHERE id = ? AND company_id = ?");
      q.bind(alarm_id).bind(company_id);
      if (!q.step()) return fail(k_not_found, "no such alarm");
      auto a = read_alarm(q);
      if (a.state() != alarm_state::open) {
        return fail(k_conflict, "the alarm is " + std::string(to_string(a.state())));
      }
      db_->prepare(
             "UPDATE alarms SET acknowledged_at_s = ?, acknowledged_by = ?, ack_comment = ? "
             "WHERE id = ?")
          .bind(now_s)
          .bind(by)
          .bind(comment)
          .bind(alarm_id)
          .exec();
      a.acknowledged_at_s = now_s;
      a.acknowledged_by = by;
      a.comment = comment;
      return a;
    });
  }

  // ---- channels ----

  result<channel> create_channel(const channel& c, std::int64_t now_s) override {
    return tx_.write<channel>("create_channel", [&]() -> result<channel> {
      auto n = db_->prepare("SELECT count(*) FROM notification_channels WHERE company_id = ?");
      n.bind(c.company_id);
      n.step();
      if (static_cast<std::size_t>(n.i64(0)) >= limits::k_max_channels) {
        return fail(k_conflict, "the company has " + std::to_string(limits::k_max_channels) +
                                    " channels already");
      }
      std::vector<std::string> ids;
      for (auto id : c.account_ids) {
        auto q = db_->prepare("SELECT 1 FROM accounts WHERE id = ? AND company_id = ?");
        q.bind(id).bind(c.company_id);
        if (!q.step()) return fail(k_not_found, "no such account: " + std::to_string(id));
        ids.push_back(std::to_string(id));
      }
      auto q = db_->prepare(
          "INSERT INTO notification_channels(company_id, kind, account_ids, url, salt, "
          "created_at_s) VALUES(?, ?, ?, ?, ?, ?) RETURNING id");
      q.bind(c.company_id)
          .bind(to_string(c.kind))
          .bind(store_sql::to_json_array(ids))
          .bind(c.url)
          .bind(c.salt)
          .bind(now_s);
      channel out = c;
      out.id = returned_id(q);
      q.exec();
      out.created_at_s = now_s;
      out.failing_since_s.reset();
      out.disabled_at_s.reset();
      return out;
    });
  }

  result<std::vector<channel>> list_channels(const std::string& company_id) override {
    return tx_.read<std::vector<channel>>("list_channels", [&]() -> result<std::vector<channel>> {
      std::vector<channel> out;
      auto q = db_->prepare(k_channel_select + "WHERE company_id = ? ORDER BY id");
      q.bind(company_id);
      while (q.step()) out.push_back(read_channel(q));
      return out;
    });
  }

  status delete_channel(const std::string& company_id, std::int64_t id) override {
    return tx_.write_status("delete_channel", [&]() -> result<bool> {
      int n = db_->prepare("DELETE FROM notification_channels WHERE id = ? AND company_id = ?")
                  .bind(id)
                  .bind(company_id)
                  .exec();
      if (n == 0) return fail(k_not_found, "no such channel");
      db_->prepare("DELETE FROM webhook_outbox WHERE channel_id = ? AND sent_at_s IS NULL")
          .bind(id)
          .exec();
      return true;
    });
  }

  status queue_webhook_event(const std::string& company_id, std::int64_t channel_id,
                             const std::string& payload, std::int64_t now_s) override {
    return tx_.write_status("queue_webhook_event", [&]() -> result<bool> {
      auto q = db_->prepare(k_channel_select + "WHERE id = ? AND company_id = ?");
      q.bind(channel_id).bind(company_id);
      if (!q.step()) return fail(k_not_found, "no such channel");
      if (read_channel(q).kind != channel_kind::webhook) {
        return fail(k_invalid, "not a webhook channel");
      }
      queue_webhook_locked(channel_id, payload, now_s, true);
      return true;
    });
  }

  // ---- webhook outbox ----

  result<std::vector<webhook_delivery>> due_webhooks(std::int64_t now_s,
                                                     std::size_t limit) override {
    return tx_.read<std::vector<
        webhook_delivery>>("due_webhooks", [&]() -> result<std::vector<webhook_delivery>> {
      std::vector<webhook_delivery> out;
      auto q = db_->prepare(
          "SELECT o.id, o.channel_id, c.company_id, c.url, c.salt, o.payload, o.attempts "
          "FROM webhook_outbox o JOIN notification_channels c ON c.id = o.channel_id "
          "WHERE o.sent_at_s IS NULL AND o.next_attempt_s <= ? AND "
          "(c.disabled_at_s IS NULL OR o.test_event = 1) ORDER BY o.id LIMIT ?");
      q.bind(now_s).bind(limit);
      while (q.step()) {
        out.push_back({q.i64(0), q.i64(1), q.text(2), q.text(3), q.text(4), q.text(5), q.i64(6)});
      }
      return out;
    });
  }

  status mark_webhook_sent(std::int64_t id, std::int64_t now_s) override {
    return tx_.write_status("mark_webhook_sent", [&]() -> result<bool> {
      db_->prepare("UPDATE webhook_outbox SET sent_at_s = ?, attempts = attempts + 1 WHERE id = ?")
          .bind(now_s)
          .bind(id)
          .exec();
      db_->prepare(
             "UPDATE notification_channels SET failing_since_s = NULL, disabled_at_s = NULL "
             "WHERE id = (SELECT channel_id FROM webhook_outbox WHERE id = ?)")
          .bind(id)
          .exec();
      return true;
    });
  }

  status mark_webhook_failed(std::int64_t id, const std::string& error, std::int64_t next_attempt_s,
                             std::int64_t now_s, std::int64_t disable_after_s) override {
    return tx_.write_status("mark_webhook_failed", [&]() -> result<bool> {
      db_->prepare(
             "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, "
             "next_attempt_s = ? WHERE id = ?")
          .bind(error)
          .bind(next_attempt_s)
          .bind(id)
          .exec();
      const std::string channel = "(SELECT channel_id FROM webhook_outbox WHERE id = ?)";
      db_->prepare("UPDATE notification_channels SET failing_since_s = ? WHERE id = " + channel +
                   " AND failing_since_s IS NULL")
          .bind(now_s)
          .bind(id)
          .exec();
      db_->prepare("UPDATE notification_channels SET disabled_at_s = ? WHERE id = " + channel +
                   " AND disabled_at_s IS NULL AND failing_since_s <= ?")
          .bind(now_s)
          .bind(id)
          .bind(now_s - disable_after_s)
          .exec();
      return true;
    });
  }

 private:
  void queue_webhook_locked(std::int64_t channel_id, const std::string& payload, std::int64_t now_s,
                            bool test_event) {
    db_->prepare(
           "INSERT INTO webhook_outbox(channel_id, payload, created_at_s, next_attempt_s, "
           "test_event) VALUES(?, ?, ?, 0, ?)")
        .bind(channel_id)
        .bind(payload)
        .bind(now_s)
        .bind(test_event ? 1 : 0)
        .exec();
  }

  // Every enabled channel of the alarm's company gets `event`: a webhook its JSON, an e-mail
  // channel a mail to each of its accounts that has an address.
  void queue_notices_locked(const alarm_record& a, std::string_view event, std::int64_t now_s,
                            const notice_of& notice) {
    if (!notice) return;
    std::vector<channel> channels;
    {
      auto q = db_->prepare(k_channel_select +
                            "WHERE company_id = ? AND disabled_at_s IS NULL ORDER BY id");
      q.bind(a.company_id);
      while (q.step()) channels.push_back(read_channel(q));
    }
    if (channels.empty()) return;
    auto n = notice(a, event);
    for (const auto& c : channels) {
      if (c.kind == channel_kind::webhook) {
        queue_webhook_locked(c.id, n.event_json, now_s, false);
        continue;
      }
      for (auto account_id : c.account_ids) {
        auto q = db_->prepare("SELECT email FROM accounts WHERE id = ? AND company_id = ?");
        q.bind(account_id).bind(a.company_id);
        if (!q.step() || q.text(0).empty()) continue;
        std::string to = q.text(0);
        db_->prepare(
               "INSERT INTO mail_outbox(recipient, subject, body, created_at_s, next_attempt_s) "
               "VALUES(?, ?, ?, ?, 0)")
            .bind(to)
            .bind(n.subject)
            .bind(n.body)
            .bind(now_s)
            .exec();
      }
    }
  }

  sql::transactions tx_;
  sql::current_connection db_{tx_};  // used only inside tx_'s transactions
};

}  // namespace

result<std::unique_ptr<alert_port>> open_alert_store(store& shared) {
  const auto* on_pool = dynamic_cast<const store_sql::shared_pool*>(&shared);
  if (on_pool == nullptr) return fail(k_invalid, "the store shares no connection pool");
  return std::unique_ptr<alert_port>(std::make_unique<alert_store>(on_pool->pool()));
}

}  // namespace aterm::cloud::alerts
