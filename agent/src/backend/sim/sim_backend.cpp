// The simulated router: identity, state and config in one JSON file (backend.file), created with
// defaults when missing. Reboot resets uptime; the agent drops and re-establishes its session.
// Load, LAN clients and free memory move with the time of day around the file's values, with a
// per-router offset and noise seeded by the device id, so a demo fleet's charts look like a
// real one's and every run draws the same curves. Pings to the documentation ranges (TEST-NETs)
// get no reply, as on a real network.
#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aterm/agent/backend.h"
#include "aterm/agent/journal_file.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

namespace {

using common::status;
namespace cmd = common::commands;

class sim_backend final : public backend {
 public:
  sim_backend(std::filesystem::path file, common::json_ptr doc, const common::clock& clock,
              std::uint32_t seed)
      : file_(std::move(file)),
        doc_(std::move(doc)),
        clock_(clock),
        booted_(clock.mono()),
        seed_(seed) {}

  common::protocol::state_snapshot read_state() override {
    common::protocol::state_snapshot s;
    const cJSON* d = doc_.get();
    s.model = common::json_string(d, "model");
    s.fw = common::json_string(d, "fw");
    s.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(clock_.mono() - booted_).count();
    if (const cJSON* wan = cJSON_GetObjectItemCaseSensitive(d, "wan")) {
      s.wan_ip = common::json_string(wan, "ip");
      s.wan_up = common::json_bool(wan, "up");
    }
    s.mem_total_kb = common::json_int(d, "mem_total_kb");
    const std::int64_t t = clock_.now_s();
    // 0 at 09:00 JST, 1 at 21:00 JST: homes are busiest in the evening.
    // 00:00 UTC is 09:00 JST, so the phase of the UTC day is the phase from 09:00 JST.
    const double day =
        0.5 - 0.5 * std::cos(static_cast<double>(t % 86400) / 86400.0 * 2 * 3.14159265358979);
    const double level = 0.6 + 0.8 * noise(0, 0);  // this router's own level, 0.6 to 1.4
    if (auto c = common::json_int(d, "lan_clients")) {
      // Clients come and go every few minutes, not with every snapshot.
      const double n = static_cast<double>(*c) * level * (0.5 + day) + 2 * noise(1, t / 300) - 1;
      s.lan_clients = std::max<std::int64_t>(0, std::llround(n));
    }
    if (auto l = common::json_number(d, "load1")) {
      const double v = *l * level * (1 + 4 * day) + 0.3 * noise(2, t / 60) * noise(3, t / 60);
      s.cpu_load1 = std::round(v * 100) / 100;
    }
    if (auto f = common::json_int(d, "mem_free_kb"); f && s.mem_total_kb) {
      const double used = 1 - static_cast<double>(*f) / static_cast<double>(*s.mem_total_kb);
      const double now_used = std::clamp(
          used * (0.85 + 0.3 * noise(7, 0)) + 0.15 * day + 0.04 * noise(4, t / 60), 0.05, 0.95);
      s.mem_free_kb = std::llround(static_cast<double>(*s.mem_total_kb) * (1 - now_used));
    }
    s.config_rev = rev();
    return s;
  }

  common::result<std::string> config_get(const std::vector<std::string>& keys) override {
    common::json_ptr out(cJSON_CreateObject());
    cJSON_AddNumberToObject(out.get(), "rev", static_cast<double>(rev()));
    cJSON* values = cJSON_AddObjectToObject(out.get(), "values");
    const cJSON* item = nullptr;
    cJSON_ArrayForEach(item, config()) {
      if (!keys.empty() && std::find(keys.begin(), keys.end(), item->string) == keys.end())
        continue;
      cJSON_AddItemToObject(values, item->string, cJSON_Duplicate(item, true));
    }
    return common::print_json(out.get());
  }

