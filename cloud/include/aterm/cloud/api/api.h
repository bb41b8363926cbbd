// The /api/v1 routes of DESIGN.md section 6 that operators use for devices, commands, technician
// logins and destinations, plus the session routes (login, who-am-I, logout).
//
// Every route but POST /session needs a valid session (cookie __Host-aterm_session; idle and
// absolute expiry judged here), runs the company's IP allowlist, requires X-CSRF-Token on
// POST/PATCH/DELETE, checks the route's permission and scopes every read and change to the
// caller's company (another company's id answers 404). Every operation, allowed or denied, is
// appended to the access log.
//
// Handlers block on the store and on PBKDF2: the HTTPS server runs them on its worker pool.
// Thread-safety: an api_service is safe to use from any number of worker threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/notices/notice_rules.h"
#include "aterm/cloud/security/device_claim.h"
#include "aterm/cloud/security/password_hashing_pool.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"

namespace aterm::cloud::api {

struct api_settings {
  // security.* keys: lockout, throttle, burst alarm, session idle/lifetime, password rules.
  security::security_settings security;
  // Where attack-alarm mail goes (mail.alarm_to); empty: the alarm record only.
  std::string alarm_mail_to;
  // alerts.offline_after_s: the offline rule's window of a company that set none (the rules
  // answered by GET /alert-rules). Default: 1800 s.
  std::int64_t alert_offline_after_s = 1800;
  // alerts.webhook_key_file as resolved (alerts/webhook.h webhook_key_path): the key the
  // secrets of new webhooks derive from. Empty: webhooks cannot be created.
  std::string webhook_key_file;
  // Command lifetime when a request gives no timeout_s. Default: 300 s.
  std::int64_t default_command_timeout_s = 300;
  // PBKDF2 iterations of a technician one-time password (DESIGN.md section 4). Default: 10,000.
  std::uint32_t technician_login_iterations = 10000;
  // The technician key (security.technician_key_file, kept outside the database): with it,
  // technician logins are offline credentials under per-device secrets derived from it
  // (docs/security.md). Not read by api_settings_from (the key is a file): the daemon fills it.
  // Default: empty, logins are delivered by install only.
  std::vector<std::uint8_t> technician_key;
  // How long a technician_login.secret command waits for its router
  // (security.technician_secret_delivery_s). Default: 7 days.
  std::int64_t technician_secret_delivery_s = 7 * 86400;
  // device.*: the claim key and the claim throttle of POST /destinations/{id}/devices. Not read
  // by api_settings_from (the key is a file): the daemon fills it with
  // security::device_claim_settings_from. Default: no key, so no company can claim a device.
  security::device_claim_settings device_claim;
  // The dashboard's origin for the login CSRF rule (http.public_origin); empty: "https://" + the
  // request's Host header. Default: empty.
  std::string public_origin;
  // notices.*: the holiday list and lead time of planned maintenance. Not read by
  // api_settings_from (the holidays are a file): the daemon fills it with
  // notices::notice_settings_from. Default: no holidays, 3 business days.
  notices::notice_settings notices;
};

// REQUIRES: `c` was loaded with the cloud's schema (security_config_schema() and mail.alarm_to).
api_settings api_settings_from(const common::config& c);

struct api_context {
  store& db;
  const common::clock& clock;
  http::metrics_registry& metrics;
  api_settings settings;
  // Called after a command was committed to the store (commands, technician login install and
  // revoke) so the bridge publishes it now rather than on its next poll. May be empty. Called on
  // a worker thread; must not block for long.
  std::function<void(const std::string& device_id)> notify_command;
  // Where logins verify passwords (it must outlive the service); the login answers later, so
  // the HTTPS worker is free while PBKDF2 runs. nullptr: on the calling worker thread.
  security::password_hashing_pool* password_hashing = nullptr;
};

class api_service {
 public:
  explicit api_service(api_context ctx);
  ~api_service();
  api_service(const api_service&) = delete;
  api_service& operator=(const api_service&) = delete;

  // Adds the routes to `r`. The service must outlive every dispatch through `r`.
  void register_routes(http::router& r);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// Convenience for the daemon: a service registered on `r`; keep it until the server stopped.
std::unique_ptr<api_service> register_api_routes(http::router& r, api_context ctx);

}  // namespace aterm::cloud::api
