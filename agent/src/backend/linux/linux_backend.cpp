// The real router: state from /proc, interface addresses and the DHCP leases file; reboot,
// config and diag through operator-configured hook programs (hook_runner: execve, JSON on
// stdin/stdout, a timeout, never a shell). Only this file reads /proc and /etc.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "aterm/agent/backend.h"
#include "aterm/agent/hook_runner.h"
#include "aterm/common/json.h"

namespace aterm::agent {

namespace {

using common::status;
namespace cmd = common::commands;

status unsupported(std::string message) {
  return cmd::op_failure(cmd::op_error::unsupported, std::move(message));
}

status failed(std::string message) {
  return cmd::op_failure(cmd::op_error::failed, std::move(message));
}

std::optional<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// KEY=value or KEY='value' or KEY="value" files (/etc/os-release, /etc/openwrt_release).
std::optional<std::string> release_value(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 ||
        line[key.size()] != '=')
      continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    if (!v.empty()) return v;
  }
  return std::nullopt;
}

class linux_backend final : public backend {
 public:
  linux_backend(linux_backend_settings s, const common::clock& clock)
      : s_(std::move(s)), clock_(clock) {}

  common::protocol::state_snapshot read_state() override {
    common::protocol::state_snapshot st;
    read_identity(st);
    if (auto up = read_first_line(s_.proc_root + "/uptime")) {
      double secs = 0;
      if (std::sscanf(up->c_str(), "%lf", &secs) == 1)
        st.uptime_s = static_cast<std::int64_t>(secs);
    }
    if (auto load = read_first_line(s_.proc_root + "/loadavg")) {
      double l1 = 0;
      if (std::sscanf(load->c_str(), "%lf", &l1) == 1) st.cpu_load1 = l1;
    }
    read_meminfo(st);
    read_wan(st);
    read_leases(st);
    st.config_rev = last_rev_;
    return st;
  }

