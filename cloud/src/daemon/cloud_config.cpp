#include "aterm/cloud/cloud_config.h"

#include <vector>

#include "aterm/cloud/http/server.h"
#include "aterm/cloud/notices/notice_rules.h"
#include "aterm/cloud/security/device_claim.h"
#include "aterm/cloud/security/password_hashing_pool.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/security/settings.h"

namespace aterm::cloud {

namespace {

using common::config_key;
using common::config_type;

constexpr std::int64_t k_day_s = 86400;
constexpr std::int64_t k_max_days = 100 * 365;

config_key str(std::string name, std::string fallback = {}) {
  return {std::move(name), config_type::string, std::move(fallback), false, {}, {}};
}

config_key num(std::string name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  return {std::move(name), config_type::integer, fallback, false, min, max};
}

}  // namespace

common::config_schema cloud_config_schema() {
  common::config_schema s = {
      // A file path (SQLite) or a postgresql:// URI; PostgreSQL connections per instance.
      str("db", "aterm-cloud.db"),
      num("store.pool_size", 4, 1, 100),
      // MQTT: the bridge's identity towards the broker.
      str("mqtt.uri", "ssl://127.0.0.1:8883"),
      str("mqtt.ca"),
      str("mqtt.cert"),
      str("mqtt.key"),
      str("mqtt.client_id", "aterm-cloud"),
      {"mqtt.shared_subscription", config_type::boolean, false, false, {}, {}},
      num("mqtt.batch_max", 1000, 1, 100000),
      // 0: group commit (broker-bridge ingest.h); above 0 a batch may wait that long for more.
      num("mqtt.batch_delay_ms", 0, 0, 10000),
      num("mqtt.dispatch_poll_ms", 1000, 10, 600000),
      // A command published this long ago without a final result is published again.
      num("mqtt.result_timeout_s", 60, 1, k_day_s),
      // Mail (the outbox worker is the lifecycle issue's).
      str("mail.smtp_url"),
      str("mail.from", "aterm-cloud@localhost"),
      str("mail.alarm_to"),
      str("mail.username"),
      str("mail.password"),
      str("mail.ca"),
      num("mail.timeout_s", 30, 1, 600),
      // Plain SMTP to a loopback relay only; every other relay needs STARTTLS or smtps://.
      {"mail.allow_plaintext_loopback", config_type::boolean, false, false, {}, {}},
      num("mail.retry_initial_s", 60, 1, k_day_s),
      num("mail.retry_max_s", 3600, 1, 7 * k_day_s),
      num("mail.max_attempts", 48, 1, 10000),
      // Backups.
      str("backup.dir", "backups"),
      num("backup.keep_days", 7, 1, 3650),
      str("backup.time", "18:00"),  // UTC, "HH:MM": 03:00 JST
      str("backup.key_file"),       // "" = <db>.backup-key (security/key_file.h)
      str("backup.pg_bin_dir", "/usr/lib/postgresql/15/bin"),  // pg_dump, pg_restore
      // The access log's key and anchors; "" = <db>.audit-key, <db>.audit-anchors.
      str("security.audit_key_file"),
      str("security.audit_anchor_file"),
      // Offline technician logins: the key the per-device secrets derive from ("" = off, logins
      // are delivered by install only), and how long a router's secret waits for it.
      str("security.technician_key_file"),
      num("security.technician_secret_delivery_s", 7 * k_day_s, 60, 365 * k_day_s),
      // Retention and lifecycle (DESIGN.md section 5).
      num("retention.audit_days", 365, 1, k_max_days),
      num("retention.inactive_reminder_days", 180, 1, k_max_days),
      num("retention.inactive_lock_days", 30, 1, k_max_days),
      num("retention.inactive_delete_days", 90, 1, k_max_days),
      num("retention.device_data_days", 90, 1, k_max_days),
      num("retention.technician_login_retention_s", 3600, 1, 365 * k_day_s),
      num("retention.mail_sent_days", 30, 1, k_max_days),
      num("retention.missing_email_notice_days", 30, 1, k_max_days),
      // Alerts (docs/alerts.md): the offline rule's default window (the service's 30 minutes),
      // how often routers are judged, and webhook delivery.
      num("alerts.offline_after_s", 1800, 1, 7 * k_day_s),
      num("alerts.interval_ms", 30000, 10, 3600000),
      // "" = <db>.webhook-key; on PostgreSQL <security.audit_key_file>.webhook
      str("alerts.webhook_key_file"),
      str("alerts.webhook_ca"),  // "" = the system's CAs
      num("alerts.webhook_timeout_s", 10, 1, 600),
      num("alerts.webhook_retry_initial_s", 60, 1, k_day_s),
      num("alerts.webhook_retry_max_s", 3600, 1, 7 * k_day_s),
      num("alerts.webhook_disable_after_s", 3 * k_day_s, 1, 365 * k_day_s),
      // Scheduler of `serve`.
      num("jobs.tick_ms", 1000, 10, 3600000),
      num("jobs.interval_s", 3600, 1, 7 * k_day_s),
      // Fleet jobs: how often the scheduler releases their commands, and the "minute" of a
      // rollout's per_minute (DESIGN.md's minute; tests shorten it).
      num("fleet_jobs.tick_ms", 1000, 10, 600000),
      num("fleet_jobs.minute_s", 60, 1, 3600),
  };
  for (auto& k : http::server_config_keys()) s.push_back(std::move(k));
  for (auto& k : security::security_config_schema()) s.push_back(std::move(k));
  for (auto& k : security::device_claim_config_schema()) s.push_back(std::move(k));
  for (auto& k : security::hashing_pool_config_schema()) s.push_back(std::move(k));
  for (auto& k : notices::notices_config_schema()) s.push_back(std::move(k));
  return s;
}

common::result<common::config> load_cloud_config(const std::string& path) {
  auto c = common::load_config(path, cloud_config_schema());
  if (!c.ok() || !db_is_server(c->get_string("db"))) return c;
  // The key files default to names next to a database file. A database server has no such
  // place, and every instance on it must seal and check with the same keys: name them.
  for (const char* key :
       {"security.audit_key_file", "security.audit_anchor_file", "backup.key_file"}) {
    if (c->get_string(key).empty()) {
      return common::status::error(
          "config_missing_key", path + ": key \"" + key +
                                    "\" is required when db is a PostgreSQL URI (the instances " +
                                    "share one key file; it never lives in the database)");
    }
  }
  return c;
}

store_options store_options_from(const common::config& c) {
  store_options o;
  o.rules = security::rules_for_store();
  o.db = c.get_string("db");
  o.pool_size = static_cast<std::size_t>(c.get_int("store.pool_size"));
  return o;
}

scheduler_settings scheduler_settings_from(const common::config& c) {
  scheduler_settings s;
  s.tick = std::chrono::milliseconds(c.get_int("jobs.tick_ms"));
  s.sweep_interval = std::chrono::seconds(c.get_int("jobs.interval_s"));
  s.fleet_tick = std::chrono::milliseconds(c.get_int("fleet_jobs.tick_ms"));
  s.fleet_minute = std::chrono::seconds(c.get_int("fleet_jobs.minute_s"));
  return s;
}

}  // namespace aterm::cloud
