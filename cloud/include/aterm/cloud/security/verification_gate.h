// The login gate across instances (DESIGN.md section 5, "account lock"; section 8): a password
// verification of an account starts only while the failures stored for it plus the
// verifications in flight stay below the lock threshold, so 50 parallel wrong passwords cost at
// most `threshold` verifications however many instances they are spread over. Each verification
// in flight is a lease in the store (shared_counters.h), taken in the store's write transaction
// that reads the account, before hashing, and ended once its result is stored. A lease of an
// instance that died ends by itself after limits::k_verification_lease_s.
//
// login_gate (lockout_policy.h) is the same rule within one process, in front of this one; this
// gate is what holds between processes. Thread-safe; the store and the policy's clock must
// outlive the gate and its leases.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aterm/cloud/security/lockout_policy.h"
#include "aterm/cloud/shared_counters.h"

namespace aterm::cloud::security {

// True when one more verification of `current` (the stored account) may start while
// `in_flight` others run: the account is not locked and its remaining budget exceeds them.
bool admits_verification(const lockout_policy& policy, const account& current,
                         std::int64_t in_flight);

// One verification in flight. Move-only. Its result is stored together with the end of the lease
// (store::record_login_failure/success take id(); then call ended()), so at no moment do the
// stored failures plus the leases count this verification twice or not at all. A lease whose
// result was not stored is ended in the store when destroyed.
class [[nodiscard]] verification_lease {
 public:
  verification_lease(shared_counters& counters, std::int64_t id) : counters_(&counters), id_(id) {}
  verification_lease(verification_lease&& other) noexcept;
  verification_lease& operator=(verification_lease&& other) noexcept;
  verification_lease(const verification_lease&) = delete;
  verification_lease& operator=(const verification_lease&) = delete;
  ~verification_lease();

  std::int64_t id() const { return id_; }
  // The store ended the lease with the verification's result: nothing is left to release.
  void ended() noexcept { counters_ = nullptr; }

 private:
  void release() noexcept;
  shared_counters* counters_ = nullptr;
  std::int64_t id_ = 0;
};

struct verification_answer {
  std::optional<verification_lease> lease;      // set: verify the password
  gate_refusal refusal = gate_refusal::locked;  // meaningful when !lease
};

class verification_gate {
 public:
  verification_gate(const lockout_policy& policy, shared_counters& counters);

  // Reserves a verification of the account, or refuses it (locked; busy: the verifications in
  // flight use up the budget). A store that fails refuses it as busy (logged): no guess is
  // verified uncounted.
  verification_answer try_reserve(const std::string& company_id, std::int64_t account_id);

 private:
  const lockout_policy& policy_;
  shared_counters& counters_;
};

}  // namespace aterm::cloud::security
