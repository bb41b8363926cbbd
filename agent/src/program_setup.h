// What the `aterm-agent` programs (programs.h) share: error logging, the data_dir lock, the
// signalfd for SIGTERM/SIGINT, backend choice and the start-up of `run` and `simulate`.
// Internal to the agent library. Thread: the program's main thread (the agent thread).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "aterm/agent/agent_config.h"
#include "aterm/agent/backend.h"
#include "aterm/agent/event_loop.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"

namespace aterm::agent {

// Logs an error line of the agent (never a secret in `why`).
void fail_log(const std::string& what, const std::string& why);

// The data_dir lock: held by a running agent (or simulate), and by login-check when it works on
// the store itself; released at destruction.
class data_dir_lock {
 public:
  explicit data_dir_lock(const std::filesystem::path& data_dir);
  ~data_dir_lock();
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Signals: SIGTERM and SIGINT are blocked in every thread (before any thread starts, so the MQTT
// link's threads inherit the mask) and read from a signalfd that the agent thread watches, so no
// thread sits waiting for them. Also ignores SIGPIPE.
class signal_source {
 public:
  signal_source();
  ~signal_source();
  signal_source(const signal_source&) = delete;
  signal_source& operator=(const signal_source&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Calls `on_stop` on the loop thread at the first SIGTERM/SIGINT. REQUIRES: `loop` stops
  // running before this object is destroyed.
  void attach(event_loop& loop, std::function<void()> on_stop);

 private:
  int fd_ = -1;
  bool fired_ = false;
};

// The backend `s.backend_type` names; sim keeps its file at backend_file or data_dir/sim.json.
common::result<std::unique_ptr<backend>> make_backend(const router_settings& s,
                                                      const common::clock& clock);

// Loads an agent configuration file (agent_config_schema).
common::result<common::config> load_agent_config(const std::string& path);

// Memory of a one-router process (`run`; issue 8's private-dirty budget): one malloc arena for
// all threads, so the TLS state the MQTT link's thread builds does not hold an arena of its own.
// Call before any thread starts. No-op outside glibc.
void use_one_malloc_arena();
// Returns the free pages of every malloc arena to the kernel (what a TLS handshake allocated
// and freed). No-op outside glibc.
void release_free_heap();

// What `run` and `simulate` set up before their routers: SIGTERM/SIGINT blocked and watched,
// the configuration loaded, the router settings read and data_dir locked (until destruction).
// Logs the first failure; ok() is false then.
class program_setup {
 public:
  explicit program_setup(const std::string& config_path);
  program_setup(const program_setup&) = delete;
  program_setup& operator=(const program_setup&) = delete;

  bool ok() const { return lock_ && lock_->held(); }
  // REQUIRES: ok() for the two below.
  const common::config& config() const { return *cfg_; }
  router_settings& settings() { return *settings_; }
  signal_source& signals() { return signals_; }

 private:
  signal_source signals_;
  std::optional<common::config> cfg_;
  std::optional<router_settings> settings_;
  std::optional<data_dir_lock> lock_;
};

}  // namespace aterm::agent
