#include "aterm/cloud/security/session_policy.h"

#include <algorithm>

#include "aterm/common/crypto.h"

namespace aterm::cloud::security {

namespace crypto = common::crypto;

// 256 bits: the design asks for >= 128.
constexpr std::size_t k_token_bytes = 32;

std::string_view to_string(session_verdict v) {
  switch (v) {
    case session_verdict::valid:
      return "valid";
    case session_verdict::idle_expired:
      return "idle_expired";
    case session_verdict::lifetime_expired:
      return "lifetime_expired";
  }
  return "valid";
}

std::string hash_session_token(std::string_view token) {
  return crypto::to_hex(crypto::sha256(token));
}

bool csrf_matches(std::string_view expected, std::string_view presented) {
  if (expected.empty() || presented.empty()) return false;
  return crypto::constant_time_equal(expected, presented);
}

request_kind classify_request(std::string_view method, const std::string* background_header) {
  const bool read = method == "GET" || method == "HEAD";
  return read && background_header != nullptr && *background_header == "1"
             ? request_kind::background
             : request_kind::activity;
}

session_policy::session_policy(session_settings settings, const common::clock& clock)
    : settings_(settings), clock_(clock) {}

new_session session_policy::start() const {
  new_session s;
  s.token = crypto::generate_token(k_token_bytes);
  s.token_hash = hash_session_token(s.token);
  s.csrf_token = crypto::generate_token(k_token_bytes);
  return s;
}

session_verdict session_policy::judge(const session_times& t) const {
  const std::int64_t now = clock_.now_s();
  if (now >= t.created_at_s + settings_.lifetime.count()) return session_verdict::lifetime_expired;
  if (now >= t.last_seen_at_s + settings_.idle.count()) return session_verdict::idle_expired;
  return session_verdict::valid;
}

std::int64_t session_policy::expires_at_s(const session_times& t) const {
  return std::min(t.last_seen_at_s + settings_.idle.count(),
                  t.created_at_s + settings_.lifetime.count());
}

bool session_policy::should_touch(const session_times& t, request_kind kind) const {
  if (kind == request_kind::background) return false;
  return clock_.now_s() - t.last_seen_at_s >= settings_.touch_interval.count();
}

}  // namespace aterm::cloud::security
