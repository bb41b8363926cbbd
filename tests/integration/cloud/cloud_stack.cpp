#include "cloud_stack.h"

#include <csignal>
#include <fstream>
#include <sstream>
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

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces (or adds) the string member `key` of the object member `section` of `root`.
void set_member(cJSON* root, const char* section, const char* key, const std::string& value) {
  cJSON* object = cJSON_GetObjectItemCaseSensitive(root, section);
  if (!cJSON_IsObject(object)) throw std::runtime_error(std::string("no section ") + section);
  cJSON_DeleteItemFromObjectCaseSensitive(object, key);
  cJSON_AddStringToObject(object, key, value.c_str());
}

// Up means serving HTTPS and the bridge subscribed: state snapshots are not retained, so an
// agent that connects before the bridge's first subscription would have its snapshot dropped.
bool wait_cloud_up(https_client probe, int metrics_port) {
  return wait_until(
      [&] {
        try {
          return probe.request("GET", "/healthz").status == 200 &&
                 metric_value(plain_http_get(metrics_port, "/metrics").body,
                              "aterm_bridge_connected") == 1;
        } catch (const std::exception&) {
          return false;
        }
      },
      60s, 50ms);
}

std::string json_string_array(const std::vector<std::string>& items) {
  common::json_ptr array(cJSON_CreateArray());
  for (const auto& item : items)
    cJSON_AddItemToArray(array.get(), cJSON_CreateString(item.c_str()));
  return common::print_json(array.get());
}

}  // namespace

cloud_stack::cloud_stack(cloud_stack_options options) : dir_(options.name) {
  pki_ = std::make_unique<dev_pki>(dir_ / "pki");
  broker_ = std::make_unique<broker>(*pki_);
  https_port_ = free_port();
  metrics_port_ = free_port();
  launcher_ = options.launcher;
  std::string http_extra = options.http.empty() ? std::string() : ", " + options.http;
  config_ = dir_ / "cloud.json";
  // A test that sets the iterations itself (a benchmark) keeps them.
  std::string security = options.security.find("password_iterations") == std::string::npos
                             ? R"("password_iterations": 1000)"
                             : "";
  if (!options.security.empty()) security += (security.empty() ? "" : ", ") + options.security;
  std::string extra = options.extra.empty() ? std::string() : options.extra + ",";
  // On a database server the key files are named (every instance shares them); next to a
  // database file they default to its side.
  if (options.db.rfind("postgres", 0) == 0) {
    security += std::string(security.empty() ? "" : ", ") + R"("audit_key_file": ")" +
                (dir_ / "audit.key").string() + R"(", "audit_anchor_file": ")" +
                (dir_ / "audit.anchors").string() + "\"";
    extra += R"("backup": {"key_file": ")" + (dir_ / "backup.key").string() + "\"},";
  }
  std::string mqtt = options.short_timers ? R"(, "dispatch_poll_ms": 100)" : "";
  if (!options.mqtt.empty()) mqtt += ", " + options.mqtt;
  std::string jobs = options.short_timers ? R"("tick_ms": 100)" : "";
  if (!options.jobs.empty()) jobs += (jobs.empty() ? "" : ", ") + options.jobs;
  std::string device = R"("claim_key_file": ")" + pki_->claim_key().string() + "\"";
  if (!options.device.empty()) device += ", " + options.device;
  write_file(config_, "{" + extra + R"(
  "db": ")" + (options.db.empty() ? db_path().string() : options.db) +
                          R"(",
  "http": {"listen": "127.0.0.1:)" +
                          std::to_string(https_port_) + R"(",
           "cert": ")" + pki_->server_cert().string() +
                          R"(",
           "key": ")" + pki_->server_key().string() +
                          R"(",
           "metrics_listen": "127.0.0.1:)" +
                          std::to_string(metrics_port_) + R"(",
           "trusted_proxies": )" +
                          json_string_array(options.trusted_proxies) + http_extra + R"(},
  "mqtt": {"uri": ")" + broker_->uri() +
                          R"(",
           "ca": ")" + pki_->ca().string() +
                          R"(",
           "cert": ")" + pki_->cloud_cert().string() +
                          R"(",
           "key": ")" + pki_->cloud_key().string() +
                          "\"" + mqtt + R"(},
  "security": {)" + security +
                          R"(},
  "device": {)" + device + R"(},
  "jobs": {)" + jobs +
                          R"(}
})");
  auto init = cli({"admin", "init"});
  if (init.exit_code != 0) throw std::runtime_error("admin init: " + init.err);
  passwords_["platform"] = field(init.out, "password");
  for (const std::string company : {"acme", "globex"}) {
    auto c = cli({"admin", "company", "create", "--id", company, "--name", company + " Inc."});
    if (c.exit_code != 0) throw std::runtime_error("company create: " + c.err);
    auto a = cli({"admin", "account", "create", "--company", company, "--login", "admin", "--role",
                  "administrator", "--email", "admin@" + company + ".example"});
    if (a.exit_code != 0) throw std::runtime_error("account create: " + a.err);
    passwords_[company] = field(a.out, "password");
  }
  start_cloud();
  // The CLI's first passwords must be replaced at the first login (docs/security.md): each
  // administrator replaces its own, as a person would, and the tests sign in with the new one.
  for (auto& [company, password] : passwords_) {
    auto c = make_client();
    const std::string chosen = "Own-" + password;
    auto changed = replace_first_password(c, company, "admin", password, chosen);
    if (changed.status != 204) {
      throw std::runtime_error("first password of " + company + ": " +
                               std::to_string(changed.status) + " " + changed.body);
    }
    password = chosen;
  }
}

