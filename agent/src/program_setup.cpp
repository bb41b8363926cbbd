#include "program_setup.h"

#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "aterm/common/log.h"

namespace aterm::agent {

void fail_log(const std::string& what, const std::string& why) {
  common::log(common::log_level::error, "agent", what, {{"error", why}});
}

data_dir_lock::data_dir_lock(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  const auto p = data_dir / "agent.lock";
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0) ::close(fd_);
}

signal_source::signal_source() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // peers that go away are errors, not a reason to die
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

signal_source::~signal_source() {
  if (fd_ >= 0) ::close(fd_);
}

void signal_source::attach(event_loop& loop, std::function<void()> on_stop) {
  loop.watch(fd_, [this, on_stop = std::move(on_stop)] {
    signalfd_siginfo info;
    bool got = false;
    while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) got = true;
    if (got && !fired_) {
      fired_ = true;
      on_stop();
    }
  });
}

common::result<std::unique_ptr<backend>> make_backend(const router_settings& s,
                                                      const common::clock& clock) {
  if (s.backend_type == "linux") return make_linux_backend(s.linux_backend, clock);
  sim_backend_settings sim;
  sim.file = s.backend_file.empty() ? s.data_dir / "sim.json" : s.backend_file;
  sim.device_id = s.device_id;
  return make_sim_backend(sim, clock);
}

void use_one_malloc_arena() {
#ifdef __GLIBC__
  ::mallopt(M_ARENA_MAX, 1);
#endif
}

void release_free_heap() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

common::result<common::config> load_agent_config(const std::string& path) {
  return common::load_config(path, agent_config_schema());
}

program_setup::program_setup(const std::string& config_path) {
  if (!signals_.ok()) {
    fail_log("signalfd", "cannot watch signals");
    return;
  }
  auto cfg = load_agent_config(config_path);
  if (!cfg.ok()) {
    fail_log("bad configuration", cfg.error().to_string());
    return;
  }
  auto settings = router_settings_from(*cfg);
  if (!settings.ok()) {
    fail_log("bad configuration", settings.error().to_string());
    return;
  }
  lock_.emplace(settings->data_dir);
  if (!lock_->held()) {
    fail_log("cannot lock data_dir (another agent runs?)", settings->data_dir.string());
    return;
  }
  cfg_ = std::move(*cfg);
  settings_ = std::move(*settings);
}

}  // namespace aterm::agent
