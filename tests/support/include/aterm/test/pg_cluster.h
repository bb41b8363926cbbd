// A throwaway PostgreSQL 15 for tests, from Debian's packages (/usr/lib/postgresql/15/bin):
// initdb into a temp folder and pg_ctl on a free port of 127.0.0.1, the unix socket in that
// folder, never the system service. As root the server runs as the user `postgres` (runuser), which
// owns the folder. Trust authentication, for local tests only; fsync stays on, so durability tests
// see what a real server keeps.
//
// A ctest run shares one cluster among its test processes: the CTest fixture aterm_postgres
// (tests/support/CMakeLists.txt) starts it with `aterm-test-postgres start HANDLE` and names it
// to the tests in ATERM_TEST_POSTGRES=HANDLE; postgres_db() and test_db() make their databases
// there. Without that variable (a test binary run by hand) a process starts its own cluster
// (shared_pg_cluster()). A test that restarts or kills the server makes a pg_cluster of its own.
// A fresh database per create_database(); test_db() picks the engine a suite runs on from
// ATERM_TEST_ENGINE. Not thread-safe except create_database(), shared_pg_cluster(),
// postgres_db() and test_db(), which may be called from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace aterm::test {

class temp_dir;

class pg_cluster {
 public:
  // initdb and start, waiting until the server accepts connections. Throws std::runtime_error
  // (with the server's log) when it cannot.
  pg_cluster();
  // pg_ctl stop -m immediate (SIGKILL if that fails); the folder is removed.
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  int port() const { return port_; }
  // The folder holding data/, the unix socket and postgres.log.
  const std::filesystem::path& dir() const;

  // A new empty database (CREATE DATABASE) named after `hint` (lower-cased, other characters
  // than [a-z0-9_] dropped) plus the process id and a counter, so that processes sharing the
  // cluster never collide; returns its URI.
  std::string create_database(const std::string& hint = "test");
  // postgresql://postgres@127.0.0.1:PORT/DATABASE
  std::string uri(const std::string& database) const;

  // pg_ctl restart -m fast: every client loses its connection, committed data stays; same port.
  void restart();
  // pg_ctl stop -m fast; start() brings it back on the same port.
  void stop();
  void start();
  // SIGKILL to the server and all its processes, as a crash or power loss of the database host
  // would; start() runs crash recovery. Returns once every server process is gone.
  void kill();
  // True while the server answers (pg_ctl status).
  bool running() const;
  // The server's log so far.
  std::string log() const;

  // Leaves the server running and its folder in place when this object goes (the cluster of the
  // aterm_postgres fixture); discard(dir()) stops and removes it later.
  void release();
  // Stops the cluster in `dir` (pg_ctl stop -m immediate, SIGKILL if that fails) and removes the
  // folder. Nothing happens for a folder that does not exist.
  static void discard(const std::filesystem::path& dir);

 private:
  void start_on_port();

  std::unique_ptr<temp_dir> dir_;
  bool released_ = false;
  int port_ = 0;
};

// The process-wide cluster: started on first use, stopped when the process exits.
pg_cluster& shared_pg_cluster();

enum class db_engine { sqlite, postgres };

// ATERM_TEST_ENGINE: unset, empty or `sqlite` -> sqlite; `postgres` -> postgres. Any other value
// throws std::runtime_error, so a typo cannot silently run a suite on the wrong engine.
db_engine test_engine();

// The URI of a new, empty PostgreSQL database named after `name`: on the cluster that
// ATERM_TEST_POSTGRES names, else on shared_pg_cluster().
std::string postgres_db(const std::string& name);

// A fresh, empty store database for the engine of test_engine(): a path of a not yet existing
// SQLite file in a process-wide temp folder, or postgres_db(name). `name` makes it recognisable
// (file or database name); every call returns a new one.
std::string test_db(const std::string& name);

// The fixture's handle file: the cluster's folder on the first line, the URI of its database
// `postgres` (for CREATE DATABASE) on the second.
void write_postgres_handle(const std::filesystem::path& handle, const pg_cluster& cluster);

}  // namespace aterm::test
