// The alerts' rows on the store's database (docs/alerts.md): a company's alert rules, alarms with
// their life (open -> acknowledged -> cleared), notification channels (mail to chosen accounts,
// webhooks) and the webhook outbox. Opened on the store's connection pool like the jobs'
// lifecycle port (store/alert_store.cpp); written once for both engines.
//
// Tenant scoping as the store's: a row of another company answers k_not_found. One alarm per
// company, router and rule is open at a time: a unique key in the database, so instances that
// judge the same router at once raise it once. Every method is one transaction; thread-safe.
//
// Webhook secrets are not stored: the database keeps a random salt per webhook and the secret
// is HMAC-SHA-256 of it under a key kept outside the database (alerts.webhook_key_file), so a
// copy of the database or a backup signs nothing (webhook.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aterm/cloud/alerts/alert_rules.h"
#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud {
class store;  // store.h
}  // namespace aterm::cloud

namespace aterm::cloud::alerts {

enum class alarm_state { open, acknowledged, cleared };
inline constexpr model_detail::enum_names<alarm_state, 3> k_alarm_state_names = {{
    {alarm_state::open, "open"},
    {alarm_state::acknowledged, "acknowledged"},
    {alarm_state::cleared, "cleared"},
}};
constexpr std::string_view to_string(alarm_state s) {
  return model_detail::name_of(k_alarm_state_names, s);
}
constexpr std::optional<alarm_state> parse_alarm_state(std::string_view s) {
  return model_detail::value_of(k_alarm_state_names, s);
}

struct alarm_record {
  std::int64_t id = 0;
  std::string company_id;
  std::string kind;       // a rule_kind's name, or "login_failure_burst"
  std::string device_id;  // "" for an alarm of no router
  std::string detail;
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> acknowledged_at_s;
  std::string acknowledged_by;  // login id
  std::string comment;          // the acknowledgement's
  std::optional<std::int64_t> cleared_at_s;
  alarm_state state() const {
    if (cleared_at_s) return alarm_state::cleared;
    return acknowledged_at_s ? alarm_state::acknowledged : alarm_state::open;
  }
};

struct alarm_filter {
  std::optional<alarm_state> state;  // nullopt: any
  std::string kind;                  // "" = any
  std::string device_id;             // "" = any
  std::size_t limit = 100;           // clamped to limits::k_max_alarm_page
};

enum class channel_kind { email, webhook };
inline constexpr model_detail::enum_names<channel_kind, 2> k_channel_kind_names = {{
    {channel_kind::email, "email"},
    {channel_kind::webhook, "webhook"},
}};
constexpr std::string_view to_string(channel_kind k) {
  return model_detail::name_of(k_channel_kind_names, k);
}
constexpr std::optional<channel_kind> parse_channel_kind(std::string_view s) {
  return model_detail::value_of(k_channel_kind_names, s);
}

struct channel {
  std::int64_t id = 0;
  std::string company_id;
  channel_kind kind = channel_kind::email;
  std::vector<std::int64_t> account_ids;  // email: the accounts mailed (their e-mail address)
  std::string url;                        // webhook: https://...
  std::string salt;                       // webhook: hex; the secret's derivation input
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> failing_since_s;  // webhook: first failure since the last success
  std::optional<std::int64_t>
      disabled_at_s;  // webhook: gave up after alerts.webhook_disable_after_s
};

// What the channels of the alarm's company receive when it is raised or cleared.
struct alarm_notice {
  std::string event_json;  // a webhook's body
  std::string subject;     // a mail's
  std::string body;
};
using notice_of = std::function<alarm_notice(const alarm_record&, std::string_view event)>;

struct webhook_delivery {
  std::int64_t id = 0;
  std::int64_t channel_id = 0;
  std::string company_id;
  std::string url;
  std::string salt;
  std::string payload;
  std::int64_t attempts = 0;
};

class alert_port {
 public:
  virtual ~alert_port() = default;

  // ---- rules ----
  // The company's stored rules (kinds it never set are absent; alert_rules.h with_defaults).
  virtual common::result<std::vector<alert_rule>> stored_rules(const std::string& company_id) = 0;
  // Replaces the stored rule of each kind in `rules`.
  virtual common::status save_rules(const std::string& company_id,
                                    const std::vector<alert_rule>& rules) = 0;

  // ---- alarms ----
  // The company's router alarms not cleared (open or acknowledged).
  virtual common::result<std::vector<alarm_record>> active_router_alarms(
      const std::string& company_id) = 0;
  // Inserts the alarm (id and created_at_s are set here from now_s) unless one of its company,
  // router and kind is active; then queues `notice(alarm, "alarm.raised")` to every enabled
  // channel of the company in the same transaction. nullopt when one was active.
  virtual common::result<std::optional<alarm_record>> raise_alarm(const alarm_record& a,
                                                                  std::int64_t now_s,
                                                                  const notice_of& notice) = 0;
  // Clears an active alarm and queues `notice(alarm, "alarm.cleared")`. false when it was
  // cleared already.
  virtual common::result<bool> clear_alarm(const std::string& company_id, std::int64_t alarm_id,
                                           std::int64_t now_s, const notice_of& notice) = 0;
  // Newest first.
  virtual common::result<std::vector<alarm_record>> list_alarms(const std::string& company_id,
                                                                const alarm_filter& f) = 0;
  virtual common::result<std::int64_t> count_open_alarms(const std::string& company_id) = 0;
  // open -> acknowledged; k_conflict when it is not open.
  virtual common::result<alarm_record> acknowledge_alarm(const std::string& company_id,
                                                         std::int64_t alarm_id,
                                                         const std::string& by,
                                                         const std::string& comment,
                                                         std::int64_t now_s) = 0;

  // ---- channels ----
  // Stores the channel (id and created_at_s set here). An e-mail channel's accounts must be the
  // company's (k_not_found); more than limits::k_max_channels: k_conflict.
  virtual common::result<channel> create_channel(const channel& c, std::int64_t now_s) = 0;
  virtual common::result<std::vector<channel>> list_channels(const std::string& company_id) = 0;
  // Deletes the channel and its undelivered webhook events.
  virtual common::status delete_channel(const std::string& company_id, std::int64_t id) = 0;
  // Queues `payload` to the webhook (k_invalid for an e-mail channel) at once, also when it is
  // disabled (a test event is how an operator checks a repaired receiver).
  virtual common::status queue_webhook_event(const std::string& company_id, std::int64_t channel_id,
                                             const std::string& payload, std::int64_t now_s) = 0;

  // ---- webhook outbox ----
  // Undelivered events with next_attempt_s <= now_s of channels not disabled (and test events),
  // oldest first.
  virtual common::result<std::vector<webhook_delivery>> due_webhooks(std::int64_t now_s,
                                                                     std::size_t limit) = 0;
  // Delivered: the channel's failing_since_s is cleared and a disabled one enabled again.
  virtual common::status mark_webhook_sent(std::int64_t id, std::int64_t now_s) = 0;
  // attempts + 1, last_error, next_attempt_s; the channel failing since its first failure is
  // disabled once that is `disable_after_s` ago.
  virtual common::status mark_webhook_failed(std::int64_t id, const std::string& error,
                                             std::int64_t next_attempt_s, std::int64_t now_s,
                                             std::int64_t disable_after_s) = 0;
};

// The port on `shared`'s connection pool (k_invalid when the store shares none).
common::result<std::unique_ptr<alert_port>> open_alert_store(store& shared);

}  // namespace aterm::cloud::alerts
