#include "cloud_stack.h"

#include <fstream>
#include <stdexcept>

#include "aterm/common/json.h"

namespace aterm::test {

namespace {

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string field(const std::string& json_text, const char* key) {
  auto parsed = common::parse_json(json_text);
  if (!parsed.ok()) return {};
  return common::json_string(parsed->get(), key).value_or("");
}

}  // namespace

cloud_stack::cloud_stack() {
  pki_ = std::make_unique<dev_pki>(dir_ / "pki");
  broker_ = std::make_unique<broker>(*pki_);
  https_port_ = free_port();
  config_ = dir_ / "cloud.json";
  // Short settings so the tests run in seconds; the ones not given keep the document's values.
  write_file(config_, R"({
  "db": ")" + db_path().string() +
                          R"(",
  "http": {"listen": "127.0.0.1:)" +
                          std::to_string(https_port_) + R"(",
           "cert": ")" + pki_->server_cert().string() +
                          R"(",
           "key": ")" + pki_->server_key().string() +
                          R"("},
  "mqtt": {"uri": ")" + broker_->uri() +
                          R"(",
           "ca": ")" + pki_->ca().string() +
                          R"(",
           "cert": ")" + pki_->cloud_cert().string() +
                          R"(",
           "key": ")" + pki_->cloud_key().string() +
                          R"(",
           "dispatch_poll_ms": 100},
  "security": {"password_iterations": 1000},
  "jobs": {"tick_ms": 100}
})");
  auto init = cli({"admin", "init"});
  if (init.exit_code != 0) throw std::runtime_error("admin init: " + init.err);
  for (const std::string company : {"acme", "globex"}) {
    auto c = cli({"admin", "company", "create", "--id", company, "--name", company + " Inc."});
    if (c.exit_code != 0) throw std::runtime_error("company create: " + c.err);
    auto a = cli({"admin", "account", "create", "--company", company, "--login", "admin", "--role",
                  "administrator"});
    if (a.exit_code != 0) throw std::runtime_error("account create: " + a.err);
    passwords_[company] = field(a.out, "password");
  }
  start_cloud();
}

cloud_stack::~cloud_stack() {
  agents_.clear();
  cloud_.reset();
}

run_result cloud_stack::cli(std::vector<std::string> args) {
  std::vector<std::string> argv{binary("cloud/aterm-cloud").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config_.string());
  return run(argv);
}

void cloud_stack::start_cloud() {
  cloud_ =
      std::make_unique<process>(std::vector<std::string>{binary("cloud/aterm-cloud").string(),
                                                         "serve", "--config", config_.string()},
                                dir_ / ("cloud-" + std::to_string(cloud_starts_++) + ".log"));
  https_client probe(https_port_, pki_->ca().string());
  // Up means serving HTTPS and the bridge subscribed: state snapshots are not retained, so an
  // agent that connects before the bridge's first subscription would have its snapshot dropped.
  bool up = wait_until(
      [&] {
        try {
          return probe.request("GET", "/healthz").status == 200 &&
                 probe.request("GET", "/metrics").body.find("aterm_bridge_connected 1") !=
                     std::string::npos;
        } catch (const std::exception&) {
          return false;
        }
      },
      30s, 50ms);
  if (!up) throw std::runtime_error("aterm-cloud did not come up: " + cloud_->log());
}

void cloud_stack::stop_cloud(int sig) {
  if (cloud_) cloud_->stop(sig);
}

bool cloud_stack::cloud_running() {
  return cloud_ && cloud_->running();
}

std::string cloud_stack::cloud_log() const {
  return cloud_ ? cloud_->log() : std::string();
}

void cloud_stack::register_device(const std::string& company, const std::string& device_id) {
  auto r = cli({"admin", "device", "register", "--company", company, "--device", device_id});
  if (r.exit_code != 0) throw std::runtime_error("device register: " + r.err);
}

fs::path cloud_stack::agent_dir(const std::string& device_id) const {
  return dir_ / "agents" / device_id;
}

fs::path cloud_stack::agent_config(const std::string& device_id) const {
  return agent_dir(device_id) / "agent.json";
}

void cloud_stack::start_agent(const std::string& device_id) {
  fs::path d = agent_dir(device_id);
  if (!fs::exists(agent_config(device_id))) {
    fs::create_directories(d / "data");
    auto [cert, key] = pki_->device(device_id);
    write_file(agent_config(device_id), R"({
  "device_id": ")" + device_id + R"(",
  "broker": {"uri": ")" + broker_->uri() + R"(", "ca": ")" +
                                            pki_->ca().string() +
                                            R"(",
             "cert": ")" + cert.string() + R"(", "key": ")" +
                                            key.string() + R"("},
  "data_dir": ")" + (d / "data").string() + R"(",
  "backend": {"type": "sim", "file": ")" + (d / "router.json").string() +
                                            R"("},
  "local_socket": ")" + (d / "agent.sock").string() +
                                            R"(",
  "state_interval_s": 3600,
  "reconnect": {"base_ms": 100, "cap_s": 1}
})");
  }
  agents_[device_id] = std::make_unique<process>(
      std::vector<std::string>{binary("agent/aterm-agent").string(), "run", "--config",
                               agent_config(device_id).string()},
      d / "agent.log");
}

void cloud_stack::stop_agent(const std::string& device_id, int sig) {
  auto it = agents_.find(device_id);
  if (it == agents_.end()) return;
  it->second->stop(sig);
  agents_.erase(it);
}

https_client cloud_stack::client(const std::string& company) {
  https_client c(https_port_, pki_->ca().string());
  auto a = c.login(company, "admin", passwords_.at(company));
  if (a.status != 200) {
    throw std::runtime_error("login " + company + ": " + std::to_string(a.status) + " " + a.body);
  }
  return c;
}

bool cloud_stack::wait_for(https_client& c, const std::string& path,
                           const std::function<bool(const http_answer&)>& pred,
                           std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        try {
          return pred(c.request("GET", path));
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout, 50ms);
}

}  // namespace aterm::test
