#include "aterm/agent/programs.h"

#include <signal.h>

#include <fstream>
#include <istream>
#include <ostream>

#include "aterm/agent/agent_config.h"
#include "aterm/agent/limits.h"
#include "aterm/agent/local_socket.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/claim_code.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "program_setup.h"

namespace aterm::agent {

using common::log_level;
namespace proto = common::protocol;

int run_agent(const std::string& config_path) {
  use_one_malloc_arena();
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
        [a](const std::string& id, const std::string& pw) { return a->check_login(id, pw); },
        [a](const std::string& id) { return a->logout_login(id); });
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
  a->on_each_connect(release_free_heap);
  a->start();
  common::log(log_level::info, "agent", "started",
              {{"device", a->device_id()}, {"version", agent_version()}});
  loop.run();
  sock.reset();
  agent->reset();
  common::log(log_level::info, "agent", "stopped");
  return 0;
}

namespace {

// What login-check and login-logout do once the password (if any) is read: ask the running
// agent, or when none runs, work on the store under the data_dir lock, queueing the events in
// the outbox for the agent's next start. `password` nullopt: end the session of `login_id`.
// Exit 0 accepted (or ended), 1 refused (or no open session), 2 error.
int ask_or_act(const common::config& cfg, const std::string& login_id,
               const std::optional<std::string>& password) {
  const auto& sock_path = cfg.get_string("local_socket");
  if (!sock_path.empty()) {
    auto asked = ask_agent(sock_path, login_id, password, std::chrono::seconds(15));
    if (!asked.ok()) {
      fail_log("login-check", asked.error().to_string());
      return 2;
    }
    if (*asked != login_answer::no_agent) return *asked == login_answer::accepted ? 0 : 1;
  }
  auto settings = router_settings_from(cfg);
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
  auto store = login_store::open(settings->data_dir / "logins.json", clock, read_boot_id(),
                                 technician_rules(*settings));
  if (!store.ok()) {
    fail_log("login-check", store.error().to_string());
    return 2;
  }
  auto box = outbox::open(settings->data_dir / "outbox.journal", settings->outbox);
  if (!box.ok()) {
    fail_log("login-check", box.error().to_string());
    return 2;
  }
  // The configuration revision the events report; unknown without a backend.
  std::optional<std::int64_t> rev;
  if (auto be = make_backend(*settings, clock); be.ok()) rev = (*be)->read_state().config_rev;
  auto queue = [&](const std::string& type, std::string fields) {
    (void)box->push(outbox::kind::event, proto::encode(proto::event{clock.now_s(), type, fields}));
  };
  if (!password) {
    const auto ended = store->logout(login_id);
    if (!ended) return 1;
    auto [type, fields] = session_end_event(*ended, rev);
    queue(type, std::move(fields));
    return 0;
  }
  const auto r = store->check(login_id, *password, rev);
  for (auto& [type, fields] : login_events(login_id, r, rev)) queue(type, std::move(fields));
  return r.result == login_store::outcome::accepted ? 0 : 1;
}

}  // namespace

int login_check(const std::string& config_path, const std::string& login_id,
                std::istream& password_in) {
  ::signal(SIGPIPE, SIG_IGN);
  auto cfg = load_agent_config(config_path);
  if (!cfg.ok()) {
    fail_log("bad configuration", cfg.error().to_string());
    return 2;
  }
  std::string password;
  std::getline(password_in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() > limits::k_max_password || login_id.size() > limits::k_max_login_id)
    return 1;
  return ask_or_act(*cfg, login_id, password);
}

int login_logout(const std::string& config_path, const std::string& login_id) {
  ::signal(SIGPIPE, SIG_IGN);
  auto cfg = load_agent_config(config_path);
  if (!cfg.ok()) {
    fail_log("bad configuration", cfg.error().to_string());
    return 2;
  }
  if (login_id.size() > limits::k_max_login_id) return 1;
  return ask_or_act(*cfg, login_id, std::nullopt);
}

int print_claim_code(const std::string& config_path, std::ostream& out) {
  auto cfg = load_agent_config(config_path);
  if (!cfg.ok()) {
    fail_log("bad configuration", cfg.error().to_string());
    return 2;
  }
  std::filesystem::path file = cfg->get_string("claim_code_file");
  if (file.empty()) file = std::filesystem::path(cfg->get_string("data_dir")) / "claim-code";
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    fail_log("claim-code", "cannot read " + file.string());
    return 2;
  }
  auto code = common::claim::normalise(line);
  if (!code.ok()) {
    fail_log("claim-code", file.string() + ": " + code.error().message());
    return 2;
  }
  out << common::claim::format(*code) << "\n";
  return 0;
}

}  // namespace aterm::agent
