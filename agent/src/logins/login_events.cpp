// The events of a technician login check (DESIGN.md section 4).
#include "aterm/agent/router_agent.h"
#include "aterm/common/command_table.h"
#include "aterm/common/json.h"
#include "aterm/common/log.h"

namespace aterm::agent {

std::vector<std::pair<std::string, std::string>> login_events(
    std::string_view login_id, const login_store::check_result& r,
    std::optional<std::int64_t> config_rev) {
  using common::commands::event_type;
  std::vector<std::pair<std::string, std::string>> out;
  auto fields = [&](const char* reason, bool with_failures) {
    common::json_ptr f(cJSON_CreateObject());
    cJSON_AddStringToObject(f.get(), "login_id", std::string(login_id).c_str());
    if (reason) cJSON_AddStringToObject(f.get(), "reason", reason);
    if (with_failures) cJSON_AddNumberToObject(f.get(), "failures", r.failures);
    if (r.result == login_store::outcome::accepted && config_rev)
      cJSON_AddNumberToObject(f.get(), "config_rev_before", static_cast<double>(*config_rev));
    return common::print_json(f.get());
  };
  auto add = [&](event_type t, std::string f) {
    out.emplace_back(std::string(to_string(t)), std::move(f));
  };
  switch (r.result) {
    case login_store::outcome::accepted:
      add(event_type::technician_login_used, fields(nullptr, false));
      break;
    case login_store::outcome::wrong_password:
      add(event_type::technician_login_failed, fields("wrong_password", true));
      break;
    case login_store::outcome::locked:
      add(event_type::technician_login_failed, fields("wrong_password", true));
      add(event_type::technician_login_locked, fields(nullptr, true));
      break;
    case login_store::outcome::expired:
      add(event_type::technician_login_failed, fields("expired", false));
      break;
    case login_store::outcome::used:
      add(event_type::technician_login_failed, fields("already_used", false));
      break;
    case login_store::outcome::unknown:
    case login_store::outcome::throttled:
      break;  // nothing to attribute the attempt to; logged by the caller
  }
  return out;
}

std::pair<std::string, std::string> session_end_event(const ended_session& e,
                                                      std::optional<std::int64_t> config_rev) {
  common::json_ptr f(cJSON_CreateObject());
  cJSON_AddStringToObject(f.get(), "login_id", e.login_id.c_str());
  cJSON_AddStringToObject(f.get(), "reason", std::string(to_string(e.why)).c_str());
  if (e.config_rev_before)
    cJSON_AddNumberToObject(f.get(), "config_rev_before",
                            static_cast<double>(*e.config_rev_before));
  if (config_rev)
    cJSON_AddNumberToObject(f.get(), "config_rev_after", static_cast<double>(*config_rev));
  return {std::string(to_string(common::commands::event_type::technician_login_ended)),
          common::print_json(f.get())};
}

bool router_agent::check_login(std::string_view login_id, std::string_view password) {
  const auto rev = backend_->read_state().config_rev;
  const auto r = logins_.check(login_id, password, rev);
  if (r.result == login_store::outcome::unknown)
    common::log(common::log_level::info, "agent", "login check for an unknown login id",
                {{"device", s_.device_id}});
  if (r.result == login_store::outcome::throttled)
    common::log(common::log_level::warn, "agent",
                "login check refused: too many failed technician logins on this router",
                {{"device", s_.device_id}});
  for (auto& [type, fields] : login_events(login_id, r, rev)) queue_event(type, std::move(fields));
  return r.result == login_store::outcome::accepted;
}

bool router_agent::logout_login(std::string_view login_id) {
  const auto ended = logins_.logout(login_id);
  if (!ended) return false;
  auto [type, fields] = session_end_event(*ended, backend_->read_state().config_rev);
  queue_event(type, std::move(fields));
  return true;
}

void router_agent::report_ended_sessions() {
  const auto ended = logins_.end_sessions();
  if (ended.empty()) return;
  const auto rev = backend_->read_state().config_rev;
  for (const auto& e : ended) {
    auto [type, fields] = session_end_event(e, rev);
    queue_event(type, std::move(fields));
  }
}

}  // namespace aterm::agent
