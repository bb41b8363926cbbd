// Account lock rules (DESIGN.md section 5, "account lock" and "inactive accounts"):
// `threshold` consecutive failed logins lock the account for `lock_duration`; while locked a
// login fails without checking the password; a success resets the count. A failed-logins lock
// (or a lock an administrator set) can be lifted early by an administrator of the company; an
// inactivity lock has no end and only a site administrator can lift it.
//
// lockout_policy is pure (state in, state out) over the lock fields of model.h
// (account_lock_state; lock_state_of() reads them from an account).
//
// login_gate adds the in-process part: concurrent logins of one account reserve verification
// slots against the remaining budget, so 50 parallel wrong passwords cost at most `threshold`
// password verifications before the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/cloud/model.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/common/clock.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// The lock fields of an account (model.h); lock_reason is aterm::cloud::lock_reason.
using cloud::account_lock_state;

using cloud::lock_state_of;

enum class login_decision { check_password, refuse_locked };

// What a failed login did to the account.
struct failure_outcome {
  account_lock_state state;  // persist this
  bool locked_now = false;   // this failure locked the account: log it, end its sessions
};

// Who lifts a lock.
enum class unlocker { company_administrator, site_administrator };

// Immutable; thread-safe. Takes now from `clock`.
class lockout_policy {
 public:
  lockout_policy(lockout_settings settings, const common::clock& clock);

  const lockout_settings& settings() const { return settings_; }
  const common::clock& clock() const { return clock_; }

  // The state as it stands now: an expired failed_logins lock is gone and its count reset.
  account_lock_state current(const account_lock_state& stored) const;
  bool is_locked(const account_lock_state& stored) const;
  login_decision decide(const account_lock_state& stored) const;
  // Failures still allowed before the lock (0 while locked).
  std::int64_t remaining_budget(const account_lock_state& stored) const;

  // After a wrong password: one more failure; the one that reaches the threshold locks the
  // account until now + lock_duration. On a locked account (another login locked it while this
  // password was verified) the failure is counted and the lock stays as it is.
  failure_outcome after_failure(const account_lock_state& stored) const;
  // After a right password: count reset and no lock. On a locked account (locked while this
  // password was verified) the count is reset and the lock stays.
  account_lock_state after_success(const account_lock_state& stored) const;

  // Lifting a lock early. A company administrator may lift a failed_logins or administrator
  // lock; only a site administrator lifts an inactivity lock. Errors: "not_locked",
  // "not_permitted". The returned state has no lock and a zero count.
  common::result<account_lock_state> unlock(const account_lock_state& stored, unlocker who) const;
  // A lock without end: lock_reason::inactivity (the inactivity job) or ::administrator.
  // REQUIRES: reason is one of those two.
  account_lock_state lock_without_end(const account_lock_state& stored, lock_reason reason) const;

 private:
  lockout_settings settings_;
  const common::clock& clock_;
};

class login_gate;

// One reserved password verification. Move-only. Report exactly one of failed() / succeeded()
// after verifying; a ticket dropped without a report releases its slot and changes nothing
// (e.g. the verification could not run). May be used from any thread; the gate must outlive it.
class [[nodiscard]] login_ticket {
 public:
  login_ticket(login_ticket&& other) noexcept;
  login_ticket& operator=(login_ticket&& other) noexcept;
  login_ticket(const login_ticket&) = delete;
  login_ticket& operator=(const login_ticket&) = delete;
  ~login_ticket();

  // The password was wrong. Returns the state to persist (counted against every concurrent
  // failure of the account in this process, so none is lost).
  failure_outcome failed();
  // The password was right. Returns the state to persist (no lock, zero count).
  account_lock_state succeeded();

 private:
  friend class login_gate;
  login_ticket(login_gate* gate, std::string key) : gate_(gate), key_(std::move(key)) {}
  void release();
  login_gate* gate_ = nullptr;
  std::string key_;
};

enum class gate_refusal {
  locked,  // the account is locked: refuse without checking the password
  busy,    // verifications already in flight use up the remaining budget: refuse likewise
};

struct gate_answer {
  std::optional<login_ticket> ticket;  // set: verify the password, then report on the ticket
  gate_refusal refusal = gate_refusal::locked;  // meaningful when !ticket
};

// The per-account in-process gate. Thread-safe (one mutex). Usage by the login route:
//   state = lock_state_of(store.find_account(...));
//   auto a = gate.try_acquire(account_key, state);
//   if (!a.ticket) -> 401, audit "refused: locked" (no hashing)
//   ok = verify_password(...);                 // on a worker thread
//   ok ? a.ticket->succeeded() : a.ticket->failed();
//   store.record_login_success/failure(..., [&](stored) { return policy.after_...(stored); });
// The store applies the policy to the state as stored, in the transaction that writes it, so
// every failure counts once whichever process saw it. The gate merges what it saw in this
// process with the stored state (the more restrictive wins), so a stale read cannot widen the
// budget of verifications in flight. An unlock (unlock()) must also call reset() here.
class login_gate {
 public:
  explicit login_gate(lockout_policy policy);
  login_gate(const login_gate&) = delete;
  login_gate& operator=(const login_gate&) = delete;
  // REQUIRES: no ticket of this gate is alive.
  ~login_gate();

  gate_answer try_acquire(std::string_view account_key, const account_lock_state& stored);
  // Forget the in-process state of an account (after an administrator unlocked it).
  void reset(std::string_view account_key);

  // Password verifications granted since construction (each ticket is one). For /metrics.
  std::uint64_t verifications() const { return verifications_.load(); }
  // Accounts with in-process state (for tests and metrics).
  std::size_t tracked_accounts() const;
  const lockout_policy& policy() const { return policy_; }

 private:
  friend class login_ticket;
  struct entry {
    account_lock_state state;
    std::int64_t in_flight = 0;
    std::int64_t touched_s = 0;  // last acquire or report (unix seconds)
  };
  failure_outcome report_failure(const std::string& key);
  account_lock_state report_success(const std::string& key);
  void report_abandoned(const std::string& key);
  // REQUIRES: mu_ held. Drops entries with nothing in flight and nothing to remember.
  void sweep_locked();

  lockout_policy policy_;
  mutable std::mutex mu_;
  std::map<std::string, entry, std::less<>> entries_;
  std::size_t acquisitions_ = 0;
  std::atomic<std::uint64_t> verifications_{0};
};

}  // namespace aterm::cloud::security