cloud_stack::~cloud_stack() {
  agents_.clear();
  more_.clear();
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
  std::vector<std::string> argv = launcher_;
  for (std::string arg : {binary("cloud/aterm-cloud").string(), std::string("serve"),
                          std::string("--config"), config_.string()}) {
    argv.push_back(std::move(arg));
  }
  cloud_ =
      std::make_unique<process>(argv, dir_ / ("cloud-" + std::to_string(cloud_starts_++) + ".log"));
  if (!wait_cloud_up(make_client(), metrics_port_)) {
    throw std::runtime_error("aterm-cloud did not come up: " + cloud_->log());
  }
}

int cloud_stack::start_instance() {
  const int n = static_cast<int>(more_.size()) + 1;
  auto [cert, key] = pki_->cloud("aterm-cloud-" + std::to_string(n));
  broker_->reload();
  auto parsed = common::parse_json(read_file(config_));
  if (!parsed.ok()) throw std::runtime_error("cannot read " + config_.string());
  instance in;
  in.https_port = free_port();
  in.metrics_port = free_port();
  cJSON* root = parsed->get();
  set_member(root, "http", "listen", "127.0.0.1:" + std::to_string(in.https_port));
  set_member(root, "http", "metrics_listen", "127.0.0.1:" + std::to_string(in.metrics_port));
  set_member(root, "mqtt", "cert", cert.string());
  set_member(root, "mqtt", "key", key.string());
  set_member(root, "mqtt", "client_id", "aterm-cloud-" + std::to_string(n));
  const fs::path config = dir_ / ("cloud-" + std::to_string(n) + ".json");
  write_file(config, common::print_json(root));
  std::vector<std::string> argv = launcher_;
  for (std::string arg : {binary("cloud/aterm-cloud").string(), std::string("serve"),
                          std::string("--config"), config.string()}) {
    argv.push_back(std::move(arg));
  }
  in.proc =
      std::make_unique<process>(argv, dir_ / ("cloud-instance-" + std::to_string(n) + ".log"));
  const process& proc = *in.proc;
  more_.push_back(std::move(in));
  if (!wait_cloud_up(make_client("127.0.0.1", n), more_.back().metrics_port)) {
    throw std::runtime_error("aterm-cloud instance did not come up: " + proc.log());
  }
  return n;
}

void cloud_stack::stop_cloud(int sig) {
  if (cloud_) cloud_->stop(sig);
}

void cloud_stack::stop_instance(int instance, int sig) {
  if (instance == 0) return stop_cloud(sig);
  auto& proc = more_.at(static_cast<std::size_t>(instance - 1)).proc;
  if (proc) proc->stop(sig);
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

std::string cloud_stack::claim_code(const std::string& device_id) {
  auto r = cli({"admin", "device", "claim-code", "--device", device_id});
  if (r.exit_code != 0) throw std::runtime_error("device claim-code: " + r.err);
  return field(r.out, "claim_code");
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

void cloud_stack::signal_agent(const std::string& device_id, int sig) {
  if (auto it = agents_.find(device_id); it != agents_.end()) ::kill(it->second->pid(), sig);
}

https_client cloud_stack::client(const std::string& company, const std::string& local_address) {
  auto c = make_client(local_address);
  auto a = c.login(company, "admin", passwords_.at(company));
  if (a.status != 200) {
    throw std::runtime_error("login " + company + ": " + std::to_string(a.status) + " " + a.body);
  }
  return c;
}

https_client cloud_stack::make_client(const std::string& local_address) const {
  return https_client(https_port_, pki_->ca().string(), local_address);
}

https_client cloud_stack::make_client(const std::string& local_address, int instance) const {
  int port =
      instance == 0 ? https_port_ : more_.at(static_cast<std::size_t>(instance - 1)).https_port;
  return https_client(port, pki_->ca().string(), local_address);
}

std::int64_t cloud_stack::create_account(const std::string& company, const std::string& login,
                                         const std::string& role, const std::string& password) {
  auto c = client(company);
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "login_id", login.c_str());
  cJSON_AddStringToObject(body.get(), "role", role.c_str());
  cJSON_AddStringToObject(body.get(), "email", (login + "@" + company + ".example").c_str());
  // The administrator sets a first password; the account replaces it with `password` as its
  // owner, so the test signs in to an account that may act at once.
  const std::string first = "First-" + password;
  cJSON_AddStringToObject(body.get(), "password", first.c_str());
  auto a = c.request("POST", "accounts", common::print_json(body.get()));
  if (a.status != 201) {
    throw std::runtime_error("create account " + login + ": " + std::to_string(a.status) + " " +
                             a.body);
  }
  auto own = make_client();
  auto changed = replace_first_password(own, company, login, first, password);
  if (changed.status != 204) {
    throw std::runtime_error("first password of " + login + ": " + std::to_string(changed.status) +
                             " " + changed.body);
  }
  return a.num("id");
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

std::string cloud_stack::metrics() const {
  return plain_http_get(metrics_port_, "/metrics").body;
}

std::string cloud_stack::metrics(int instance) const {
  if (instance == 0) return metrics();
  return plain_http_get(more_.at(static_cast<std::size_t>(instance - 1)).metrics_port, "/metrics")
      .body;
}

double metric_value(const std::string& metrics_text, const std::string& name) {
  std::istringstream in(metrics_text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

}  // namespace aterm::test
