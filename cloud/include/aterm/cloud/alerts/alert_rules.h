// Alert rules of a company (docs/alerts.md): which conditions of a router raise an alarm, and the
// rule that decides, from what the store knows of one router, whether each condition holds now.
// Pure functions over values: no store, no clock of their own; thread-safe.
//
// A condition "held over a window" holds when every state sample since the value last was at or
// below the threshold is above it, and the oldest of them is at least window_s old: a single
// spike (one sample above, then one below, or one sample above just now) raises nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud::alerts {

enum class rule_kind { offline, cpu_load, memory_used, lan_clients, reboot_loop, firmware };
inline constexpr model_detail::enum_names<rule_kind, 6> k_rule_names = {{
    {rule_kind::offline, "offline"},
    {rule_kind::cpu_load, "cpu_load"},
    {rule_kind::memory_used, "memory_used"},
    {rule_kind::lan_clients, "lan_clients"},
    {rule_kind::reboot_loop, "reboot_loop"},
    {rule_kind::firmware, "firmware"},
}};
constexpr std::string_view to_string(rule_kind k) {
  return model_detail::name_of(k_rule_names, k);
}
constexpr std::optional<rule_kind> parse_rule_kind(std::string_view s) {
  return model_detail::value_of(k_rule_names, s);
}

// One rule of a company. The fields a kind does not use are kept but ignored.
struct alert_rule {
  rule_kind kind = rule_kind::offline;
  bool enabled = false;
  // cpu_load: the 1-minute load average times 100 (150 = load 1.5); memory_used: percent of
  // memory in use; lan_clients: clients; reboot_loop: restarts. Others: unused.
  std::int64_t threshold = 0;
  // offline: how long a router is away before it counts; thresholds: how long the value must
  // stay above; reboot_loop: the span the restarts fall in.
  std::int64_t window_s = 0;
};

// The rules of a company that stored none: every kind, offline on with `offline_after_s`
// (alerts.offline_after_s; the service's 30 minutes), the others off with usable values.
std::vector<alert_rule> default_rules(std::int64_t offline_after_s);

// `stored` completed with the defaults for every kind it lacks, in k_rule_names order.
std::vector<alert_rule> with_defaults(const std::vector<alert_rule>& stored,
                                      std::int64_t offline_after_s);

// Error code of a rule the API refuses.
inline constexpr std::string_view k_bad_rule = "bad_rule";
// Refuses (k_bad_rule, naming the field) a threshold or window out of its kind's range.
common::status check_rule(const alert_rule& r);

// One state sample of a router: what the rules read of a snapshot.
struct sample {
  std::int64_t at_ms = 0;
  std::optional<double> cpu_load1;
  std::optional<std::int64_t> memory_used_percent;
  std::optional<std::int64_t> lan_clients;
  std::optional<std::int64_t> uptime_s;
  std::optional<std::string> fw;
};

// The sample of a stored state snapshot (the JSON a router sent); nullopt when it does not parse.
std::optional<sample> sample_of(std::int64_t received_ms, std::string_view state_json);

// What the rules read of one router.
struct router_facts {
  std::string device_id;
  presence_state presence = presence_state::unknown;
  std::optional<std::int64_t> last_seen_ms;
  bool ever_connected = false;
  std::vector<sample> samples;             // oldest first
  std::optional<std::string> expected_fw;  // the destination's "firmware" setting
};

// Whether `r`'s condition holds for the router at `now_ms`; with the reason shown on the alarm.
struct verdict {
  bool holds = false;
  std::string detail;  // "" when it does not hold
};
verdict judge(const alert_rule& r, const router_facts& f, std::int64_t now_ms);

// The changes to the alarms of one router: raise one per rule that holds and has none open,
// clear the open ones whose rule no longer holds (or is off).
struct open_alarm {
  std::int64_t id = 0;
  rule_kind kind = rule_kind::offline;
};
struct alarm_change {
  enum class action { raise, clear } what = action::raise;
  rule_kind kind = rule_kind::offline;
  std::int64_t alarm_id = 0;  // clear only
  std::string detail;         // raise only
};
std::vector<alarm_change> changes_for(const std::vector<alert_rule>& rules, const router_facts& f,
                                      const std::vector<open_alarm>& open, std::int64_t now_ms);

// True when some enabled rule reads state samples (the evaluator then loads the history).
bool needs_samples(const std::vector<alert_rule>& rules);

}  // namespace aterm::cloud::alerts
