// The whole product on 127.0.0.1 for one test: a dev PKI, a real Mosquitto, aterm-cloud serve
// on a SQLite file of its own, companies "acme" and "globex" with an administrator each, and
// routers (aterm-agent run, sim backend) started on demand. Everything lives in a temp folder.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "aterm/test/support.h"
#include "https_client.h"

namespace aterm::test {

class cloud_stack {
 public:
  cloud_stack();
  ~cloud_stack();

  // aterm-cloud with this stack's --config; stdout/stderr captured.
  run_result cli(std::vector<std::string> args);
  void start_cloud();
  // SIGTERM (clean) or SIGKILL.
  void stop_cloud(int sig = 15);
  bool cloud_running();
  std::string cloud_log() const;

  // `admin device register` under `company`.
  void register_device(const std::string& company, const std::string& device_id);
  // Starts `aterm-agent run` for `device_id` (certificate from the dev PKI); its data folder
  // survives stop/start so the command journal is kept.
  void start_agent(const std::string& device_id);
  void stop_agent(const std::string& device_id, int sig = 15);
  fs::path agent_config(const std::string& device_id) const;
  fs::path agent_dir(const std::string& device_id) const;

  // A client logged in as the administrator of `company` ("acme" or "globex").
  https_client client(const std::string& company);
  // Polls GET path until `pred` holds on the answer (deadline `timeout`).
  bool wait_for(https_client& c, const std::string& path,
                const std::function<bool(const http_answer&)>& pred,
                std::chrono::milliseconds timeout = 20s);

  const dev_pki& pki() const { return *pki_; }
  const broker& mqtt() const { return *broker_; }
  fs::path db_path() const { return dir_ / "cloud.db"; }
  fs::path dir() const { return dir_.path(); }
  int https_port() const { return https_port_; }

 private:
  temp_dir dir_{"integration-cloud"};
  std::unique_ptr<dev_pki> pki_;
  std::unique_ptr<broker> broker_;
  int https_port_ = 0;
  fs::path config_;
  std::unique_ptr<process> cloud_;
  int cloud_starts_ = 0;
  std::map<std::string, std::string> passwords_;  // company -> administrator password
  std::map<std::string, std::unique_ptr<process>> agents_;
};

}  // namespace aterm::test
