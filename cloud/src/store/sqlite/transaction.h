// The transaction runner of the two ports on the store's SQLite file: the store itself
// (sqlite_store.cpp) and the jobs' lifecycle port (jobs/sqlite_lifecycle_store.cpp). One
// connection guarded by one mutex; each call is one transaction, all or nothing.
// A call made while the same thread already runs one (an operation: store::run_operation) joins
// it as a SAVEPOINT: its failure undoes only its own statements, and everything commits or rolls
// back with the outer transaction.
// Thread-safe: a call holds the (recursive) mutex for its whole transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "aterm/cloud/store.h"
#include "aterm/common/log.h"
#include "sqlite_db.h"

namespace aterm::cloud::sqlite {

template <typename T>
status to_status(const result<T>& r) {
  return r.ok() ? status{} : r.error();
}

// How a write transaction reaches the disk.
enum class durability {
  // As the connection was opened (synchronous FULL by default): the commit is on the disk
  // when write() returns. Every command, result, event, account and access-log change.
  as_opened,
  // synchronous NORMAL for this one transaction: in WAL mode the commit skips its fsync, so a
  // power loss may lose it (never corrupt the file); the next as_opened commit (or checkpoint)
  // syncs the WAL and with it this transaction. Only for data the devices send again anyway
  // (presence and state snapshots).
  relaxed,
};

class transactions {
 public:
  // `component` names the log lines of failed statements (e.g. "store", "jobs").
  transactions(std::unique_ptr<connection> db, const char* component)
      : db_(std::move(db)), component_(component) {}

  // The connection, for the functions run below and for set-up before the object is shared.
  connection& db() { return *db_; }

  // Runs `f` (returning result<T>) in one transaction: COMMIT when it returns ok, ROLLBACK on a
  // failed result or a db_error, which becomes k_store naming `what` and the failing call (and is
  // logged). write() takes the write lock at BEGIN (IMMEDIATE), so two writers never deadlock on
  // an upgrade; read() is a deferred transaction.
  template <typename T, typename F>
  result<T> write(const char* what, F&& f) {
    return run<T>(what, "BEGIN IMMEDIATE", std::forward<F>(f));
  }
  // write() with a chosen durability (above).
  template <typename T, typename F>
  result<T> write(const char* what, durability d, F&& f) {
    return run<T>(what, "BEGIN IMMEDIATE", std::forward<F>(f), d);
  }
  template <typename T, typename F>
  result<T> read(const char* what, F&& f) {
    return run<T>(what, "BEGIN", std::forward<F>(f));
  }
  // write() for a change that answers nothing but its status.
  template <typename F>
  status write_status(const char* what, F&& f) {
    using value = typename result_value<std::invoke_result_t<F&>>::type;
    return to_status(write<value>(what, std::forward<F>(f)));
  }

 private:
  template <typename R>
  struct result_value;
  template <typename T>
  struct result_value<result<T>> {
    using type = T;
  };

  // PRAGMA synchronous cannot change inside a transaction, so a relaxed one is lowered before
  // BEGIN and put back after COMMIT or ROLLBACK (also when a statement threw); the connection
  // is never left relaxed for the next caller.
  class relaxed_sync {
   public:
    explicit relaxed_sync(connection& db) : db_(db) {
      auto q = db_.prepare("PRAGMA synchronous");
      if (q.step()) previous_ = q.i64(0);
      if (previous_ > k_normal) db_.exec_script("PRAGMA synchronous = NORMAL");
    }
    ~relaxed_sync() {
      if (previous_ <= k_normal) return;
      const std::string restore = "PRAGMA synchronous = " + std::to_string(previous_);
      sqlite3_exec(db_.handle(), restore.c_str(), nullptr, nullptr, nullptr);
    }
    relaxed_sync(const relaxed_sync&) = delete;
    relaxed_sync& operator=(const relaxed_sync&) = delete;

   private:
    static constexpr std::int64_t k_normal = 1;  // PRAGMA synchronous values: 1 NORMAL, 2 FULL
    connection& db_;
    std::int64_t previous_ = k_normal;
  };

  // A call inside the thread's running transaction: a savepoint of it.
  template <typename T, typename F>
  result<T> run_nested(const char* what, F&& f) {
    const std::string name = "nested_" + std::to_string(depth_);
    try {
      db_->exec_script(("SAVEPOINT " + name).c_str());
      ++depth_;
      try {
        result<T> r = f();
        --depth_;
        if (!r.ok()) db_->exec_script(("ROLLBACK TO " + name).c_str());
        db_->exec_script(("RELEASE " + name).c_str());
        return r;
      } catch (const db_error&) {
        --depth_;
        const std::string undo = "ROLLBACK TO " + name + "; RELEASE " + name;
        sqlite3_exec(db_->handle(), undo.c_str(), nullptr, nullptr, nullptr);
        throw;
      }
    } catch (const db_error& e) {
      common::log(common::log_level::error, component_, "statement failed",
                  {{"op", what}, {"error", e.what()}});
      return status::error(std::string(k_store), std::string(what) + ": " + e.what());
    }
  }

  template <typename T, typename F>
  result<T> run(const char* what, const char* begin, F&& f, durability d = durability::as_opened) {
    std::lock_guard lock(mu_);
    if (depth_ > 0) return run_nested<T>(what, std::forward<F>(f));
    try {
      std::optional<relaxed_sync> relaxed;
      if (d == durability::relaxed) relaxed.emplace(*db_);
      try {
        db_->exec_script(begin);
        ++depth_;
        result<T> r = [&] {
          try {
            return f();
          } catch (...) {
            --depth_;
            throw;
          }
        }();
        --depth_;
        db_->exec_script(r.ok() ? "COMMIT" : "ROLLBACK");
        return r;
      } catch (const db_error&) {
        sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    } catch (const db_error& e) {
      common::log(common::log_level::error, component_, "statement failed",
                  {{"op", what}, {"error", e.what()}});
      return status::error(std::string(k_store), std::string(what) + ": " + e.what());
    }
  }

  std::recursive_mutex mu_;
  int depth_ = 0;  // transactions of the thread holding mu_ now running (guarded by mu_)
  std::unique_ptr<connection> db_;
  const char* component_;
};

}  // namespace aterm::cloud::sqlite
