#include "transactions.h"

#include <algorithm>
#include <list>
#include <thread>

#include "aterm/cloud/limits.h"
#include "aterm/common/log.h"

namespace aterm::cloud::sql {

namespace {

// The leases of the calling thread, one per pool it runs a transaction on (a thread may run on
// two pools at once: two stores opened by one test).
// A list: a lease stays where it is while others come and go (holding keeps a reference).
std::list<connection_pool::lease>& thread_leases() {
  thread_local std::list<connection_pool::lease> leases;
  return leases;
}

}  // namespace

connection_pool::connection_pool(connection_factory factory, std::size_t size,
                                 std::unique_ptr<connection> first)
    : factory_(std::move(factory)), size_(std::max<std::size_t>(size, 1)) {
  if (first) idle_.push_back(std::move(first));
}

connection_pool::lease* connection_pool::held() const {
  for (auto& l : thread_leases()) {
    if (l.pool == this) return &l;
  }
  return nullptr;
}

connection_pool::lease& connection_pool::acquire() {
  connection* raw = nullptr;
  {
    std::unique_lock lock(mu_);
    ++waiting_;
    freed_.wait(lock,
                [&] { return !idle_.empty() || idle_.size() + taken_.size() + opening_ < size_; });
    --waiting_;
    // Counted as taken under the same lock that found it idle: in between, the next caller
    // would count one connection fewer and open one more than `size`.
    if (!idle_.empty()) {
      raw = idle_.back().get();
      taken_.push_back(std::move(idle_.back()));
      idle_.pop_back();
    } else {
      ++opening_;
    }
  }
  if (raw == nullptr) {
    std::unique_ptr<connection> db;
    try {
      db = factory_();
    } catch (...) {
      std::lock_guard lock(mu_);
      --opening_;
      freed_.notify_all();
      throw;
    }
    raw = db.get();
    std::lock_guard lock(mu_);
    --opening_;
    taken_.push_back(std::move(db));
  }
  auto& leases = thread_leases();
  leases.push_back({this, raw, 1});
  return leases.back();
}

void connection_pool::release() noexcept {
  auto& leases = thread_leases();
  auto it =
      std::find_if(leases.begin(), leases.end(), [&](const lease& l) { return l.pool == this; });
  if (it == leases.end()) return;
  connection* raw = it->db;
  leases.erase(it);
  std::vector<std::unique_ptr<connection>> dropped;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    auto t =
        std::find_if(taken_.begin(), taken_.end(), [&](const auto& c) { return c.get() == raw; });
    if (t == taken_.end()) return;
    std::unique_ptr<connection> db = std::move(*t);
    taken_.erase(t);
    if (db->healthy()) {
      idle_.push_back(std::move(db));
    } else {
      dropped.swap(idle_);
      dropped.push_back(std::move(db));
    }
  }
  freed_.notify_all();
}

std::size_t connection_pool::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

connection& transactions::db() const {
  auto* l = pool_->held();
  if (l == nullptr) throw db_error("no transaction on this thread", "");
  return *l->db;
}

status transactions::failed(const char* what, const db_error& e) const {
  common::log(common::log_level::error, component_, "statement failed",
              {{"op", what}, {"error", e.what()}});
  return status::error(std::string(e.transient() ? k_unavailable : k_store),
                       std::string(what) + ": " + e.what());
}

bool transactions::again(const char* what, const db_error& e, int attempt) const {
  if (!e.transient() || attempt >= limits::k_transaction_attempts) return false;
  // k_transaction_backoff_first, doubled per attempt, at most k_transaction_backoff_max.
  auto wait = limits::k_transaction_backoff_first;
  for (int i = 1; i < attempt && wait < limits::k_transaction_backoff_max; ++i) wait *= 2;
  wait = std::min(wait, limits::k_transaction_backoff_max);
  common::log(common::log_level::warn, component_, "transaction retried",
              {{"op", what},
               {"attempt", static_cast<std::int64_t>(attempt)},
               {"wait_ms", static_cast<std::int64_t>(wait.count())},
               {"error", e.what()}});
  std::this_thread::sleep_for(wait);
  return true;
}

void transactions::undo_savepoint(connection& db, const std::string& name) noexcept {
  try {
    db.exec_script(("ROLLBACK TO " + name + "; RELEASE " + name).c_str());
  } catch (...) {
    // The outer transaction fails with the original error and rolls back whole.
  }
}

}  // namespace aterm::cloud::sql
