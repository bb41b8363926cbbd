#include "aterm/cloud/security/lockout_policy.h"

#include <algorithm>
#include <cassert>

#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::security {

lockout_policy::lockout_policy(lockout_settings settings, const common::clock& clock)
    : settings_(settings), clock_(clock) {
  assert(settings_.threshold >= 1);
}

account_lock_state lockout_policy::current(const account_lock_state& stored) const {
  if (stored.locked == lock_reason::failed_logins) {
    // A failed_logins lock without an end would never open; treat it as ended at once rather
    // than locking the account forever by a storage slip.
    if (!stored.locked_until_s || *stored.locked_until_s <= clock_.now_s()) {
      return account_lock_state{};
    }
  }
  return stored;
}

bool lockout_policy::is_locked(const account_lock_state& stored) const {
  return current(stored).locked != lock_reason::none;
}

login_decision lockout_policy::decide(const account_lock_state& stored) const {
  return is_locked(stored) ? login_decision::refuse_locked : login_decision::check_password;
}

std::int64_t lockout_policy::remaining_budget(const account_lock_state& stored) const {
  const account_lock_state now = current(stored);
  if (now.locked != lock_reason::none) return 0;
  return std::max<std::int64_t>(0, settings_.threshold - now.failed_count);
}

failure_outcome lockout_policy::after_failure(const account_lock_state& stored) const {
  account_lock_state next = current(stored);
  const bool was_locked = next.locked != lock_reason::none;
  ++next.failed_count;
  failure_outcome out;
  if (!was_locked && next.failed_count >= settings_.threshold) {
    next.locked = lock_reason::failed_logins;
    next.locked_until_s = clock_.now_s() + settings_.lock_duration.count();
    out.locked_now = true;
  }
  out.state = next;
  return out;
}

account_lock_state lockout_policy::after_success(const account_lock_state& stored) const {
  account_lock_state next = current(stored);
  if (next.locked == lock_reason::none) return account_lock_state{};
  next.failed_count = 0;
  return next;
}

common::result<account_lock_state> lockout_policy::unlock(const account_lock_state& stored,
                                                          unlocker who) const {
  const account_lock_state now = current(stored);
  if (now.locked == lock_reason::none) {
    return common::status::error("not_locked", "the account is not locked");
  }
  if (now.locked == lock_reason::inactivity && who != unlocker::site_administrator) {
    return common::status::error("not_permitted",
                                 "only a site administrator can lift an inactivity lock");
  }
  return account_lock_state{};
}

account_lock_state lockout_policy::lock_without_end(const account_lock_state& stored,
                                                    lock_reason reason) const {
  assert(reason == lock_reason::inactivity || reason == lock_reason::administrator);
  account_lock_state next = stored;
  next.locked = reason;
  next.locked_until_s.reset();
  return next;
}

// ---- login_ticket ----

login_ticket::login_ticket(login_ticket&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)), key_(std::move(other.key_)) {}

login_ticket& login_ticket::operator=(login_ticket&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = std::exchange(other.gate_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

login_ticket::~login_ticket() {
  release();
}

void login_ticket::release() {
  if (gate_ != nullptr) std::exchange(gate_, nullptr)->report_abandoned(key_);
}

failure_outcome login_ticket::failed() {
  assert(gate_ != nullptr && "a ticket is reported once");
  return std::exchange(gate_, nullptr)->report_failure(key_);
}

account_lock_state login_ticket::succeeded() {
  assert(gate_ != nullptr && "a ticket is reported once");
  return std::exchange(gate_, nullptr)->report_success(key_);
}

// ---- login_gate ----

namespace {

// The more restrictive of two states (both already current()): a lock wins, a lock without end
// wins over one with an end, a later end wins; otherwise the higher count.
account_lock_state stricter(const account_lock_state& a, const account_lock_state& b) {
  auto rank = [](const account_lock_state& s) {
    if (s.locked == lock_reason::none) return 0;
    return s.locked == lock_reason::failed_logins ? 1 : 2;
  };
  if (rank(a) != rank(b)) return rank(a) > rank(b) ? a : b;
  if (rank(a) == 1) return a.locked_until_s.value_or(0) >= b.locked_until_s.value_or(0) ? a : b;
  return a.failed_count >= b.failed_count ? a : b;
}

}  // namespace

login_gate::login_gate(lockout_policy policy) : policy_(policy) {}

login_gate::~login_gate() {
  for ([[maybe_unused]] const auto& [key, e] : entries_) {
    assert(e.in_flight == 0 && "a login_ticket outlived its gate");
  }
}

gate_answer login_gate::try_acquire(std::string_view account_key,
                                    const account_lock_state& stored) {
  std::lock_guard lock(mu_);
  if (++acquisitions_ % limits::k_gate_sweep_every == 0) sweep_locked();
  auto it = entries_.find(account_key);
  if (it == entries_.end()) it = entries_.emplace(std::string(account_key), entry{}).first;
  entry& e = it->second;
  e.touched_s = policy_.clock().now_s();
  e.state = stricter(policy_.current(e.state), policy_.current(stored));

  gate_answer answer;
  if (e.state.locked != lock_reason::none) {
    answer.refusal = gate_refusal::locked;
  } else if (policy_.remaining_budget(e.state) - e.in_flight <= 0) {
    answer.refusal = gate_refusal::busy;
  } else {
    ++e.in_flight;
    verifications_.fetch_add(1);
    answer.ticket.emplace(login_ticket(this, it->first));
    return answer;
  }
  if (e.in_flight == 0 && e.state == account_lock_state{}) entries_.erase(it);
  return answer;
}

void login_gate::reset(std::string_view account_key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(account_key);
  if (it == entries_.end()) return;
  it->second.state = account_lock_state{};
  if (it->second.in_flight == 0) entries_.erase(it);
}

std::size_t login_gate::tracked_accounts() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

failure_outcome login_gate::report_failure(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  assert(it != entries_.end());
  entry& e = it->second;
  --e.in_flight;
  e.touched_s = policy_.clock().now_s();
  failure_outcome out;
  const account_lock_state now = policy_.current(e.state);
  if (now.locked != lock_reason::none) {
    // Another verification of this account locked it meanwhile; this failure adds nothing.
    out.state = now;
  } else {
    out = policy_.after_failure(now);
  }
  e.state = out.state;
  return out;
}

account_lock_state login_gate::report_success(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  assert(it != entries_.end());
  --it->second.in_flight;
  it->second.state = account_lock_state{};
  if (it->second.in_flight == 0) entries_.erase(it);
  return account_lock_state{};
}

void login_gate::report_abandoned(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  assert(it != entries_.end());
  if (--it->second.in_flight == 0 && it->second.state == account_lock_state{}) entries_.erase(it);
}

void login_gate::sweep_locked() {
  // An idle entry without a running lock only repeats what the store holds by now (the route
  // writes every report), so it can go; locked entries stay until their lock runs out.
  const std::int64_t now_s = policy_.clock().now_s();
  std::erase_if(entries_, [&](const auto& kv) {
    const entry& e = kv.second;
    return e.in_flight == 0 && now_s - e.touched_s >= limits::k_gate_idle_s &&
           policy_.current(e.state).locked == lock_reason::none;
  });
}

}  // namespace aterm::cloud::security
