#include "aterm/cloud/security/login_throttle.h"

#include <algorithm>
#include <cassert>

#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::security {

std::string throttle_key(const ip_address& address) {
  if (address.is_v4()) return address.to_string();
  std::array<std::uint8_t, 16> prefix{};
  std::copy_n(address.bytes().begin(), 8, prefix.begin());
  return ip_address::v6(prefix).to_string() + "/64";
}

login_throttle::login_throttle(throttle_settings settings, const common::clock& clock)
    : settings_(settings), clock_(clock) {
  assert(settings_.max_failures >= 1);
}

void login_throttle::trim_locked(std::deque<common::wall_time>& q, common::wall_time now) const {
  // A failure exactly `window` old has left the window.
  while (!q.empty() && q.front() <= now - settings_.window) q.pop_front();
}

bool login_throttle::allowed(std::string_view key) const {
  return retry_after(key) == std::chrono::seconds{0};
}

std::chrono::seconds login_throttle::retry_after(std::string_view key) const {
  const common::wall_time now = clock_.now();
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return std::chrono::seconds{0};
  trim_locked(it->second, now);
  const auto count = static_cast<std::int64_t>(it->second.size());
  if (count < settings_.max_failures) {
    if (it->second.empty()) failures_.erase(it);
    return std::chrono::seconds{0};
  }
  // Allowed again when the failure that keeps the count at the limit leaves the window.
  const common::wall_time leaves =
      it->second[static_cast<std::size_t>(count - settings_.max_failures)] + settings_.window;
  return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(leaves - now));
}

void login_throttle::record_failure(std::string_view key) {
  const common::wall_time now = clock_.now();
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    bound_locked(now);
    it = failures_.emplace(std::string(key), std::deque<common::wall_time>{}).first;
  }
  auto& q = it->second;
  trim_locked(q, now);
  q.push_back(now);
  // Only the newest max_failures matter for the decision.
  while (static_cast<std::int64_t>(q.size()) > settings_.max_failures) q.pop_front();
}

std::size_t login_throttle::tracked_keys() const {
  const common::wall_time now = clock_.now();
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& [key, q] : failures_) {
    trim_locked(q, now);
    if (!q.empty()) ++n;
  }
  return n;
}

void login_throttle::bound_locked(common::wall_time now) {
  if (failures_.size() < limits::k_max_tracked_keys) return;
  for (auto it = failures_.begin(); it != failures_.end();) {
    trim_locked(it->second, now);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
  if (failures_.size() < limits::k_max_tracked_keys) return;
  // Still full of live keys: forget the one whose newest failure is oldest.
  auto oldest = std::min_element(
      failures_.begin(), failures_.end(),
      [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
  failures_.erase(oldest);
}

}  // namespace aterm::cloud::security
