// Sessions (DESIGN.md section 5, "auto log-off"): a session idle for `idle` is ended, judged on
// the server; every session ends `lifetime` after its login whatever its use. Idle is measured
// from the last request that was activity: a request a page makes on its own (polling) is marked
// background (k_background_header) and neither keeps the session alive nor is an operation of
// the access log. A new session token
// at every login: 256 random bits, base64url in the cookie, stored only as its SHA-256 (hex), so
// a database reader cannot ride a session. The CSRF token is a second random token answered at
// login and sent back in X-CSRF-Token. Immutable; thread-safe. Takes now from `clock`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aterm/cloud/security/settings.h"
#include "aterm/common/clock.h"

namespace aterm::cloud::security {

// model.h's session carries these as created_at_s / last_seen_at_s (unix seconds).
struct session_times {
  std::int64_t created_at_s = 0;    // login
  std::int64_t last_seen_at_s = 0;  // last request that touched the session
};

enum class session_verdict { valid, idle_expired, lifetime_expired };

// The header that marks a request a page made on its own (X-Aterm-Background: 1), lowercase as
// the HTTP server keeps header names.
inline constexpr std::string_view k_background_header = "x-aterm-background";

enum class request_kind {
  activity,    // the user did something: it counts for the idle time and is an operation
  background,  // polling: it counts for nothing and is not recorded when it succeeds
};

// A read (GET or HEAD) with k_background_header "1" is background; everything else is activity,
// so a request that changes something can never hide from the access log or the idle rule.
// `background_header` is the header's value, nullptr when absent.
request_kind classify_request(std::string_view method, const std::string* background_header);

// "valid", "idle_expired", "lifetime_expired".
std::string_view to_string(session_verdict v);

struct new_session {
  std::string token;       // for the cookie only; never stored or logged
  std::string token_hash;  // store this: hash_session_token(token)
  std::string csrf_token;  // answered at login; store it (or its hash) with the session
};

// Lowercase hex SHA-256 of the token: the key the store keeps sessions under.
std::string hash_session_token(std::string_view token);
// Compares the presented X-CSRF-Token with the session's in constant time; empty never matches.
bool csrf_matches(std::string_view expected, std::string_view presented);

class session_policy {
 public:
  session_policy(session_settings settings, const common::clock& clock);

  const session_settings& settings() const { return settings_; }

  // A fresh token pair (256-bit session token, 256-bit CSRF token).
  new_session start() const;
  // Whether the session may serve a request now. When both have passed, lifetime_expired.
  // A session exactly `idle` after last_seen (or `lifetime` after created) has ended.
  session_verdict judge(const session_times& t) const;
  // When the session ends if unused from now on: min(last_seen + idle, created + lifetime).
  std::int64_t expires_at_s(const session_times& t) const;
  // True when last_seen should be written back now: an activity request and last_seen older than
  // touch_interval. Only for a session judged valid.
  bool should_touch(const session_times& t, request_kind kind = request_kind::activity) const;

 private:
  session_settings settings_;
  const common::clock& clock_;
};

}  // namespace aterm::cloud::security
