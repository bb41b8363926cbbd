// A throwaway PostgreSQL cluster through Debian's initdb and pg_ctl, and the engine switch of the
// suites that run on both store engines.
#include "aterm/test/pg_cluster.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "aterm/test/support.h"

namespace aterm::test {

namespace {

const fs::path k_bin_dir = "/usr/lib/postgresql/15/bin";
constexpr const char* k_server_user = "postgres";
constexpr auto k_pg_ctl_timeout = std::chrono::seconds(120);
constexpr int k_start_attempts = 3;

bool is_root() {
  return ::geteuid() == 0;
}

// A PostgreSQL program, run as `postgres` when we are root (the server refuses to run as root).
std::vector<std::string> server_command(const std::string& program,
                                        const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (is_root()) argv = {"runuser", "-u", k_server_user, "--"};
  argv.push_back((k_bin_dir / program).string());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string sanitised(const std::string& hint, std::size_t max_len) {
  std::string out;
  for (char c : hint) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '_') out.push_back(static_cast<char>(std::tolower(u)));
    if (out.size() == max_len) break;
  }
  return out.empty() ? "db" : out;
}

// /proc/PID/stat: the command name, the state letter and the parent.
struct proc_stat {
  std::string comm;
  char state = '?';
  int ppid = 0;
};

bool read_stat(int pid, proc_stat& out) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  out.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 1));
  rest >> out.state >> out.ppid;
  return static_cast<bool>(rest);
}

// True while `pid` is a process that has not exited (a zombie counts as gone).
bool alive(int pid) {
  proc_stat st;
  return read_stat(pid, st) && st.state != 'Z';
}

// The server's processes outlive pg_ctl, their parent: as a subreaper this process inherits them
// and reaps them here, so none lingers as a zombie (a container's init may never reap it, and a
// zombie server would look alive to the next start). Only processes named postgres are reaped,
// never a child that a `process` of the test waits for.
void reap_servers() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) == 0) continue;
    const int pid = std::atoi(name.c_str());
    proc_stat st;
    if (read_stat(pid, st) && st.ppid == ::getpid() && st.comm == "postgres" && st.state == 'Z') {
      ::waitpid(pid, nullptr, WNOHANG);
    }
  }
}

