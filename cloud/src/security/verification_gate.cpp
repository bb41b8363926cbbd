#include "aterm/cloud/security/verification_gate.h"

#include <utility>

#include "aterm/cloud/security/limits.h"
#include "aterm/common/log.h"

namespace aterm::cloud::security {

bool admits_verification(const lockout_policy& policy, const account& current,
                         std::int64_t in_flight) {
  const account_lock_state state = lock_state_of(current);
  return !policy.is_locked(state) && policy.remaining_budget(state) - in_flight > 0;
}

verification_lease::verification_lease(verification_lease&& other) noexcept
    : counters_(std::exchange(other.counters_, nullptr)), id_(other.id_) {}

verification_lease& verification_lease::operator=(verification_lease&& other) noexcept {
  if (this != &other) {
    release();
    counters_ = std::exchange(other.counters_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

verification_lease::~verification_lease() {
  release();
}

void verification_lease::release() noexcept {
  if (counters_ == nullptr) return;
  // A lease that cannot be ended now ends by its expiry.
  (void)std::exchange(counters_, nullptr)->release_verification_lease(id_);
}

verification_gate::verification_gate(const lockout_policy& policy, shared_counters& counters)
    : policy_(policy), counters_(counters) {}

verification_answer verification_gate::try_reserve(const std::string& company_id,
                                                   std::int64_t account_id) {
  const std::int64_t now_ms = policy_.clock().now_ms();
  bool locked = false;
  auto taken = counters_.take_verification_lease(
      company_id, account_id, now_ms, now_ms + limits::k_verification_lease_s * 1000,
      [&](const account& current, std::int64_t in_flight) {
        locked = policy_.is_locked(lock_state_of(current));
        return admits_verification(policy_, current, in_flight);
      });
  verification_answer answer;
  if (!taken.ok()) {
    common::log(common::log_level::error, "security", "verification lease not taken",
                {{"error", taken.error().to_string()}});
    answer.refusal = gate_refusal::busy;
    return answer;
  }
  if (!*taken) {
    answer.refusal = locked ? gate_refusal::locked : gate_refusal::busy;
    return answer;
  }
  answer.lease.emplace(counters_, **taken);
  return answer;
}

}  // namespace aterm::cloud::security
