#include "agent_fixture.h"

#include <fstream>

#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"

namespace agent_test {

cloud_client::cloud_client(const t::dev_pki& pki, int port)
    : cli_("ssl://127.0.0.1:" + std::to_string(port), "aterm-cloud") {
  auto ssl = mqtt::ssl_options_builder()
                 .trust_store(pki.ca().string())
                 .key_store(pki.cloud_cert().string())
                 .private_key(pki.cloud_key().string())
                 .enable_server_cert_auth(true)
                 .finalize();
  auto opts = mqtt::connect_options_builder()
                  .mqtt_version(MQTTVERSION_3_1_1)
                  .clean_session(false)
                  .automatic_reconnect(std::chrono::milliseconds(100), std::chrono::seconds(1))
                  .connect_timeout(5s)
                  .keep_alive_interval(30s)
                  .ssl(ssl)
                  .finalize();
  cli_.set_message_callback([this](mqtt::const_message_ptr m) {
    std::lock_guard lock(mu_);
    messages_.push_back({m->get_topic(), m->to_string()});
  });
  cli_.set_connected_handler([this](const std::string&) {
    try {
      cli_.subscribe("aterm/v1/#", 1);
    } catch (const mqtt::exception&) {
    }
  });
  cli_.connect(opts)->wait_for(10s);
  t::wait_until([&] { return cli_.is_connected(); }, 10s);
}

cloud_client::~cloud_client() {
  try {
    cli_.disable_callbacks();
    if (cli_.is_connected()) cli_.disconnect()->wait_for(5s);
  } catch (const mqtt::exception&) {
  }
}

void cloud_client::publish(const std::string& topic, const std::string& payload) {
  cli_.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(10s);
}

void cloud_client::command(const std::string& device, const std::string& id, const std::string& op,
                           const std::string& args, std::int64_t deadline) {
  proto::command c;
  c.id = id;
  c.op = op;
  c.args_json = args;
  c.deadline = deadline == 0 ? now_s() + 3600 : deadline;
  publish(proto::topic(device, proto::topic_kind::cmd), proto::encode(c));
}

std::vector<message> cloud_client::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::vector<message> cloud_client::on(const std::string& device, proto::topic_kind kind) const {
  const auto topic = proto::topic(device, kind);
  std::vector<message> out;
  for (auto& m : messages())
    if (m.topic == topic) out.push_back(m);
  return out;
}

std::optional<proto::command_result> cloud_client::result(const std::string& device,
                                                          const std::string& id,
                                                          std::chrono::milliseconds timeout) const {
  std::optional<proto::command_result> found;
  t::wait_until(
      [&] {
        for (auto& m : on(device, proto::topic_kind::result)) {
          auto r = proto::decode_result(m.payload, device);
          if (r.ok() && r->id == id && proto::is_final(r->status)) {
            found = *r;
            return true;
          }
        }
        return false;
      },
      timeout);
  return found;
}

std::size_t cloud_client::count_results(const std::string& device, const std::string& id) const {
  std::size_t n = 0;
  for (auto& m : on(device, proto::topic_kind::result)) {
    auto r = proto::decode_result(m.payload, device);
    if (r.ok() && r->id == id) ++n;
  }
  return n;
}

std::vector<proto::event> cloud_client::events(const std::string& device,
                                               const std::string& type) const {
  std::vector<proto::event> out;
  for (auto& m : on(device, proto::topic_kind::event)) {
    auto e = proto::decode_event(m.payload, device);
    if (e.ok() && e->type == type) out.push_back(*e);
  }
  return out;
}

std::optional<proto::presence> cloud_client::last_presence(const std::string& device) const {
  auto all = on(device, proto::topic_kind::presence);
  if (all.empty()) return std::nullopt;
  auto p = proto::decode_presence(all.back().payload, device);
  if (!p.ok()) return std::nullopt;
  return *p;
}

std::vector<proto::state_snapshot> cloud_client::states(const std::string& device) const {
  std::vector<proto::state_snapshot> out;
  for (auto& m : on(device, proto::topic_kind::state)) {
    auto s = proto::decode_state(m.payload, device);
    if (s.ok()) out.push_back(*s);
  }
  return out;
}

agent_process::agent_process(const t::dev_pki& pki, const t::broker& broker, const fs::path& dir,
                             std::string device_id, const std::string& extra)
    : id_(std::move(device_id)),
      dir_(dir),
      config_(dir / (id_ + ".json")),
      data_(dir / (id_ + "-data")),
      socket_(dir / (id_ + ".sock")),
      log_(dir / (id_ + ".log")) {
  const auto [cert, key] = pki.device(id_);
  std::ofstream out(config_);
  out << "{\"device_id\":\"" << id_ << "\",\"broker\":{\"uri\":\"" << broker.uri() << "\",\"ca\":\""
      << pki.ca().string() << "\",\"cert\":\"" << cert.string() << "\",\"key\":\"" << key.string()
      << "\"},\"data_dir\":\"" << data_.string() << "\","
      << (extra.find("\"backend\"") == std::string::npos ? "\"backend\":{\"type\":\"sim\"}," : "")
      << "\"local_socket\":\"" << socket_.string()
      << "\",\"reconnect.cap_s\":2,\"reconnect.base_ms\":200" << (extra.empty() ? "" : ",") << extra
      << "}";
}

void agent_process::start() {
  proc_ =
      std::make_unique<t::process>(std::vector<std::string>{t::binary("agent/aterm-agent").string(),
                                                            "run", "--config", config_.string()},
                                   log_);
}

int agent_process::stop(int sig) {
  if (!proc_) return -1;
  const int rc = proc_->stop(sig);
  proc_.reset();
  return rc;
}

bool agent_process::running() {
  return proc_ && proc_->running();
}

std::string agent_process::log() const {
  std::ifstream in(log_);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int agent_process::login_check(const std::string& login_id, const std::string& password) const {
  return t::run({t::binary("agent/aterm-agent").string(), "login-check", "--config",
                 config_.string(), "--login-id", login_id},
                password + "\n")
      .exit_code;
}

int agent_process::login_logout(const std::string& login_id) const {
  return t::run({t::binary("agent/aterm-agent").string(), "login-logout", "--config",
                 config_.string(), "--login-id", login_id})
      .exit_code;
}

std::string install_args(const std::string& login_id, const std::string& password,
                         std::int64_t expires_at, std::int64_t ttl_s) {
  namespace crypto = aterm::common::crypto;
  const auto salt = crypto::random_bytes(16);
  aterm::common::commands::technician_login_install a;
  a.login_id = login_id;
  a.salt_hex = crypto::to_hex(salt);
  a.iterations = 1000;
  a.hash_hex = crypto::to_hex(crypto::pbkdf2_hmac_sha256(password, salt, 1000, 32));
  a.expires_at = expires_at;
  a.ttl_s = ttl_s;
  return aterm::common::commands::encode(a);
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace agent_test
