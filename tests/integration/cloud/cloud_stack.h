// The whole product on 127.0.0.1 for one test: a dev PKI, a real Mosquitto, aterm-cloud serve
// on a SQLite file of its own (up once it serves HTTPS and its bridge is subscribed), the site
// administrator ("admin" of company "platform"), companies "acme" and "globex" with an
// administrator "admin" each, and routers (aterm-agent run, sim backend) started on demand.
// Everything lives in a temp folder. Used by one test thread; clients it hands out are the
// callers' (one per thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aterm/test/https_client.h"
#include "aterm/test/support.h"

namespace aterm::test {

// What a test changes in the daemon's configuration. The stack always shortens
// security.password_iterations (1000), mqtt.dispatch_poll_ms (100) and jobs.tick_ms (100) so
// tests run in seconds; every key not given keeps DESIGN.md's value.
struct cloud_stack_options {
  // Prefix of the stack's temp folder. Default: "integration-cloud".
  std::string name = "integration-cloud";
  // More members of "security" as JSON, e.g. R"("lockout_s": 2, "session_touch_s": 0)".
  // Default: none.
  std::string security;
  // More members of "device" as JSON, e.g. R"("claim_failures": 3)". The stack always sets
  // device.claim_key_file to its dev PKI's claim.key. Default: none.
  std::string device;
  // http.trusted_proxies. Default: none.
  std::vector<std::string> trusted_proxies;
  // More members of "http" as JSON, e.g. R"("max_handshakes_per_address": 4)". Default: none.
  std::string http;
  // Put before aterm-cloud's argv when `serve` starts, e.g. {"prlimit", "--nofile=64:64", "--"}.
  // Default: none.
  std::vector<std::string> launcher;
  // More members of "jobs" as JSON, e.g. R"("interval_s": 1)". Default: none.
  std::string jobs;
  // More top-level members as JSON, e.g. R"("mail": {"alarm_to": "soc@example.com"})" (any key
  // but db, http, mqtt, security, device and jobs). Default: none.
  std::string extra;
  // More members of "mqtt" as JSON, e.g. R"("shared_subscription": true)". Default: none.
  std::string mqtt;
  // The store's `db`: a file path or a postgresql:// URI (aterm::test::test_db). Default: "",
  // the file db_path() in the stack's folder.
  std::string db;
  // false: mqtt.dispatch_poll_ms and jobs.tick_ms keep the daemon's defaults (1 s), for a
  // benchmark that measures the daemon as deployed. Default: true (100 ms each).
  bool short_timers = true;
};

class cloud_stack {
 public:
  explicit cloud_stack(cloud_stack_options options = {});
  ~cloud_stack();

  // aterm-cloud with this stack's --config; stdout/stderr captured.
  run_result cli(std::vector<std::string> args);
  void start_cloud();
  // Starts one more `aterm-cloud serve` on this stack's store and broker (docs/operations.md, "A
  // second aterm-cloud instance"): an MQTT identity of its own (the broker reloads to learn it),
  // its own HTTPS and metrics listeners and mqtt.client_id (its certificate's CN, the name of its
  // command claims), every other key as the stack's configuration. Returns
  // once it is up as start_cloud() waits; the answer is its number, 1, 2, ... (the stack's own
  // instance is 0). They stop with the stack.
  int start_instance();
  // SIGTERM (clean) or SIGKILL.
  void stop_cloud(int sig = 15);
  // Stops instance `instance` (0: the stack's own, as stop_cloud) with `sig`.
  void stop_instance(int instance, int sig = 15);
  bool cloud_running();
  // The process id of the stack's own `aterm-cloud serve` (benchmarks sample its CPU and memory);
  // -1 when it is not started.
  pid_t cloud_pid() const { return cloud_ ? cloud_->pid() : -1; }
  std::string cloud_log() const;

  // `admin device register` under `company`.
  void register_device(const std::string& company, const std::string& device_id);
  // The claim code on `device_id`'s label (docs/device-claim.md), from the dev PKI's claim key.
  std::string claim_code(const std::string& device_id);
  // Starts `aterm-agent run` for `device_id` (certificate from the dev PKI); its data folder
  // survives stop/start so the command journal is kept.
  void start_agent(const std::string& device_id);
  void stop_agent(const std::string& device_id, int sig = 15);
  // Sends `sig` to a running router and keeps it in the stack (SIGSTOP: a router that hangs
  // with its connection open; stop_agent ends it later).
  void signal_agent(const std::string& device_id, int sig);
  fs::path agent_config(const std::string& device_id) const;
  fs::path agent_dir(const std::string& device_id) const;

  // A client logged in as "admin" of `company` ("acme", "globex" or "platform"), connecting
  // from `local_address`.
  https_client client(const std::string& company, const std::string& local_address = "127.0.0.1");
  // A client without a session, connecting from `local_address`.
  https_client make_client(const std::string& local_address = "127.0.0.1") const;
  // A client without a session of instance `instance` (0: the stack's own, start_instance()).
  https_client make_client(const std::string& local_address, int instance) const;
  const std::string& admin_password(const std::string& company) const {
    return passwords_.at(company);
  }
  // POST /accounts as `company`'s administrator (e-mail LOGIN@COMPANY.example); returns the new
  // account's id (throws unless 201).
  std::int64_t create_account(const std::string& company, const std::string& login,
                              const std::string& role, const std::string& password);
  // Polls GET path until `pred` holds on the answer (deadline `timeout`).
  bool wait_for(https_client& c, const std::string& path,
                const std::function<bool(const http_answer&)>& pred,
                std::chrono::milliseconds timeout = 20s);

  const dev_pki& pki() const { return *pki_; }
  const broker& mqtt() const { return *broker_; }
  // The same, to stop, kill or start it (same port).
  broker& mqtt() { return *broker_; }
  fs::path db_path() const { return dir_ / "cloud.db"; }
  fs::path dir() const { return dir_.path(); }
  int https_port() const { return https_port_; }
  // The metrics listener (http.metrics_listen, plain HTTP on 127.0.0.1).
  int metrics_port() const { return metrics_port_; }
  // GET /metrics from the metrics listener.
  std::string metrics() const;
  // GET /metrics from instance `instance`'s metrics listener (0: the stack's own).
  std::string metrics(int instance) const;

 private:
  temp_dir dir_;
  std::unique_ptr<dev_pki> pki_;
  std::unique_ptr<broker> broker_;
  int https_port_ = 0;
  int metrics_port_ = 0;
  std::vector<std::string> launcher_;
  fs::path config_;
  std::unique_ptr<process> cloud_;
  // The instances start_instance() added: number n is more_[n - 1].
  struct instance {
    int https_port = 0;
    int metrics_port = 0;
    std::unique_ptr<process> proc;
  };
  std::vector<instance> more_;
  int cloud_starts_ = 0;
  std::map<std::string, std::string> passwords_;  // company -> administrator password
  std::map<std::string, std::unique_ptr<process>> agents_;
};

// The value of the Prometheus sample `name` (exact, without labels) in `metrics_text`; -1 when
// absent.
double metric_value(const std::string& metrics_text, const std::string& name);

}  // namespace aterm::test
