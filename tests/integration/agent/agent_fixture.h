// Shared set-up of the agent's integration tests: a broker with the dev PKI, a "cloud" Paho
// client with the aterm-cloud identity that subscribes to aterm/v1/# and records everything,
// and aterm-agent processes with configurations and folders of their own.
#pragma once

#include <mqtt/async_client.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aterm/common/protocol.h"
#include "aterm/test/support.h"

namespace agent_test {

namespace fs = std::filesystem;
namespace t = aterm::test;
namespace proto = aterm::common::protocol;
using namespace std::chrono_literals;

struct message {
  std::string topic;
  std::string payload;
};

// Persistent session (clean session off), so what the broker queued for it while it was away
// arrives after a broker restart. Paho's callback thread only appends.
class cloud_client {
 public:
  cloud_client(const t::dev_pki& pki, int port);
  ~cloud_client();
  bool connected() const { return cli_.is_connected(); }
  void publish(const std::string& topic, const std::string& payload);
  // Sends a command to `device`; returns its id.
  void command(const std::string& device, const std::string& id, const std::string& op,
               const std::string& args = "{}", std::int64_t deadline = 0);

  std::vector<message> messages() const;
  std::vector<message> on(const std::string& device, proto::topic_kind kind) const;
  // The final result of command `id`, waiting up to `timeout`.
  std::optional<proto::command_result> result(const std::string& device, const std::string& id,
                                              std::chrono::milliseconds timeout = 15s) const;
  std::size_t count_results(const std::string& device, const std::string& id) const;
  // Events of `type` received so far.
  std::vector<proto::event> events(const std::string& device, const std::string& type) const;
  std::optional<proto::presence> last_presence(const std::string& device) const;
  std::vector<proto::state_snapshot> states(const std::string& device) const;

 private:
  mqtt::async_client cli_;
  mutable std::mutex mu_;
  std::vector<message> messages_;
};

// One aterm-agent process for `device_id`, with its config, data folder and socket under `dir`.
class agent_process {
 public:
  // `extra` is a JSON fragment of more keys, e.g. R"("reconnect.cap_s":2)".
  agent_process(const t::dev_pki& pki, const t::broker& broker, const fs::path& dir,
                std::string device_id, const std::string& extra = {});
  void start();
  int stop(int sig = SIGTERM);
  bool running();
  std::string log() const;
  const fs::path& config() const { return config_; }
  const fs::path& data_dir() const { return data_; }
  const fs::path& socket() const { return socket_; }
  const std::string& id() const { return id_; }
  // `aterm-agent login-check` with the password on stdin; the exit code.
  int login_check(const std::string& login_id, const std::string& password) const;
  // `aterm-agent login-logout`; the exit code.
  int login_logout(const std::string& login_id) const;

 private:
  std::string id_;
  fs::path dir_;
  fs::path config_;
  fs::path data_;
  fs::path socket_;
  fs::path log_;
  std::unique_ptr<t::process> proc_;
};

// The usual stack: a PKI, a broker and the cloud client, in a temp folder.
struct stack {
  t::temp_dir dir{"aterm-agent-it"};
  t::dev_pki pki{dir / "pki"};
  t::broker broker{pki};
  cloud_client cloud{pki, broker.port()};
};

// A technician_login.install args object for `password` (PBKDF2, 1,000 iterations for speed).
std::string install_args(const std::string& login_id, const std::string& password,
                         std::int64_t expires_at, std::int64_t ttl_s);

std::int64_t now_s();

}  // namespace agent_test