  common::result<std::int64_t> config_set(std::int64_t rev_in,
                                          std::string_view values_json) override {
    if (rev_in != rev())
      return cmd::op_failure(
          cmd::op_error::stale_rev,
          "rev " + std::to_string(rev_in) + " is not the current " + std::to_string(rev()));
    auto values = common::parse_json(values_json);
    if (!values.ok() || !cJSON_IsObject(values->get()) || !values->get()->child)
      return cmd::op_failure(cmd::op_error::bad_args, "values must be a non-empty object");
    const cJSON* item = nullptr;
    cJSON_ArrayForEach(item, values->get()) {
      if (!common::protocol::valid_name(item->string))
        return cmd::op_failure(cmd::op_error::bad_args,
                               std::string("bad config key \"") + item->string + "\"");
      if (!cJSON_IsString(item) && !cJSON_IsNumber(item) && !cJSON_IsBool(item))
        return cmd::op_failure(cmd::op_error::bad_args, std::string("value of ") + item->string +
                                                            " must be a string, number or boolean");
    }
    common::json_ptr next(cJSON_Duplicate(doc_.get(), true));
    cJSON* cfg = cJSON_GetObjectItemCaseSensitive(next.get(), "config");
    cJSON_ArrayForEach(item, values->get()) {
      cJSON_DeleteItemFromObjectCaseSensitive(cfg, item->string);
      cJSON_AddItemToObject(cfg, item->string, cJSON_Duplicate(item, true));
    }
    return commit(std::move(next));
  }

  common::status reboot() override {
    booted_ = clock_.mono();
    return {};
  }
  bool simulated_reboot() const override { return true; }
  bool supports(common::commands::capability) const override { return true; }

  common::result<std::string> diag_ping(const std::string& host, int count) override {
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddNumberToObject(r.get(), "sent", count);
    // As ping reports a total loss: nothing received, no round-trip times.
    const bool lost = documentation_address(host);
    cJSON_AddNumberToObject(r.get(), "received", lost ? 0 : count);
    if (!lost) {
      const double base = 2 + 18 * noise(5, 0);
      const double spread = 0.5 + 3 * noise(6, clock_.now_s());
      auto ms = [](double v) { return std::round(v * 10) / 10; };
      cJSON* rtt = cJSON_AddObjectToObject(r.get(), "rtt_ms");
      cJSON_AddNumberToObject(rtt, "min", ms(base));
      cJSON_AddNumberToObject(rtt, "avg", ms(base + spread / 2));
      cJSON_AddNumberToObject(rtt, "max", ms(base + spread));
    }
    return common::print_json(r.get());
  }

  common::result<std::string> diag_traceroute(const std::string& host, int max_hops) override {
    // A three-hop path (fewer when max_hops says so) ending at the host.
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddStringToObject(r.get(), "host", host.c_str());
    const int n = std::min(max_hops, 3);
    cJSON_AddBoolToObject(r.get(), "reached", n == 3);
    cJSON* hops = cJSON_AddArrayToObject(r.get(), "hops");
    for (int i = 1; i <= n; ++i) {
      cJSON* h = cJSON_CreateObject();
      cJSON_AddNumberToObject(h, "hop", i);
      cJSON_AddStringToObject(h, "addr",
                              i == 3 ? host.c_str() : ("192.0.2." + std::to_string(i)).c_str());
      cJSON_AddNumberToObject(h, "rtt_ms", 0.5 * i);
      cJSON_AddItemToArray(hops, h);
    }
    return common::print_json(r.get());
  }

  common::result<std::string> diag_dns(const std::string& name,
                                       const std::optional<std::string>& server) override {
    common::json_ptr r(cJSON_CreateObject());
    cJSON_AddStringToObject(r.get(), "name", name.c_str());
    if (server) cJSON_AddStringToObject(r.get(), "server", server->c_str());
    cJSON* addrs = cJSON_AddArrayToObject(r.get(), "addresses");
    cJSON_AddItemToArray(addrs, cJSON_CreateString("192.0.2.53"));
    return common::print_json(r.get());
  }

  // Clears the configuration; the revision moves on so a config.set with the old one is stale.
  common::status factory_reset() override {
    common::json_ptr next(cJSON_Duplicate(doc_.get(), true));
    cJSON_DeleteItemFromObjectCaseSensitive(next.get(), "config");
    cJSON_AddObjectToObject(next.get(), "config");
    auto done = commit(std::move(next));
    if (!done.ok()) return done.error();
    return {};
  }