int postmaster_pid(const fs::path& dir) {
  std::ifstream in(dir / "data" / "postmaster.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

// SIGKILL to the server of `dir` and all its processes; returns once they are gone.
void kill_server(const fs::path& dir) {
  const int pid = postmaster_pid(dir);
  if (pid <= 0) return;
  // pg_ctl starts the server in a session of its own: the group is the server and its backends.
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  wait_until(
      [pid] {
        reap_servers();
        return !alive(pid);
      },
      std::chrono::seconds(30));
  reap_servers();
}

// The data is thrown away: -m immediate skips the shutdown checkpoint and its flushes.
void stop_immediately(const fs::path& dir) {
  run_result r = run(server_command("pg_ctl", {"-D", (dir / "data").string(), "-w", "-t", "60",
                                               "-m", "immediate", "stop"}),
                     {}, {}, k_pg_ctl_timeout);
  if (r.exit_code != 0) kill_server(dir);
  reap_servers();
}

// CREATE DATABASE through `admin_uri` (a superuser's connection to the database postgres).
void create_database_at(const std::string& admin_uri, const std::string& name) {
  PGconn* conn = PQconnectdb(admin_uri.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    // The name holds only [a-z0-9_], so quoting it is enough.
    PGresult* res = PQexec(conn, ("CREATE DATABASE \"" + name + "\"").c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error("CREATE DATABASE " + name + ": " + error);
}

// A database name from `hint`, unique across the processes of one ctest run sharing a cluster.
std::string database_name(const std::string& hint) {
  static std::atomic<int> counter{0};
  return sanitised(hint, 40) + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

}  // namespace

pg_cluster::pg_cluster() : dir_(std::make_unique<temp_dir>("aterm-pg")) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (is_root()) {
    run_result r = run({"chown", k_server_user, dir_->path().string()});
    if (r.exit_code != 0) throw std::runtime_error("pg_cluster: chown: " + r.err);
  }
  // -N: the initial files need no flush (a crash during set-up only fails that test); the running
  // server keeps fsync on.
  run_result r =
      run(server_command("initdb", {"-D", (dir_->path() / "data").string(), "-U", k_server_user,
                                    "--auth=trust", "-E", "UTF8", "--locale=C", "-N"}),
          {}, {}, k_pg_ctl_timeout);
  if (r.exit_code != 0) throw std::runtime_error("pg_cluster: initdb failed: " + r.out + r.err);
  {
    // Appended, so later lines win; the file stays the server user's.
    std::ofstream conf(dir_->path() / "data" / "postgresql.conf", std::ios::app);
    conf << "\n# aterm test cluster\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_->path().string() << "'\n"
         << "fsync = on\n"
         << "max_connections = 200\n"
         << "shared_buffers = 32MB\n"
         << "log_min_messages = warning\n";
  }
  start_on_port();
}

pg_cluster::~pg_cluster() {
  if (!released_) stop_immediately(dir_->path());
}

void pg_cluster::release() {
  released_ = true;
  dir_->keep();
}

void pg_cluster::discard(const fs::path& dir) {
  if (!fs::exists(dir)) return;
  stop_immediately(dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

const fs::path& pg_cluster::dir() const {
  return dir_->path();
}

void pg_cluster::start_on_port() {
  // Another test may take the port between free_port() and the server's bind: pick another.
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    {
      std::ofstream conf(dir_->path() / "data" / "postgresql.conf", std::ios::app);
      conf << "port = " << port_ << "\n";
    }
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      if (attempt == k_start_attempts ||
          std::string(e.what()).find("could not bind") == std::string::npos) {
        throw;
      }
    }
  }
}

void pg_cluster::start() {
  const auto log_file = dir_->path() / "postgres.log";
  const auto before = fs::exists(log_file) ? fs::file_size(log_file) : 0;
  run_result r = run(server_command("pg_ctl", {"-D", (dir_->path() / "data").string(), "-l",
                                               log_file.string(), "-w", "-t", "60", "start"}),
                     {}, {}, k_pg_ctl_timeout);
  if (r.exit_code != 0) {
    std::string log_text = log();
    throw std::runtime_error("pg_cluster: pg_ctl start failed: " + r.out + r.err +
                             log_text.substr(std::min<std::size_t>(before, log_text.size())));
  }
}

void pg_cluster::stop() {
  run_result r = run(server_command("pg_ctl", {"-D", (dir_->path() / "data").string(), "-w", "-t",
                                               "60", "-m", "fast", "stop"}),
                     {}, {}, k_pg_ctl_timeout);
  if (r.exit_code != 0 && running()) {
    throw std::runtime_error("pg_cluster: pg_ctl stop failed: " + r.out + r.err);
  }
  reap_servers();
}

void pg_cluster::restart() {
  run_result r = run(server_command("pg_ctl", {"-D", (dir_->path() / "data").string(), "-l",
                                               (dir_->path() / "postgres.log").string(), "-w", "-t",
                                               "60", "-m", "fast", "restart"}),
                     {}, {}, k_pg_ctl_timeout);
  if (r.exit_code != 0) {
    throw std::runtime_error("pg_cluster: pg_ctl restart failed: " + r.out + r.err + log());
  }
  reap_servers();
}

void pg_cluster::kill() {
  kill_server(dir_->path());
  // Without a subreaper a zombie server still answers kill(pid, 0), and the next start would
  // take its lock files for a running server's; every server process is gone, so they are stale.
  std::error_code ec;
  fs::remove(dir_->path() / "data" / "postmaster.pid", ec);
  fs::remove(dir_->path() / (".s.PGSQL." + std::to_string(port_) + ".lock"), ec);
}

bool pg_cluster::running() const {
  run_result r = run(server_command("pg_ctl", {"-D", (dir_->path() / "data").string(), "status"}),
                     {}, {}, k_pg_ctl_timeout);
  return r.exit_code == 0;
}

std::string pg_cluster::log() const {
  return read_file(dir_->path() / "postgres.log");
}

std::string pg_cluster::uri(const std::string& database) const {
  return "postgresql://" + std::string(k_server_user) + "@127.0.0.1:" + std::to_string(port_) +
         "/" + database;
}

std::string pg_cluster::create_database(const std::string& hint) {
  const std::string name = database_name(hint);
  create_database_at(uri("postgres"), name);
  return uri(name);
}

pg_cluster& shared_pg_cluster() {
  static std::mutex mutex;
  static std::unique_ptr<pg_cluster> cluster;
  std::lock_guard<std::mutex> lock(mutex);
  if (!cluster) cluster = std::make_unique<pg_cluster>();
  return *cluster;
}

db_engine test_engine() {
  const char* v = std::getenv("ATERM_TEST_ENGINE");
  const std::string engine = v == nullptr ? "" : v;
  if (engine.empty() || engine == "sqlite") return db_engine::sqlite;
  if (engine == "postgres") return db_engine::postgres;
  throw std::runtime_error("ATERM_TEST_ENGINE: '" + engine + "' is neither sqlite nor postgres");
}

std::string postgres_db(const std::string& name) {
  const char* handle = std::getenv("ATERM_TEST_POSTGRES");
  if (handle == nullptr || *handle == '\0') return shared_pg_cluster().create_database(name);
  std::ifstream in(handle);
  std::string dir, admin_uri;
  if (!std::getline(in, dir) || !std::getline(in, admin_uri)) {
    throw std::runtime_error(std::string("ATERM_TEST_POSTGRES: no cluster described in ") + handle);
  }
  const std::string database = database_name(name);
  create_database_at(admin_uri, database);
  return admin_uri.substr(0, admin_uri.rfind('/') + 1) + database;
}

std::string test_db(const std::string& name) {
  if (test_engine() == db_engine::postgres) return postgres_db(name);
  static std::mutex mutex;
  static std::unique_ptr<temp_dir> dir;
  static int files = 0;
  std::lock_guard<std::mutex> lock(mutex);
  if (!dir) dir = std::make_unique<temp_dir>("aterm-testdb");
  return (dir->path() / (sanitised(name, 60) + "-" + std::to_string(++files) + ".db")).string();
}

void write_postgres_handle(const fs::path& handle, const pg_cluster& cluster) {
  const fs::path partial = handle.string() + ".partial";
  {
    std::ofstream out(partial);
    out << cluster.dir().string() << "\n" << cluster.uri("postgres") << "\n";
    if (!out) throw std::runtime_error("cannot write " + partial.string());
  }
  fs::rename(partial, handle);
}

}  // namespace aterm::test
