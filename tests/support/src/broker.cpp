// The dev PKI and a real Mosquitto, both through the project's own scripts, so tests exercise
// exactly what operators run.

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "aterm/test/support.h"
#include "loopback.h"

namespace aterm::test {

namespace {

std::string script(const std::string& name) {
  return (source_dir() / "scripts" / name).string();
}

void run_or_throw(const std::vector<std::string>& argv) {
  run_result r = run(argv, {}, {}, std::chrono::seconds(60));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
  }
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path log_path(const dev_pki& pki, int port) {
  return pki.dir() / ("broker-" + std::to_string(port) + ".log");
}

}  // namespace

dev_pki::dev_pki(const fs::path& dir) : dir_(dir) {
  run_or_throw({script("dev-pki"), "init", dir_.string()});
}

std::pair<fs::path, fs::path> dev_pki::device(const std::string& id) const {
  run_or_throw({script("dev-pki"), "device", dir_.string(), id});
  return {dir_ / "devices" / (id + ".pem"), dir_ / "devices" / (id + ".key")};
}

std::string dev_pki::claim_code(const std::string& id) const {
  std::ifstream in(dir_ / "devices" / (id + ".claim"));
  std::string code;
  std::getline(in, code);
  return code;
}

std::pair<fs::path, fs::path> dev_pki::cloud(const std::string& name) const {
  run_or_throw({script("dev-pki"), "cloud", dir_.string(), name});
  return {dir_ / "clouds" / (name + ".pem"), dir_ / "clouds" / (name + ".key")};
}

void dev_pki::revoke(const std::string& id) const {
  run_or_throw({script("dev-pki"), "revoke", dir_.string(), id});
}

broker::broker(const dev_pki& pki) : pki_(pki), port_(free_port()) {
  // Another test may take the port between free_port() and Mosquitto's bind: pick another.
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const std::runtime_error& e) {
      if (attempt == 3 ||
          std::string(e.what()).find("Address already in use") == std::string::npos) {
        throw;
      }
      port_ = free_port();
    }
  }
}

broker::~broker() {
  stop();
}

void broker::stop() {
  if (proc_) proc_->stop(SIGTERM, std::chrono::seconds(10));
  proc_.reset();
}

void broker::kill() {
  if (proc_) proc_->stop(SIGKILL);
  proc_.reset();
}

void broker::start() {
  if (proc_) return;
  proc_ = std::make_unique<process>(
      std::vector<std::string>{script("broker"), pki_.dir().string(), std::to_string(port_)},
      log_path(pki_, port_));
  wait_ready();
}

void broker::reload() {
  if (!proc_) throw std::logic_error("broker::reload: not running");
  const size_t from = log().size();
  ::kill(proc_->pid(), SIGHUP);
  if (!wait_until([&] { return log().find("Reloading config", from) != std::string::npos; })) {
    throw std::runtime_error("broker on port " + std::to_string(port_) + " did not reload");
  }
}

std::string broker::log() const {
  return read_file(log_path(pki_, port_));
}

void broker::wait_ready() {
  // The log is appended across restarts: only what this start wrote counts.
  const size_t from = log().size();
  auto logged_running = [&] {
    std::string text = log();
    return text.size() > from && text.find(" running", from) != std::string::npos;
  };
  bool ready = wait_until(
      [&] {
        return !proc_->running() || (logged_running() && detail::on_loopback(port_, ::connect));
      },
      std::chrono::seconds(30));
  if (!ready || !proc_->running()) {
    std::string text = log();
    proc_->stop(SIGKILL);
    proc_.reset();
    throw std::runtime_error("broker on port " + std::to_string(port_) + " did not start; log:\n" +
                             text.substr(std::min(from, text.size())));
  }
}

}  // namespace aterm::test