 private:
  // Writes `next` with the next config revision and makes it current; returns that revision.
  common::result<std::int64_t> commit(common::json_ptr next) {
    const std::int64_t new_rev = rev() + 1;
    cJSON_DeleteItemFromObjectCaseSensitive(next.get(), "config_rev");
    cJSON_AddNumberToObject(next.get(), "config_rev", static_cast<double>(new_rev));
    auto st = journal_file::write_atomic(file_, common::print_json(next.get()), 0600);
    if (!st.ok()) return cmd::op_failure(cmd::op_error::io, st.message());
    doc_ = std::move(next);
    return new_rev;
  }

  const cJSON* config() const { return cJSON_GetObjectItemCaseSensitive(doc_.get(), "config"); }
  std::int64_t rev() const { return common::json_int(doc_.get(), "config_rev").value_or(0); }

  // A value in [0, 1) fixed by this router's seed, the series and the time slot.
  double noise(std::uint32_t series, std::int64_t slot) const {
    std::uint32_t x =
        seed_ ^ (series * 0x9e3779b9u) ^ static_cast<std::uint32_t>(slot * 0x85ebca6bLL);
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return static_cast<double>(x) / 4294967296.0;
  }

  // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849).
  static bool documentation_address(const std::string& host) {
    unsigned char a[16];
    if (inet_pton(AF_INET, host.c_str(), a) == 1) {
      return (a[0] == 192 && a[1] == 0 && a[2] == 2) ||
             (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
             (a[0] == 203 && a[1] == 0 && a[2] == 113);
    }
    static constexpr unsigned char k_doc6[] = {0x20, 0x01, 0x0d, 0xb8};
    return inet_pton(AF_INET6, host.c_str(), a) == 1 && std::memcmp(a, k_doc6, 4) == 0;
  }

  std::filesystem::path file_;
  common::json_ptr doc_;
  const common::clock& clock_;
  common::mono_time booted_;
  std::uint32_t seed_;
};

// FNV-1a of the device id: each simulated router its own curves, the same on every run.
std::uint32_t seed_of(const std::string& device_id) {
  std::uint32_t h = 2166136261u;
  for (char c : device_id) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

common::json_ptr default_doc(const std::string& device_id) {
  common::json_ptr d(cJSON_CreateObject());
  cJSON_AddStringToObject(d.get(), "model", "Aterm-SIM");
  cJSON_AddStringToObject(d.get(), "fw", "1.0.0");
  cJSON* wan = cJSON_AddObjectToObject(d.get(), "wan");
  cJSON_AddStringToObject(wan, "ip", "198.51.100.10");
  cJSON_AddBoolToObject(wan, "up", true);
  cJSON_AddNumberToObject(d.get(), "lan_clients", 3);
  cJSON_AddNumberToObject(d.get(), "load1", 0.05);
  cJSON_AddNumberToObject(d.get(), "mem_total_kb", 262144);
  cJSON_AddNumberToObject(d.get(), "mem_free_kb", 131072);
  cJSON_AddNumberToObject(d.get(), "config_rev", 0);
  cJSON* cfg = cJSON_AddObjectToObject(d.get(), "config");
  cJSON_AddStringToObject(cfg, "wifi.ssid", ("aterm-" + device_id).c_str());
  cJSON_AddNumberToObject(cfg, "wifi.channel", 6);
  cJSON_AddStringToObject(cfg, "lan.ip", "192.168.10.1");
  return d;
}

}  // namespace

common::result<std::unique_ptr<backend>> make_sim_backend(const sim_backend_settings& s,
                                                          const common::clock& clock) {
  auto read = journal_file::read_json(s.file);
  if (!read.ok()) return read.error();
  common::json_ptr doc = std::move(*read);
  if (doc) {
    if (!cJSON_IsObject(doc.get()))
      return status::error("bad_json", s.file.string() + ": not an object");
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc.get(), "config")))
      cJSON_AddObjectToObject(doc.get(), "config");
  } else {
    doc = default_doc(s.device_id);
    auto st = journal_file::write_atomic(s.file, common::print_json(doc.get()), 0600);
    if (!st.ok()) return st;
  }
  return std::unique_ptr<backend>(
      new sim_backend(s.file, std::move(doc), clock, seed_of(s.device_id)));
}

}  // namespace aterm::agent
