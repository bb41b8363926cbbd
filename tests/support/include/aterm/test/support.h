// Helpers for integration tests: temporary folders, free ports, child processes, waiting on a
// condition with a deadline, and a real Mosquitto with a dev PKI (as Mosquitto's test/broker/).
// Nothing here sleeps as synchronisation: wait_until polls a condition until a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aterm::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Absolute path of the source tree (for scripts/) and the build tree (for binaries).
fs::path source_dir();
fs::path build_dir();
// build_dir()/<relative>, e.g. binary("agent/aterm-agent").
fs::path binary(const std::string& relative);

// A fresh folder <prefix>-XXXXXX under $TMPDIR (/tmp when unset) or under `parent` (e.g.
// /dev/shm), removed with its contents on destruction.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "aterm-test", const fs::path& parent = {});
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  // Leaves the folder in place on destruction (something outliving the test owns it now).
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

// Writes `dir`/`name`, a /bin/sh script running `body`, executable by its owner only (a hook
// program or a stand-in for one of Debian's programs); returns its path.
fs::path write_script(const fs::path& dir, const std::string& name, const std::string& body);

// A TCP port on 127.0.0.1 that was free when asked: random in 20000-32767 (below the kernel's
// ephemeral range, so no outgoing connection holds it), checked by binding it.
int free_port();

// Polls `cond` every `step` until it is true or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds step = 10ms);

// Runs a program to completion; captures stdout and stderr. `input` is written to stdin.
struct run_result {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};
run_result run(const std::vector<std::string>& argv, const std::string& input = {},
               const std::map<std::string, std::string>& env = {},
               std::chrono::milliseconds timeout = 120s);
// Runs the cloud daemon's CLI from the build tree: `aterm-cloud <args...> --config <config>`.
run_result cloud_cli(const fs::path& config, const std::vector<std::string>& args);

// A background child process (fork + execv, its own process group). stdout and stderr go to
// `log_file` when given. The destructor sends SIGTERM, waits up to 5 s, then SIGKILL.
class process {
 public:
  process(const std::vector<std::string>& argv, const fs::path& log_file = {},
          const std::map<std::string, std::string>& env = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig` (SIGTERM, SIGKILL, ...) and, unless `wait` is false, reaps the child.
  // Returns the exit code (or -signal).
  int stop(int sig = 15, std::chrono::milliseconds timeout = 10s);
  // Contents of the log file so far ("" without one).
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  fs::path log_file_;
};

// A dev PKI made by `scripts/dev-pki init DIR`.
class dev_pki {
 public:
  explicit dev_pki(const fs::path& dir);  // runs init; REQUIRES success (asserts via exception)
  const fs::path& dir() const { return dir_; }
  fs::path ca() const { return dir_ / "ca.pem"; }
  fs::path ca_key() const { return dir_ / "ca.key"; }
  fs::path server_cert() const { return dir_ / "server.pem"; }
  fs::path server_key() const { return dir_ / "server.key"; }
  fs::path cloud_cert() const { return dir_ / "cloud.pem"; }
  fs::path cloud_key() const { return dir_ / "cloud.key"; }
  // The factory's claim key (docs/device-claim.md), for the cloud's device.claim_key_file.
  fs::path claim_key() const { return dir_ / "claim.key"; }
  // The label code `device(id)` wrote to DIR/devices/ID.claim ("" before device(id)).
  std::string claim_code(const std::string& id) const;
  // `scripts/dev-pki device DIR ID`; returns {cert, key}.
  std::pair<fs::path, fs::path> device(const std::string& id) const;
  // `scripts/dev-pki cloud DIR NAME`: one more cloud instance's identity; returns {cert, key}.
  // A running broker grants it the bridge's ACL after its next reload() or start().
  std::pair<fs::path, fs::path> cloud(const std::string& name) const;
  // `scripts/dev-pki revoke DIR ID`: ID is a device ID, aterm-cloud-NAME or aterm-cloud.
  void revoke(const std::string& id) const;

 private:
  fs::path dir_;
};

// A real Mosquitto started by `scripts/broker DIR PORT` on a free port, waited for until it
// accepts TLS connections. restart() keeps the port (for reconnect tests).
class broker {
 public:
  explicit broker(const dev_pki& pki);
  ~broker();
  int port() const { return port_; }
  std::string uri() const { return "ssl://127.0.0.1:" + std::to_string(port_); }
  void stop();
  // SIGKILL to Mosquitto and its script: a crash, which publishes no Last Will.
  void kill();
  void start();
  // Sends SIGHUP to scripts/broker, which re-renders the ACL (dev_pki::cloud) and passes it on:
  // Mosquitto 2.0.11 re-reads its configuration, ACL and CRL (dev_pki::revoke). Returns once
  // Mosquitto logged the reload.
  void reload();
  std::string log() const;

 private:
  void wait_ready();
  const dev_pki& pki_;
  int port_;
  std::unique_ptr<process> proc_;
};

}  // namespace aterm::test
