#include "aterm/agent/programs.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "aterm/agent/agent_config.h"
#include "aterm/agent/limits.h"
#include "aterm/agent/local_socket.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "aterm/common/x509_mint.h"

namespace aterm::agent {

namespace {

using common::log_level;
namespace proto = common::protocol;

void fail_log(const std::string& what, const std::string& why) {
  common::log(log_level::error, "agent", what, {{"error", why}});
}

// The data_dir lock: held by a running agent (or simulate), and by login-check when it works on
// the store itself; released at destruction.
class data_dir_lock {
 public:
  explicit data_dir_lock(const std::filesystem::path& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    const auto p = data_dir / "agent.lock";
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~data_dir_lock() {
    if (fd_ >= 0) ::close(fd_);
  }
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Signals: SIGTERM and SIGINT are blocked in every thread (before any thread starts, so Paho's
// threads inherit the mask) and read from a signalfd that the agent thread watches, so no thread
// sits waiting for them.
class signal_source {
 public:
  signal_source() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // peers that go away are errors, not a reason to die
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~signal_source() {
    if (fd_ >= 0) ::close(fd_);
  }
  signal_source(const signal_source&) = delete;
  signal_source& operator=(const signal_source&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Calls `on_stop` on the loop thread at the first SIGTERM/SIGINT.
  void attach(event_loop& loop, std::function<void()> on_stop) {
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

 private:
  int fd_ = -1;
  bool fired_ = false;
};

common::result<std::unique_ptr<backend>> make_backend(const router_settings& s,
                                                      const common::clock& clock) {
  if (s.backend_type == "linux") return make_linux_backend(s.linux_backend, clock);
  sim_backend_settings sim;
  sim.file = s.backend_file.empty() ? s.data_dir / "sim.json" : s.backend_file;
  sim.device_id = s.device_id;
  return make_sim_backend(sim, clock);
}

common::result<common::config> load(const std::string& path) {
  return common::load_config(path, agent_config_schema());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What `run` and `simulate` set up before their routers: SIGTERM/SIGINT blocked and watched,
// the configuration loaded, the router settings read and data_dir locked (until destruction).
// Logs the first failure; ok() is false then.
class program_setup {
 public:
  explicit program_setup(const std::string& config_path) {
    if (!signals_.ok()) {
      fail_log("signalfd", "cannot watch signals");
      return;
    }
    auto cfg = load(config_path);
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

}  // namespace

int run_agent(const std::string& config_path) {
  program_setup setup(config_path);
  if (!setup.ok()) return 1;
  const auto& cfg = setup.config();
  const auto& settings = setup.settings();
  if (settings.cert.empty() || settings.key.empty()) {
    fail_log("bad configuration", config_path + ": broker.cert and broker.key are required");
    return 1;
  }
  auto& clock = common::system_clock::instance();
  auto be = make_backend(settings, clock);
  if (!be.ok()) {
    fail_log("backend", be.error().to_string());
    return 1;
  }
  event_loop loop(limits::k_max_pending_messages);
  auto agent = router_agent::create(loop, clock, settings, std::move(*be));
  if (!agent.ok()) {
    fail_log("cannot start", agent.error().to_string());
    return 1;
  }
  router_agent* a = agent->get();

  std::unique_ptr<local_socket_server> sock;
  const auto& sock_path = cfg.get_string("local_socket");
  if (!sock_path.empty()) {
    local_socket_settings ls;
    ls.path = sock_path;
    ls.group = cfg.get_string("local_socket_group");
    auto srv = local_socket_server::start(
        loop, ls,
        [a](const std::string& id, const std::string& pw) { return a->check_login(id, pw); });
    if (!srv.ok()) {
      fail_log("local socket", srv.error().to_string());
      return 1;
    }
    sock = std::move(*srv);
  }

  setup.signals().attach(loop, [&loop, a] {
    common::log(log_level::info, "agent", "shutting down", {{"device", a->device_id()}});
    a->shutdown([&loop] { loop.stop(); });
  });
  a->start();
  common::log(log_level::info, "agent", "started",
              {{"device", a->device_id()}, {"version", agent_version()}});
  loop.run();
  sock.reset();
  agent->reset();
  common::log(log_level::info, "agent", "stopped");
  return 0;
}

int login_check(const std::string& config_path, const std::string& login_id,
                std::istream& password_in) {
  ::signal(SIGPIPE, SIG_IGN);
  auto cfg = load(config_path);
  if (!cfg.ok()) {
    fail_log("bad configuration", cfg.error().to_string());
    return 2;
  }
  std::string password;
  std::getline(password_in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() > limits::k_max_password || login_id.size() > limits::k_max_login_id)
    return 1;

  const auto& sock_path = cfg->get_string("local_socket");
  if (!sock_path.empty()) {
    auto asked = ask_login_check(sock_path, login_id, password, std::chrono::seconds(15));
    if (asked.ok()) return *asked ? 0 : 1;
    if (asked.error().code() != "unavailable") {
      fail_log("login-check", asked.error().to_string());
      return 2;
    }
  }
  // No agent listening: check the store ourselves, under the data_dir lock.
  auto settings = router_settings_from(*cfg);
  if (!settings.ok()) {
    fail_log("bad configuration", settings.error().to_string());
    return 2;
  }
  const data_dir_lock lock(settings->data_dir);
  if (!lock.held()) {
    fail_log("login-check", "the agent runs but its local socket does not answer");
    return 2;
  }
  auto& clock = common::system_clock::instance();
  auto store = login_store::open(settings->data_dir / "logins.json", clock, read_boot_id());
  if (!store.ok()) {
    fail_log("login-check", store.error().to_string());
    return 2;
  }
  auto box = outbox::open(settings->data_dir / "outbox.journal", settings->outbox);
  if (!box.ok()) {
    fail_log("login-check", box.error().to_string());
    return 2;
  }
  const auto r = store->check(login_id, password);
  for (auto& [type, fields] : login_events(login_id, r))
    (void)box->push(outbox::kind::event, proto::encode(proto::event{clock.now_s(), type, fields}));
  return r.result == login_store::outcome::accepted ? 0 : 1;
}

int simulate(const std::string& config_path, long count, const std::string& id_prefix) {
  program_setup setup(config_path);
  if (!setup.ok()) return 1;
  router_settings& base = setup.settings();
  if (count > limits::k_max_simulated) {
    fail_log("bad arguments", "--count above " + std::to_string(limits::k_max_simulated));
    return 1;
  }
  if (!proto::valid_device_id(id_prefix + "00000")) {
    fail_log("bad arguments", "--id-prefix makes invalid device ids");
    return 1;
  }
  auto sim = simulate_settings_from(setup.config());
  if (!sim.ok()) {
    fail_log("bad configuration", sim.error().to_string());
    return 1;
  }
  if (sim->state_interval) base.state_interval = *sim->state_interval;
  const std::string& cert_dir = sim->cert_dir;
  const std::string ca_cert = sim->ca_cert.empty() ? std::string() : read_file(sim->ca_cert);
  const std::string ca_key = sim->ca_key.empty() ? std::string() : read_file(sim->ca_key);

  auto& clock = common::system_clock::instance();
  event_loop loop(limits::k_max_pending_messages * 10);
  std::vector<std::unique_ptr<router_agent>> routers;
  routers.reserve(static_cast<std::size_t>(count));
  for (long i = 1; i <= count; ++i) {
    char num[16];
    std::snprintf(num, sizeof num, "%05ld", i);
    router_settings s = base;
    s.device_id = id_prefix + num;
    s.data_dir = base.data_dir / s.device_id;
    s.backend_type = "sim";
    s.backend_file = s.data_dir / "sim.json";
    std::error_code ec;
    std::filesystem::create_directories(s.data_dir / "tls", ec);
    if (!cert_dir.empty()) {
      s.cert = (std::filesystem::path(cert_dir) / (s.device_id + ".pem")).string();
      s.key = (std::filesystem::path(cert_dir) / (s.device_id + ".key")).string();
    } else {
      s.cert = (s.data_dir / "tls" / "cert.pem").string();
      s.key = (s.data_dir / "tls" / "key.pem").string();
      if (!std::filesystem::exists(s.cert) || !std::filesystem::exists(s.key)) {
        auto minted = common::crypto::mint_device_certificate(ca_cert, ca_key, s.device_id);
        if (!minted.ok()) {
          fail_log("cannot mint certificate", minted.error().to_string());
          return 1;
        }
        if (!journal_file::write_atomic(s.key, minted->key_pem, 0600).ok() ||
            !journal_file::write_atomic(s.cert, minted->cert_pem, 0600).ok()) {
          fail_log("cannot write certificate", s.cert);
          return 1;
        }
      }
    }
    auto be = make_backend(s, clock);
    if (!be.ok()) {
      fail_log("backend", be.error().to_string());
      return 1;
    }
    auto a = router_agent::create(loop, clock, s, std::move(*be));
    if (!a.ok()) {
      fail_log("cannot start router", a.error().to_string());
      return 1;
    }
    routers.push_back(std::move(*a));
  }
  const auto rate = sim->connect_per_s;
  connect_gate gate(sim->connecting_max);
  for (std::size_t i = 0; i < routers.size(); ++i) {
    routers[i]->use_connect_gate(&gate);
    routers[i]->start(std::chrono::milliseconds(static_cast<std::int64_t>(i) * 1000 / rate));
  }

  // A progress line every 10 s: how many routers are connected.
  std::function<void()> report;
  report = [&] {
    std::int64_t up = 0;
    for (const auto& r : routers) up += r->connected() ? 1 : 0;
    common::log(log_level::info, "simulate", "routers connected",
                {{"connected", up}, {"count", static_cast<std::int64_t>(routers.size())}});
    loop.schedule(std::chrono::seconds(10), report);
  };
  loop.schedule(std::chrono::seconds(1), report);
  setup.signals().attach(loop, [&] {
    auto left = std::make_shared<std::size_t>(routers.size());
    for (auto& r : routers)
      r->shutdown([&loop, left] {
        if (--*left == 0) loop.stop();
      });
  });
  loop.run();
  routers.clear();
  return 0;
}

}  // namespace aterm::agent