  common::result<std::string> config_get(const std::vector<std::string>& keys) override {
    if (s_.hook_config_get.empty()) return unsupported("no hooks.config_get configured");
    common::json_ptr in(cJSON_CreateObject());
    cJSON* arr = cJSON_AddArrayToObject(in.get(), "keys");
    for (const auto& k : keys) cJSON_AddItemToArray(arr, cJSON_CreateString(k.c_str()));
    auto out = run_json(s_.hook_config_get, common::print_json(in.get()));
    if (!out.ok()) return out.error();
    auto rev = common::json_int(out->get(), "rev");
    if (!rev || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(out->get(), "values")))
      return failed("config_get hook answered without rev and values");
    last_rev_ = *rev;
    return common::print_json(out->get());
  }

  common::result<std::int64_t> config_set(std::int64_t rev, std::string_view values_json) override {
    if (s_.hook_config_set.empty()) return unsupported("no hooks.config_set configured");
    auto values = common::parse_json(values_json);
    if (!values.ok() || !cJSON_IsObject(values->get()))
      return cmd::op_failure(cmd::op_error::bad_args, "values must be an object");
    common::json_ptr in(cJSON_CreateObject());
    cJSON_AddNumberToObject(in.get(), "rev", static_cast<double>(rev));
    cJSON_AddItemToObject(in.get(), "values", cJSON_Duplicate(values->get(), true));
    auto out = run_json(s_.hook_config_set, common::print_json(in.get()));
    if (!out.ok()) return out.error();
    if (auto err = common::json_string(out->get(), "error")) {
      // A hook may refuse with an op error of the table; anything else is a failure.
      const auto e = cmd::parse_op_error(*err);
      if (e == cmd::op_error::stale_rev || e == cmd::op_error::bad_args)
        return cmd::op_failure(*e, "hook: " + *err);
      return failed("hook: " + *err);
    }
    auto new_rev = common::json_int(out->get(), "rev");
    if (!new_rev) return failed("config_set hook answered without rev");
    last_rev_ = *new_rev;
    return *new_rev;
  }

  common::status reboot() override {
    if (s_.hook_reboot.empty()) return unsupported("no hooks.reboot configured");
    auto out = run_hook(s_.hook_reboot, "{\"op\":\"reboot\"}\n", s_.hook_timeout);
    if (!out.ok()) return out.error();
    if (out->exit_code != 0) return failed("reboot hook exited " + std::to_string(out->exit_code));
    return {};
  }
  bool simulated_reboot() const override { return false; }
  bool supports(common::commands::capability c) const override {
    using common::commands::capability;
    if (c == capability::reboot) return !s_.hook_reboot.empty();
    if (c == capability::factory_reset) return !s_.hook_factory_reset.empty();
    return true;
  }

  common::result<std::string> diag_ping(const std::string& host, int count) override {
    if (!s_.hook_diag.empty()) {
      common::json_ptr in(cJSON_CreateObject());
      cJSON_AddStringToObject(in.get(), "op", "diag.ping");
      cJSON_AddStringToObject(in.get(), "host", host.c_str());
      cJSON_AddNumberToObject(in.get(), "count", count);
      return hook_diag(in);
    }
    // The host passed valid_host and goes after "--", so it is never an option.
    std::vector<std::string> argv{
        s_.ping_program, "-n", "-q", "-c", std::to_string(count), "-W", "1", "--", host};
    auto out = run_hook(argv, {}, s_.hook_timeout);
    if (!out.ok()) return out.error();
    int sent = 0;
    int received = 0;
    double mn = 0, avg = 0, mx = 0;
    bool have_rtt = false;
    std::istringstream lines(out->out);
    std::string line;
    while (std::getline(lines, line)) {
      int a = 0, b = 0;
      if (std::sscanf(line.c_str(), "%d packets transmitted, %d received", &a, &b) == 2) {
        sent = a;
        received = b;
      }
      const auto eq = line.find("= ");
      if (line.rfind("rtt", 0) == 0 || line.rfind("round-trip", 0) == 0) {
        if (eq != std::string::npos &&
            std::sscanf(line.c_str() + eq + 2, "%lf/%lf/%lf", &mn, &avg, &mx) == 3)
          have_rtt = true;
      }
    }
    if (sent == 0) return failed("ping gave no statistics");
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddNumberToObject(r.get(), "sent", sent);
    cJSON_AddNumberToObject(r.get(), "received", received);
    if (have_rtt) {
      cJSON* rtt = cJSON_AddObjectToObject(r.get(), "rtt_ms");
      cJSON_AddNumberToObject(rtt, "min", mn);
      cJSON_AddNumberToObject(rtt, "avg", avg);
      cJSON_AddNumberToObject(rtt, "max", mx);
    }
    return common::print_json(r.get());
  }

  common::result<std::string> diag_traceroute(const std::string& host, int max_hops) override {
    if (!s_.hook_diag.empty()) {
      common::json_ptr in(cJSON_CreateObject());
      cJSON_AddStringToObject(in.get(), "op", "diag.traceroute");
      cJSON_AddStringToObject(in.get(), "host", host.c_str());
      cJSON_AddNumberToObject(in.get(), "max_hops", max_hops);
      return hook_diag(in);
    }
    // One probe per hop, a 1 s wait: an unreachable host costs about max_hops seconds. The host
    // passed valid_host (it cannot start with '-'); traceroute takes no "--" before it.
    std::vector<std::string> argv{s_.traceroute_program,    "-n", "-q", "1", "-w", "1", "-m",
                                  std::to_string(max_hops), host};
    auto out = run_hook(argv, {}, s_.hook_timeout + std::chrono::seconds(max_hops));
    if (!out.ok()) return out.error();
    if (out->exit_code != 0) return failed("traceroute exited " + std::to_string(out->exit_code));
    std::istringstream lines(out->out);
    std::string line;
    std::string target;
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddStringToObject(r.get(), "host", host.c_str());
    cJSON* hops = cJSON_CreateArray();
    std::string last_addr;
    while (std::getline(lines, line)) {
      char addr[64] = {};
      if (line.rfind("traceroute to ", 0) == 0) {
        const auto open = line.find('(');
        const auto close = line.find(')', open);
        if (open != std::string::npos && close != std::string::npos)
          target = line.substr(open + 1, close - open - 1);
        continue;
      }
      int hop = 0;
      double rtt = 0;
      const int got = std::sscanf(line.c_str(), "%d %63s %lf ms", &hop, addr, &rtt);
      if (got < 2) continue;
      cJSON* h = cJSON_CreateObject();
      cJSON_AddNumberToObject(h, "hop", hop);
      last_addr = addr;
      if (last_addr != "*") {
        cJSON_AddStringToObject(h, "addr", addr);
        if (got == 3) cJSON_AddNumberToObject(h, "rtt_ms", rtt);
      }
      cJSON_AddItemToArray(hops, h);
    }
    cJSON_AddBoolToObject(r.get(), "reached", !target.empty() && last_addr == target);
    cJSON_AddItemToObject(r.get(), "hops", hops);
    return common::print_json(r.get());
  }

  common::result<std::string> diag_dns(const std::string& name,
                                       const std::optional<std::string>& server) override {
    if (!s_.hook_diag.empty()) {
      common::json_ptr in(cJSON_CreateObject());
      cJSON_AddStringToObject(in.get(), "op", "diag.dns");
      cJSON_AddStringToObject(in.get(), "name", name.c_str());
      if (server) cJSON_AddStringToObject(in.get(), "server", server->c_str());
      return hook_diag(in);
    }
    // Both passed valid_host and follow "--": `host` reads them as the name and the server.
    std::vector<std::string> argv{s_.dns_program, "--", name};
    if (server) argv.push_back(*server);
    auto out = run_hook(argv, {}, s_.hook_timeout);
    if (!out.ok()) return out.error();
    std::istringstream lines(out->out);
    std::string line;
    std::string first;
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddStringToObject(r.get(), "name", name.c_str());
    if (server) cJSON_AddStringToObject(r.get(), "server", server->c_str());
    cJSON* addrs = cJSON_AddArrayToObject(r.get(), "addresses");
    while (std::getline(lines, line)) {
      if (first.empty()) first = line;
      for (std::string_view marker : {" has address ", " has IPv6 address "}) {
        if (const auto at = line.find(marker); at != std::string::npos)
          cJSON_AddItemToArray(addrs, cJSON_CreateString(line.substr(at + marker.size()).c_str()));
      }
    }
    if (out->exit_code != 0)
      return failed("host exited " + std::to_string(out->exit_code) + ": " + first.substr(0, 200));
    return common::print_json(r.get());
  }

  common::status factory_reset() override {
    if (s_.hook_factory_reset.empty()) return unsupported("no hooks.factory_reset configured");
    auto out = run_hook(s_.hook_factory_reset, "{\"op\":\"factory_reset\"}\n", s_.hook_timeout);
    if (!out.ok()) return out.error();
    if (out->exit_code != 0)
      return failed("factory_reset hook exited " + std::to_string(out->exit_code));
    return {};
  }

 private:
  common::result<std::string> hook_diag(const common::json_ptr& in) {
    auto out = run_json(s_.hook_diag, common::print_json(in.get()));
    if (!out.ok()) return out.error();
    return common::print_json(out->get());
  }

  common::result<common::json_ptr> run_json(const std::vector<std::string>& argv,
                                            const std::string& input) {
    auto out = run_hook(argv, input + "\n", s_.hook_timeout);
    if (!out.ok()) return out.error();
    if (out->exit_code != 0) return failed(argv[0] + " exited " + std::to_string(out->exit_code));
    auto parsed = common::parse_json(out->out);
    if (!parsed.ok() || !cJSON_IsObject(parsed->get()))
      return failed(argv[0] + " did not answer a JSON object");
    return std::move(*parsed);
  }

  void read_identity(common::protocol::state_snapshot& st) {
    if (!identity_read_) {
      identity_read_ = true;
      const std::string openwrt = s_.etc_root.string() + "/openwrt_release";
      const std::string os = s_.etc_root.string() + "/os-release";
      model_ = s_.model.empty() ? std::nullopt : std::optional<std::string>(s_.model);
      if (!model_) model_ = release_value(openwrt, "DISTRIB_TARGET");
      if (!model_) model_ = release_value(os, "NAME");
      fw_ = s_.firmware.empty() ? std::nullopt : std::optional<std::string>(s_.firmware);
      if (!fw_) fw_ = release_value(openwrt, "DISTRIB_RELEASE");
      if (!fw_) fw_ = release_value(os, "VERSION_ID");
    }
    st.model = model_;
    st.fw = fw_;
  }

  void read_meminfo(common::protocol::state_snapshot& st) {
    std::ifstream in(s_.proc_root + "/meminfo");
    std::string line;
    std::optional<std::int64_t> free_kb, avail_kb;
    while (std::getline(in, line)) {
      long long v = 0;
      if (std::sscanf(line.c_str(), "MemTotal: %lld kB", &v) == 1) st.mem_total_kb = v;
      if (std::sscanf(line.c_str(), "MemFree: %lld kB", &v) == 1) free_kb = v;
      if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &v) == 1) avail_kb = v;
    }
    // "free" for an operator means what applications can still get.
    st.mem_free_kb = avail_kb ? avail_kb : free_kb;
  }

  void read_wan(common::protocol::state_snapshot& st) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return;
    for (ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
      if (!ifa->ifa_name) continue;
      const bool loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
      if (s_.wan_interface.empty() ? loopback : s_.wan_interface != ifa->ifa_name) continue;
      if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET) {
        if (!s_.wan_interface.empty() && !st.wan_up)
          st.wan_up = (ifa->ifa_flags & IFF_UP) && (ifa->ifa_flags & IFF_RUNNING);
        continue;
      }
      char buf[INET_ADDRSTRLEN] = {};
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
      if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) st.wan_ip = buf;
      st.wan_up = (ifa->ifa_flags & IFF_UP) && (ifa->ifa_flags & IFF_RUNNING);
      break;
    }
    ::freeifaddrs(list);
  }

  void read_leases(common::protocol::state_snapshot& st) {
    if (s_.dhcp_leases.empty()) return;
    std::ifstream in(s_.dhcp_leases);
    if (!in) return;
    // dnsmasq: "<expiry> <mac> <ip> <name> <client-id>"; expiry 0 means infinite.
    const auto now = clock_.now_s();
    std::int64_t n = 0;
    std::string line;
    while (std::getline(in, line)) {
      long long expiry = 0;
      char mac[64];
      if (std::sscanf(line.c_str(), "%lld %63s", &expiry, mac) == 2 &&
          (expiry == 0 || expiry > now))
        ++n;
    }
    st.lan_clients = n;
  }

  linux_backend_settings s_;
  const common::clock& clock_;
  bool identity_read_ = false;
  std::optional<std::string> model_;
  std::optional<std::string> fw_;
  std::optional<std::int64_t> last_rev_;
};

}  // namespace

std::unique_ptr<backend> make_linux_backend(const linux_backend_settings& s,
                                            const common::clock& clock) {
  return std::make_unique<linux_backend>(s, clock);
}

}  // namespace aterm::agent
