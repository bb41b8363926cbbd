// The transaction runner of the ports on the store's database, whatever its engine: the store
// itself (sql_store.cpp) and the jobs' lifecycle port (lifecycle_store.cpp), which share one
// connection pool when opened together. Each call is one transaction, all or nothing, on a
// connection of the pool (SQLite: one; PostgreSQL: store.pool_size): the outermost call of a
// thread takes a free connection, waiting while every one is busy, and gives it back when it
// ends. A call made while the same thread already runs one on the pool (an operation:
// store::run_operation) joins it on the same connection as a SAVEPOINT: its failure undoes only
// its own statements, and everything commits or rolls back with the outer transaction.
// A connection the engine reports unusable (healthy() false) is dropped when given back, with
// the idle ones; the factory opens fresh ones when the pool next needs them.
// A transient failure of the engine (sql.h: connection lost, server restarting, serialization
// failure, deadlock; SQLite busy or locked) runs the outermost transaction again, whole, on a
// fresh connection, after a short backoff (limits.h: k_transaction_attempts), so a database
// restart costs its callers a wait instead of an error. A savepoint is never run again on its
// own, a commit whose outcome is unknown (the connection went during COMMIT) is never run again,
// and neither is a body that acts outside the database (write_once: store::run_operation). A
// transient failure that outlasts the attempts answers k_unavailable; any other one k_store.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "aterm/cloud/store.h"
#include "sql.h"

namespace aterm::cloud::sql {

template <typename T>
status to_status(const result<T>& r) {
  return r.ok() ? status{} : r.error();
}

// Opens one more connection to the database (schema already migrated). Throws db_error.
using connection_factory = std::function<std::unique_ptr<connection>()>;

class connection_pool {
 public:
  // `first`: an open connection the pool starts with (may be null). `size` >= 1.
  connection_pool(connection_factory factory, std::size_t size,
                  std::unique_ptr<connection> first = nullptr);
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  // The calling thread's hold on a connection of this pool.
  struct lease {
    const connection_pool* pool;
    connection* db;
    int depth;  // transactions of the thread running on it
  };
  // The calling thread's lease on this pool, or null.
  lease* held() const;

  // Takes a free connection (opening one while fewer than `size` are open, else waiting) and
  // records the calling thread's lease on it. Throws db_error when the factory fails. A free
  // connection goes to whoever asks first, also to a thread that has just released it: serving
  // callers strictly in arrival order handed SQLite's one connection to another thread at every
  // transaction, each hand-over a wake-up, and bench_api's 20,000 command POSTs (several
  // transactions each, four clients) took 60 to 84 s instead of 11 to 14 s.
  lease& acquire();
  // Ends the calling thread's lease; the connection goes back to the pool, or is dropped when
  // it is no longer healthy, and with it every idle one: the others to the same server are
  // likely dead too (a restart), and healthy() learns that only when one is used.
  void release() noexcept;
  // How many callers wait in acquire() now.
  std::size_t waiting() const;

 private:
  connection_factory factory_;
  std::size_t size_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<connection>> idle_;   // guarded by mu_
  std::vector<std::unique_ptr<connection>> taken_;  // leased now (guarded by mu_)
  std::size_t opening_ = 0;                         // factory calls under way (guarded by mu_)
  std::size_t waiting_ = 0;                         // acquire() calls waiting (guarded by mu_)
};

class transactions {
 public:
  // `component` names the log lines of failed statements (e.g. "store", "jobs").
  transactions(std::shared_ptr<connection_pool> pool, const char* component)
      : pool_(std::move(pool)), component_(component) {}

  const std::shared_ptr<connection_pool>& pool() const { return pool_; }

  // The connection of the calling thread's running transaction. Throws db_error outside one.
  connection& db() const;

