// What the security rules keep in the store so that every aterm-cloud instance on one database
// counts alike (DESIGN.md section 8: N instances enforce the limits of one): timed events per
// counter (the failed logins of an address, of a company, of the platform) and leases (an alarm
// raised for a window, a job run claimed, a password verification in flight).
//
// Persistence only: the rules (login_throttle.h, failure_burst_detector.h, verification_gate.h,
// the daemon's scheduler) choose the counters' names, windows, limits and lease durations and
// pass them in; nothing here knows a threshold. Implemented by cloud::store (store.h). Every
// method is one write transaction of the store, so the read-modify-write of a counter or lease is
// exact across threads, processes and instances. Times are unix milliseconds of the caller's
// clock. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud {

// Decides, inside the transaction that takes a verification lease, whether one more password
// verification of `current` (the account as that transaction read it) may start while
// `in_flight` unexpired leases of it exist. True: the lease is taken.
using verification_admission = std::function<bool(const account& current, std::int64_t in_flight)>;

class shared_counters {
 public:
  virtual ~shared_counters() = default;

  // Adds one event at `at_ms` to `counter`, kept until `expires_at_ms`, deletes the expired
  // events of every counter, and returns the times of `counter`'s newest `limit` events that
  // have not expired at `at_ms` (this one included), newest first.
  virtual common::result<std::vector<std::int64_t>> add_counter_event(const std::string& counter,
                                                                      std::int64_t at_ms,
                                                                      std::int64_t expires_at_ms,
                                                                      std::size_t limit) = 0;
  // The times of `counter`'s newest `limit` events that have not expired at `now_ms`, newest
  // first.
  virtual common::result<std::vector<std::int64_t>> counter_events(const std::string& counter,
                                                                   std::int64_t now_ms,
                                                                   std::size_t limit) = 0;

  // Takes the lease `name` for `holder` until `until_ms` when nobody else holds it at `now_ms`:
  // there is none, it expired (until <= now_ms), or `holder` holds it (then it is extended).
  // True when taken; false when another holder's lease runs.
  virtual common::result<bool> take_lease(const std::string& name, const std::string& holder,
                                          std::int64_t now_ms, std::int64_t until_ms) = 0;

  // In one transaction: deletes the expired verification leases, reads the account and counts
  // its unexpired leases, asks `admit`, and when it agrees adds a lease until `until_ms`.
  // Returns the lease's id, or nullopt when refused. k_not_found when the account is gone.
  virtual common::result<std::optional<std::int64_t>> take_verification_lease(
      const std::string& company_id, std::int64_t account_id, std::int64_t now_ms,
      std::int64_t until_ms, const verification_admission& admit) = 0;
  // Ends a verification lease (gone already: nothing to do).
  virtual common::status release_verification_lease(std::int64_t lease_id) = 0;
};

}  // namespace aterm::cloud
