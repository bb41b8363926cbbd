// The store's transactions through transient failures of their database (store/sql/
// transactions.h): a PostgreSQL backend terminated under the pool, a PostgreSQL server restarted
// or down, and a SQLite file locked by another connection past the busy timeout. A whole
// transaction runs again on a fresh connection; what stays down answers k_unavailable.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/log.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"
#include "sql/transactions.h"
#include "sqlite/sqlite_db.h"

namespace {

using namespace aterm;
using namespace std::chrono_literals;

constexpr std::int64_t k_t0 = 1'800'000'000;

std::atomic<int> g_retries{0};

void count_retries(std::string_view line) {
  if (line.find("transaction retried") != std::string_view::npos) ++g_retries;
}

// Counts the runner's "transaction retried" lines while it lives (other lines are dropped).
struct retry_log {
  retry_log() {
    g_retries = 0;
    common::set_log_sink(&count_retries);
  }
  ~retry_log() { common::set_log_sink(nullptr); }
  retry_log(const retry_log&) = delete;
  retry_log& operator=(const retry_log&) = delete;
};

std::unique_ptr<cloud::store> open(const std::string& db, const common::clock& clock,
                                   int busy_timeout_ms = 5000) {
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = db;
  o.busy_timeout_ms = busy_timeout_ms;
  auto s = cloud::open_store(o, clock);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(s).value();
}

// Terminates every other session on the database of `uri`; returns how many.
std::int64_t terminate_other_backends(const std::string& uri) {
  return test::query_int(uri,
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

}  // namespace

TEST_CASE("postgres: a backend terminated under the pool, the next call succeeds") {
  const std::string uri = test::postgres_db("retry_terminate");
  common::manual_clock clock{common::from_unix_s(k_t0)};
  auto db = open(uri, clock);
  REQUIRE(db->create_company("acme", "Acme").ok());

  retry_log log;
  REQUIRE(terminate_other_backends(uri) >= 1);
  // A write: its first attempt meets the dead connection, the second runs on a fresh one.
  auto created = db->create_company("globex", "Globex");
  CHECK_MESSAGE(created.ok(), created.error().to_string());
  CHECK(g_retries >= 1);
  // Once, not twice: the failed attempt changed nothing.
  CHECK(test::query_int(uri, "SELECT count(*) FROM companies WHERE id = 'globex'") == 1);

  REQUIRE(terminate_other_backends(uri) >= 1);
  auto read = db->get_company("acme");
  CHECK_MESSAGE(read.ok(), read.error().to_string());
}

TEST_CASE(
    "postgres: the server restarted, then down, then back: the store waits through the restart, "
    "answers k_unavailable while down and works again once it is back") {
  // A cluster of its own: the shared one must not restart under other tests.
  test::pg_cluster cluster;
  const std::string uri = cluster.create_database("retry_restart");
  common::manual_clock clock{common::from_unix_s(k_t0)};
  auto db = open(uri, clock);
  REQUIRE(db->create_company("acme", "Acme").ok());

  cluster.restart();
  auto after_restart = db->create_company("globex", "Globex");
  CHECK_MESSAGE(after_restart.ok(), after_restart.error().to_string());

  cluster.stop();
  auto down = db->get_company("acme");
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code() == cloud::k_unavailable);

  cluster.start();
  auto back = db->get_company("globex");
  CHECK_MESSAGE(back.ok(), back.error().to_string());
}

TEST_CASE(
    "sqlite: a write that waits past the busy timeout for another connection's lock runs "
    "again and succeeds once the lock is gone") {
  test::temp_dir dir("retry-sqlite");
  const std::string path = (dir.path() / "store.db").string();
  common::manual_clock clock{common::from_unix_s(k_t0)};
  auto db = open(path, clock, 20);

  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  retry_log log;
  auto write = std::async(std::launch::async, [&] { return db->create_company("acme", "Acme"); });
  // The lock goes only once the store has met it and is about to try again.
  const bool retried = test::wait_until([] { return g_retries >= 1; }, 30s);
  CHECK(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  auto created = write.get();
  CHECK(retried);
  CHECK_MESSAGE(created.ok(), created.error().to_string());
}

TEST_CASE("the connection pool never holds more connections than its size, however many ask") {
  test::temp_dir dir("pool-size-sqlite");
  const std::string path = (dir.path() / "store.db").string();
  const cloud::sqlite::options o;
  constexpr std::size_t k_size = 2;
  std::atomic<std::size_t> opened{0};
  cloud::sql::connection_pool pool(
      [&] {
        ++opened;
        return cloud::sqlite::open_connection(path, o);
      },
      k_size);
  // Eight callers at once, each taking and giving back a connection many times: an idle
  // connection counted as taken only under a second lock let a caller in between open one more.
  std::atomic<std::size_t> held{0};
  std::atomic<std::size_t> most_held{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        pool.acquire();
        const std::size_t now = ++held;
        std::size_t seen = most_held.load();
        while (now > seen && !most_held.compare_exchange_weak(seen, now)) {
        }
        --held;
        pool.release();
      }
    });
  }
  for (auto& c : callers) c.join();
  CHECK(opened.load() <= k_size);
  CHECK(most_held.load() <= k_size);
  CHECK(pool.waiting() == 0);
}