  // Runs `f` (returning result<T>) in one transaction: COMMIT when it returns ok, ROLLBACK on a
  // failed result or a db_error, which becomes k_store (k_unavailable when transient) naming
  // `what` and the failing call (and is logged). write() excludes every other write transaction
  // on the database (sql.h), with the durability chosen (durable unless said); read() sees one
  // snapshot. `f` may run more than once (a transient failure, above): it must change nothing
  // but the database.
  template <typename T, typename F>
  result<T> write(const char* what, F&& f) {
    return run<T>(what, true, durability::durable, rerun::allowed, std::forward<F>(f));
  }
  template <typename T, typename F>
  result<T> write(const char* what, durability d, F&& f) {
    return run<T>(what, true, d, rerun::allowed, std::forward<F>(f));
  }
  template <typename T, typename F>
  result<T> read(const char* what, F&& f) {
    return run<T>(what, false, durability::durable, rerun::allowed, std::forward<F>(f));
  }
  // write() for a body that acts outside the database too (an API operation answers, logs and
  // notifies): it runs at most once, and a transient failure answers k_unavailable at once.
  template <typename T, typename F>
  result<T> write_once(const char* what, F&& f) {
    return run<T>(what, true, durability::durable, rerun::never, std::forward<F>(f));
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

  enum class rerun { allowed, never };

  status failed(const char* what, const db_error& e) const;
  // After attempt `attempt` of `what` failed with `e`: true (after the backoff) when the
  // transaction is to run again.
  bool again(const char* what, const db_error& e, int attempt) const;

  // A call inside the thread's running transaction: a savepoint of it.
  template <typename T, typename F>
  result<T> run_nested(connection_pool::lease& l, const char* what, F&& f) {
    const std::string name = "nested_" + std::to_string(l.depth);
    connection& db = *l.db;
    try {
      db.exec_script(("SAVEPOINT " + name).c_str());
      ++l.depth;
      try {
        result<T> r = f();
        --l.depth;
        if (!r.ok()) db.exec_script(("ROLLBACK TO " + name).c_str());
        db.exec_script(("RELEASE " + name).c_str());
        return r;
      } catch (...) {
        --l.depth;
        undo_savepoint(db, name);
        throw;
      }
    } catch (const db_error& e) {
      return failed(what, e);
    }
  }

  static void undo_savepoint(connection& db, const std::string& name) noexcept;

  // The outermost call of the thread: holds a connection of the pool for the transaction and
  // gives it back however the call ends, rolled back unless it committed.
  class holding {
   public:
    explicit holding(connection_pool& pool) : pool_(pool), lease_(pool.acquire()) {}
    ~holding() {
      if (open_) lease_.db->rollback();
      pool_.release();
    }
    holding(const holding&) = delete;
    holding& operator=(const holding&) = delete;
    connection& db() { return *lease_.db; }
    void set_open(bool open) { open_ = open; }

   private:
    connection_pool& pool_;
    connection_pool::lease& lease_;
    bool open_ = false;
  };

  template <typename T, typename F>
  result<T> run(const char* what, bool write, durability d, rerun mode, F&& f) {
    if (auto* l = pool_->held()) return run_nested<T>(*l, what, std::forward<F>(f));
    for (int attempt = 1;; ++attempt) {
      // A COMMIT whose connection went may have committed: running the body again could do
      // its change twice (a second command, a second access-log record).
      bool outcome_unknown = false;
      try {
        holding hold(*pool_);
        connection& db = hold.db();
        db.begin(write, d);
        hold.set_open(true);
        result<T> r = f();
        if (r.ok()) {
          try {
            db.commit();
          } catch (const db_error&) {
            outcome_unknown = !db.healthy();
            throw;
          }
        } else {
          db.rollback();
        }
        hold.set_open(false);
        return r;
      } catch (const db_error& e) {
        if (mode == rerun::never || outcome_unknown || !again(what, e, attempt)) {
          return failed(what, e);
        }
      }
    }
  }

  std::shared_ptr<connection_pool> pool_;
  const char* component_;
};

// The connection of the calling thread's transaction on `tx` (transactions::db()), so a port
// writes db_->prepare(...) inside its transactions whichever connection of the pool runs them.
class current_connection {
 public:
  explicit current_connection(const transactions& tx) : tx_(tx) {}
  connection* operator->() const { return &tx_.db(); }
  connection& operator*() const { return tx_.db(); }

 private:
  const transactions& tx_;
};

}  // namespace aterm::cloud::sql
