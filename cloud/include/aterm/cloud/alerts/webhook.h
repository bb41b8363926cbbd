// Webhooks of the notification channels (docs/alerts.md): an HTTPS POST of a JSON event, signed
// with HMAC-SHA-256 under the webhook's secret, delivered from the durable webhook outbox with
// the mail outbox's backoff (mail.h backoff_s), and a channel disabled after
// alerts.webhook_disable_after_s of failures.
//
// The header a receiver checks:
//   X-Aterm-Signature: sha256=<64 lowercase hex digits of HMAC-SHA-256(secret, body)>
// where secret is the ASCII text shown once when the webhook was created and body the request's
// exact bytes. The event carries its id and time ("id", "sent_at") so a receiver can refuse a
// replay.
//
// Secrets: secret = hex(HMAC-SHA-256(key, "aterm-webhook-secret:" + salt)) with the key in use of
// alerts.webhook_key_file (a key file of security/key_file.h, outside the database) and the
// webhook's random salt (in the database). Neither alone derives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aterm/cloud/alerts/alert_port.h"
#include "aterm/cloud/model.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::alerts {

inline constexpr std::string_view k_signature_header = "X-Aterm-Signature";

// A new random salt (hex of limits::k_webhook_salt_bytes bytes).
std::string new_webhook_salt();
// The webhook's secret from the key and its salt (above).
std::string webhook_secret(const secret_key& key, std::string_view salt);
// "sha256=" + hex(HMAC-SHA-256(secret, body)).
std::string signature_of(std::string_view secret, std::string_view body);

// Error code of a webhook URL the API refuses.
inline constexpr std::string_view k_bad_webhook_url = "bad_webhook_url";
// https://host[:port][/path] of at most limits::k_max_webhook_url bytes, without user info,
// spaces or controls.
common::status check_webhook_url(std::string_view url);

// Posts one event. Implementations are used by one thread at a time.
class webhook_poster {
 public:
  virtual ~webhook_poster() = default;
  // Error "webhook" with the HTTP status or the connection's reason when the receiver did not
  // answer 2xx.
  virtual common::status post(const std::string& url, const std::string& body,
                              const std::string& signature) = 0;
};

struct webhook_settings {
  std::string key_file;                   // alerts.webhook_key_file (webhook_key_path)
  std::string ca;                         // alerts.webhook_ca: CA file for receivers; "" = system
  std::chrono::seconds timeout{10};       // alerts.webhook_timeout_s: one POST
  std::int64_t retry_initial_s = 60;      // alerts.webhook_retry_initial_s. Default: 60 s.
  std::int64_t retry_max_s = 3600;        // alerts.webhook_retry_max_s. Default: 1 h.
  std::int64_t disable_after_s = 259200;  // alerts.webhook_disable_after_s. Default: 3 days.
};
webhook_settings webhook_settings_from(const common::config& c);
// The key file's path: the setting; else <db>.webhook-key next to a database file, or
// <security.audit_key_file>.webhook for a database server.
std::string webhook_key_path(const common::config& c);

// The libcurl poster (HTTPS only, the receiver's certificate checked). Thread-compatible.
std::unique_ptr<webhook_poster> make_https_poster(const webhook_settings& s);

struct webhook_run {
  std::size_t sent = 0;
  std::size_t failed = 0;
};

// Delivers the due events of the webhook outbox. Owned and run by one thread (the scheduler's).
class webhook_worker {
 public:
  webhook_worker(alert_port& port, webhook_poster& out, secret_key key, webhook_settings s,
                 const common::clock& clock);
  // One pass over at most limits::k_webhook_batch due events; a store failure ends it early.
  webhook_run run_once();

 private:
  alert_port& port_;
  webhook_poster& out_;
  secret_key key_;
  webhook_settings settings_;
  const common::clock& clock_;
};

}  // namespace aterm::cloud::alerts