TEST_CASE(
    "sqlite: writers take turns in the order they came, and one that commits and begins again "
    "at once waits behind those already waiting") {
  test::temp_dir dir("write-turns-sqlite");
  const std::string path = (dir.path() / "store.db").string();
  const cloud::sqlite::options o;
  auto busy = cloud::sqlite::open_connection(path, o);
  auto turns = cloud::sqlite::write_turns_of(path);
  std::mutex mu;
  std::vector<std::string> served;  // the order of the write transactions (guarded by mu)
  auto record = [&](const std::string& who) {
    std::lock_guard lk(mu);
    served.push_back(who);
  };
  busy->begin(true, cloud::sql::durability::durable);
  record("busy");
  // Three writers on connections of their own come one after another.
  std::vector<std::thread> writers;
  for (std::size_t i = 1; i <= 3; ++i) {
    writers.emplace_back([&, i] {
      auto db = cloud::sqlite::open_connection(path, o);
      db->begin(true, cloud::sql::durability::durable);
      record("writer-" + std::to_string(i));
      db->commit();
    });
    REQUIRE(test::wait_until([&] { return turns->waiting() == i; }, 30s));
  }
  // The bridge's group commit: commit, and at once the next batch begins.
  busy->commit();
  busy->begin(true, cloud::sql::durability::durable);
  record("busy");
  busy->commit();
  for (auto& t : writers) t.join();
  const std::vector<std::string> in_turn = {"busy", "writer-1", "writer-2", "writer-3", "busy"};
  CHECK(served == in_turn);
}

namespace {

// Refuses to read or set PRAGMA synchronous on the connection it is installed on.
int deny_synchronous(void*, int action, const char* name, const char*, const char*, const char*) {
  const bool synchronous = name != nullptr && std::string_view(name) == "synchronous";
  return action == SQLITE_PRAGMA && synchronous ? SQLITE_DENY : SQLITE_OK;
}

}  // namespace

TEST_CASE("sqlite: a write transaction that fails before it begins gives its write turn back") {
  test::temp_dir dir("write-turn-back-sqlite");
  const std::string path = (dir.path() / "store.db").string();
  cloud::sqlite::options o;
  o.busy_timeout_ms = 300;  // the turn's timeout too
  auto failing = cloud::sqlite::open_connection(path, o);
  auto other = cloud::sqlite::open_connection(path, o);
  sqlite3* handle = static_cast<cloud::sqlite::connection&>(*failing).handle();
  // A relaxed transaction first reads and lowers the synchronous level: make that fail.
  sqlite3_set_authorizer(handle, deny_synchronous, nullptr);
  CHECK_THROWS_AS(failing->begin(true, cloud::sql::durability::relaxed), cloud::sql::db_error);
  sqlite3_set_authorizer(handle, nullptr, nullptr);
  // Nobody writes now: the other connection's turn comes at once.
  REQUIRE_NOTHROW(other->begin(true, cloud::sql::durability::durable));
  other->commit();
  // And the failed one can write again, at its usual level.
  REQUIRE_NOTHROW(failing->begin(true, cloud::sql::durability::relaxed));
  failing->commit();
  auto level = failing->prepare("PRAGMA synchronous");
  REQUIRE(level.step());
  CHECK(level.i64(0) == 2);  // FULL, as open_connection set it
}
