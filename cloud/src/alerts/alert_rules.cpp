#include "aterm/cloud/alerts/alert_rules.h"

#include <algorithm>
#include <cmath>

#include "aterm/cloud/alerts/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::alerts {

namespace {

constexpr std::int64_t k_minute_s = 60;

// The value a threshold rule compares, scaled as alert_rule::threshold says.
std::optional<std::int64_t> measured(rule_kind k, const sample& s) {
  switch (k) {
    case rule_kind::cpu_load:
      if (!s.cpu_load1) return std::nullopt;
      return static_cast<std::int64_t>(std::llround(*s.cpu_load1 * 100.0));
    case rule_kind::memory_used:
      return s.memory_used_percent;
    case rule_kind::lan_clients:
      return s.lan_clients;
    default:
      return std::nullopt;
  }
}

verdict held_above(const alert_rule& r, const router_facts& f, std::int64_t now_ms) {
  // The oldest sample of the run of samples above the threshold that reaches the newest one.
  std::optional<std::int64_t> run_start_ms;
  std::int64_t last_value = 0;
  for (auto it = f.samples.rbegin(); it != f.samples.rend(); ++it) {
    auto v = measured(r.kind, *it);
    if (!v) continue;
    if (*v <= r.threshold) break;
    if (!run_start_ms) last_value = *v;
    run_start_ms = it->at_ms;
  }
  if (!run_start_ms || now_ms - *run_start_ms < r.window_s * 1000) return {};
  return {true, std::string(to_string(r.kind)) + " " + std::to_string(last_value) + " above " +
                    std::to_string(r.threshold) + " for " +
                    std::to_string((now_ms - *run_start_ms) / 1000) + " s"};
}

verdict restarts(const alert_rule& r, const router_facts& f, std::int64_t now_ms) {
  // A restart shows as an uptime lower than the one before it.
  std::int64_t count = 0;
  std::optional<std::int64_t> previous;
  for (const auto& s : f.samples) {
    if (!s.uptime_s) continue;
    if (previous && *s.uptime_s < *previous && now_ms - s.at_ms <= r.window_s * 1000) ++count;
    previous = s.uptime_s;
  }
  if (count < r.threshold) return {};
  return {true, std::to_string(count) + " restarts within " + std::to_string(r.window_s) + " s"};
}

}  // namespace

std::vector<alert_rule> default_rules(std::int64_t offline_after_s) {
  return {
      {rule_kind::offline, true, 0, offline_after_s},
      {rule_kind::cpu_load, false, 200, 15 * k_minute_s},
      {rule_kind::memory_used, false, 90, 15 * k_minute_s},
      {rule_kind::lan_clients, false, 200, 15 * k_minute_s},
      {rule_kind::reboot_loop, false, 3, 30 * k_minute_s},
      {rule_kind::firmware, false, 0, 0},
  };
}

std::vector<alert_rule> with_defaults(const std::vector<alert_rule>& stored,
                                      std::int64_t offline_after_s) {
  auto out = default_rules(offline_after_s);
  for (auto& d : out) {
    auto it = std::find_if(stored.begin(), stored.end(),
                           [&](const alert_rule& r) { return r.kind == d.kind; });
    if (it != stored.end()) d = *it;
  }
  return out;
}

common::status check_rule(const alert_rule& r) {
  auto bad = [](std::string field, std::string range) {
    return common::status::error(std::string(k_bad_rule), field + " must be " + range);
  };
  if (r.kind != rule_kind::firmware &&
      (r.window_s < limits::k_min_rule_window_s || r.window_s > limits::k_max_rule_window_s)) {
    return bad("window_s", std::to_string(limits::k_min_rule_window_s) + ".." +
                               std::to_string(limits::k_max_rule_window_s));
  }
  std::int64_t max = 0;
  switch (r.kind) {
    case rule_kind::cpu_load:
      max = limits::k_max_cpu_threshold;
      break;
    case rule_kind::memory_used:
      max = 100;
      break;
    case rule_kind::lan_clients:
      max = limits::k_max_lan_clients_threshold;
      break;
    case rule_kind::reboot_loop:
      if (r.threshold < 2 || r.threshold > limits::k_max_restarts_threshold) {
        return bad("threshold", "2.." + std::to_string(limits::k_max_restarts_threshold));
      }
      return {};
    default:
      return {};
  }
  if (r.threshold < 0 || r.threshold > max) return bad("threshold", "0.." + std::to_string(max));
  return {};
}

std::optional<sample> sample_of(std::int64_t received_ms, std::string_view state_json) {
  auto s = common::protocol::decode_state(state_json);
  if (!s.ok()) return std::nullopt;
  sample out;
  out.at_ms = received_ms;
  out.cpu_load1 = s->cpu_load1;
  out.lan_clients = s->lan_clients;
  out.uptime_s = s->uptime_s;
  out.fw = s->fw;
  if (s->mem_total_kb && s->mem_free_kb && *s->mem_total_kb > 0) {
    out.memory_used_percent = (*s->mem_total_kb - *s->mem_free_kb) * 100 / *s->mem_total_kb;
  }
  return out;
}

verdict judge(const alert_rule& r, const router_facts& f, std::int64_t now_ms) {
  if (!r.enabled) return {};
  switch (r.kind) {
    case rule_kind::offline: {
      // A router that never connected is not missing; one the broker lost is.
      if (!f.ever_connected || f.presence == presence_state::online || !f.last_seen_ms) return {};
      std::int64_t away_ms = now_ms - *f.last_seen_ms;
      if (away_ms < r.window_s * 1000) return {};
      return {true, "offline for " + std::to_string(away_ms / 1000) + " s"};
    }
    case rule_kind::cpu_load:
    case rule_kind::memory_used:
    case rule_kind::lan_clients:
      return held_above(r, f, now_ms);
    case rule_kind::reboot_loop:
      return restarts(r, f, now_ms);
    case rule_kind::firmware: {
      if (!f.expected_fw || f.expected_fw->empty() || f.samples.empty()) return {};
      const auto& fw = f.samples.back().fw;
      if (!fw || *fw == *f.expected_fw) return {};
      return {true, "firmware " + *fw + " (expected " + *f.expected_fw + ")"};
    }
  }
  return {};
}

std::vector<alarm_change> changes_for(const std::vector<alert_rule>& rules, const router_facts& f,
                                      const std::vector<open_alarm>& open, std::int64_t now_ms) {
  std::vector<alarm_change> out;
  for (const auto& r : rules) {
    auto v = judge(r, f, now_ms);
    auto it = std::find_if(open.begin(), open.end(),
                           [&](const open_alarm& a) { return a.kind == r.kind; });
    if (v.holds && it == open.end()) {
      out.push_back({alarm_change::action::raise, r.kind, 0, std::move(v.detail)});
    } else if (!v.holds && it != open.end()) {
      out.push_back({alarm_change::action::clear, r.kind, it->id, {}});
    }
  }
  return out;
}

bool needs_samples(const std::vector<alert_rule>& rules) {
  return std::any_of(rules.begin(), rules.end(),
                     [](const alert_rule& r) { return r.enabled && r.kind != rule_kind::offline; });
}

}  // namespace aterm::cloud::alerts
