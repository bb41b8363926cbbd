#include "aterm/cloud/alerts/alert_evaluator.h"

#include <algorithm>
#include <map>

#include "aterm/cloud/limits.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/log.h"

namespace aterm::cloud::alerts {

namespace {

void add_text(cJSON* o, const char* key, std::string_view v) {
  cJSON_AddItemToObject(o, key, cJSON_CreateString(std::string(v).c_str()));
}

void add_time(cJSON* o, const char* key, const std::optional<std::int64_t>& s) {
  if (!s) {
    cJSON_AddItemToObject(o, key, cJSON_CreateNull());
    return;
  }
  add_text(o, key, common::format_utc(common::from_unix_s(*s)));
}

std::string event_json(std::string_view type, std::int64_t now_s, common::json_ptr alarm,
                       const std::string& company_id) {
  common::json_ptr o(cJSON_CreateObject());
  add_text(o.get(), "id", "evt-" + common::crypto::to_hex(common::crypto::random_bytes(12)));
  add_text(o.get(), "type", type);
  add_time(o.get(), "sent_at", now_s);
  add_text(o.get(), "company_id", company_id);
  if (alarm) cJSON_AddItemToObject(o.get(), "alarm", alarm.release());
  return common::print_json(o.get());
}

common::json_ptr alarm_object(const alarm_record& a) {
  common::json_ptr o(cJSON_CreateObject());
  cJSON_AddItemToObject(o.get(), "id", cJSON_CreateNumber(static_cast<double>(a.id)));
  add_text(o.get(), "kind", a.kind);
  add_text(o.get(), "device_id", a.device_id);
  add_text(o.get(), "state", to_string(a.state()));
  add_text(o.get(), "detail", a.detail);
  add_time(o.get(), "created_at", a.created_at_s);
  add_time(o.get(), "acknowledged_at", a.acknowledged_at_s);
  add_text(o.get(), "acknowledged_by", a.acknowledged_by);
  add_text(o.get(), "comment", a.comment);
  add_time(o.get(), "cleared_at", a.cleared_at_s);
  return o;
}

// The router's latest state history as samples, oldest first.
std::vector<sample> samples_of(store& db, const std::string& company_id,
                               const std::string& device_id) {
  std::vector<sample> out;
  auto h = db.state_history(company_id, device_id, cloud::limits::k_state_history_per_device);
  if (!h.ok()) return out;
  for (auto it = h->rbegin(); it != h->rend(); ++it) {
    if (auto s = sample_of(it->received_ms, it->state_json)) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace

alert_settings alert_settings_from(const common::config& c) {
  alert_settings s;
  s.offline_after_s = c.get_int("alerts.offline_after_s");
  return s;
}

std::string alarm_json(const alarm_record& a) {
  return common::print_json(alarm_object(a).get());
}

alarm_notice notice_for(const alarm_record& a, std::string_view event, std::int64_t now_s) {
  alarm_notice n;
  n.event_json = event_json(event, now_s, alarm_object(a), a.company_id);
  const bool cleared = event == "alarm.cleared";
  const std::string what = a.kind + (a.device_id.empty() ? "" : " " + a.device_id);
  n.subject =
      std::string(cleared ? "[aterm] 解除 / cleared: " : "[aterm] アラーム / alarm: ") + what;
  const std::string at = common::format_jst(
      common::from_unix_s(cleared && a.cleared_at_s ? *a.cleared_at_s : a.created_at_s));
  n.body = std::string(cleared ? "アラームが解除されました。" : "アラームが発生しました。") +
           "\n種類: " + a.kind + "\nルーター: " + a.device_id + "\n詳細: " + a.detail +
           "\n日時: " + at + "\n\n" + (cleared ? "An alarm was cleared." : "An alarm was raised.") +
           "\nKind: " + a.kind + "\nRouter: " + a.device_id + "\nDetail: " + a.detail +
           "\nTime: " + at + "\n";
  return n;
}

std::string test_event_json(const std::string& company_id, std::int64_t now_s) {
  return event_json("test", now_s, nullptr, company_id);
}

alert_evaluator::alert_evaluator(store& db, alert_port& port, alert_settings settings,
                                 const common::clock& clock)
    : db_(db), port_(port), settings_(settings), clock_(clock) {}

evaluation alert_evaluator::run_once() {
  evaluation out;
  auto companies = db_.list_companies();
  if (!companies.ok()) {
    ++out.failures;
    common::log(common::log_level::error, "alerts", "companies not readable",
                {{"error", companies.error().to_string()}});
    return out;
  }
  for (const auto& c : *companies) {
    if (c.id == k_platform_company) continue;
    judge_company(c.id, out);
  }
  return out;
}

void alert_evaluator::judge_company(const std::string& company_id, evaluation& out) {
  auto stored = port_.stored_rules(company_id);
  auto active = port_.active_router_alarms(company_id);
  auto destinations = db_.list_destinations(company_id);
  if (!stored.ok() || !active.ok() || !destinations.ok()) {
    ++out.failures;
    return;
  }
  auto rules = with_defaults(*stored, settings_.offline_after_s);
  const bool any_enabled =
      std::any_of(rules.begin(), rules.end(), [](const alert_rule& r) { return r.enabled; });
  if (!any_enabled && active->empty()) return;
  std::map<std::int64_t, std::string> expected_fw;
  for (const auto& d : *destinations) {
    auto settings = common::parse_json(d.settings_json);
    if (!settings.ok()) continue;
    if (auto fw = common::json_string(settings->get(), "firmware")) expected_fw[d.id] = *fw;
  }
  std::map<std::string, std::vector<open_alarm>> by_device;
  for (const auto& a : *active) {
    if (auto kind = parse_rule_kind(a.kind)) by_device[a.device_id].push_back({a.id, *kind});
  }
  const bool load_samples = needs_samples(rules);
  auto notice = [](const alarm_record& a, std::string_view event) {
    return notice_for(a, event, a.cleared_at_s.value_or(a.created_at_s));
  };

  // A router that left the company keeps no alarm open.
  auto clear = [&](std::int64_t alarm_id, std::string_view device_id, rule_kind kind) {
    auto r = port_.clear_alarm(company_id, alarm_id, clock_.now_s(), notice);
    if (!r.ok()) {
      ++out.failures;
    } else if (*r) {
      ++out.cleared;
      common::log(common::log_level::info, "alerts", "alarm cleared",
                  {{"company", company_id},
                   {"device", std::string(device_id)},
                   {"kind", std::string(to_string(kind))}});
    }
  };

  device_query q;
  q.limit = cloud::limits::k_max_page;
  for (;;) {
    auto page = db_.list_devices(company_id, q);
    if (!page.ok()) {
      ++out.failures;
      return;
    }
    for (const auto& d : page->devices) {
      router_facts f;
      f.device_id = d.id;
      f.presence = d.presence;
      f.last_seen_ms = d.last_seen_ms;
      f.ever_connected = d.first_seen_ms.has_value();
      if (d.destination_id) {
        if (auto it = expected_fw.find(*d.destination_id); it != expected_fw.end()) {
          f.expected_fw = it->second;
        }
      }
      if (load_samples) f.samples = samples_of(db_, company_id, d.id);
      const auto now_ms = clock_.now_ms();
      for (const auto& change : changes_for(rules, f, by_device[d.id], now_ms)) {
        if (change.what == alarm_change::action::raise) {
          alarm_record a;
          a.company_id = company_id;
          a.kind = std::string(to_string(change.kind));
          a.device_id = d.id;
          a.detail = change.detail;
          auto r = port_.raise_alarm(a, now_ms / 1000, notice);
          if (!r.ok()) {
            ++out.failures;
          } else if (*r) {
            ++out.raised;
            common::log(common::log_level::warn, "alerts", "alarm raised",
                        {{"company", company_id}, {"device", d.id}, {"kind", a.kind}});
          }
          continue;
        }
        clear(change.alarm_id, d.id, change.kind);
      }
      by_device.erase(d.id);
    }
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  for (const auto& [device_id, alarms] : by_device) {
    for (const auto& a : alarms) clear(a.id, device_id, a.kind);
  }
}

}  // namespace aterm::cloud::alerts
