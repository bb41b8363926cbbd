// The notices of the service document (DESIGN.md section 5): planned maintenance windows and
// incidents, as the store keeps them and the API and status page show them. Both are site-level:
// they belong to the platform, not to a company, and hold no tenant data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aterm::cloud {

enum class notice_kind { maintenance, incident };

// An incident's progress, the status page's vocabulary.
enum class incident_status { investigating, identified, monitoring, resolved };

inline constexpr std::array<std::pair<notice_kind, std::string_view>, 2> k_notice_kinds{{
    {notice_kind::maintenance, "maintenance"},
    {notice_kind::incident, "incident"},
}};

inline constexpr std::array<std::pair<incident_status, std::string_view>, 4> k_incident_statuses{{
    {incident_status::investigating, "investigating"},
    {incident_status::identified, "identified"},
    {incident_status::monitoring, "monitoring"},
    {incident_status::resolved, "resolved"},
}};

inline std::string_view to_string(notice_kind k) {
  for (const auto& [v, name] : k_notice_kinds) {
    if (v == k) return name;
  }
  return "maintenance";
}

inline std::optional<notice_kind> parse_notice_kind(std::string_view s) {
  for (const auto& [v, name] : k_notice_kinds) {
    if (name == s) return v;
  }
  return std::nullopt;
}

inline std::string_view to_string(incident_status s) {
  for (const auto& [v, name] : k_incident_statuses) {
    if (v == s) return name;
  }
  return "investigating";
}

inline std::optional<incident_status> parse_incident_status(std::string_view s) {
  for (const auto& [v, name] : k_incident_statuses) {
    if (name == s) return v;
  }
  return std::nullopt;
}

// The same text in both languages of the dashboard.
struct notice_text {
  std::string ja;
  std::string en;
};

// One step of an incident: its status from then on and what was said.
struct notice_update {
  std::int64_t at_s = 0;
  incident_status status = incident_status::investigating;
  notice_text text;
};

struct notice {
  std::int64_t id = 0;  // set by the store
  notice_kind kind = notice_kind::maintenance;
  notice_text text;  // the latest text (an incident's last update)
  // Maintenance: the window [starts_at_s, ends_at_s) and whether it was announced as urgent,
  // i.e. without the required lead time. Zero and false for an incident.
  std::int64_t starts_at_s = 0;
  std::int64_t ends_at_s = 0;
  bool urgent = false;
  // Incident: the status of its last update, and every update, oldest first.
  incident_status status = incident_status::investigating;
  std::vector<notice_update> updates;
  std::string created_by;  // login id of the site administrator
  std::int64_t created_at_s = 0;
  std::int64_t updated_at_s = 0;
};

// A notice as stored, and how many announcement mails went to the outbox with it.
struct notice_posted {
  notice posted;
  std::int64_t mails_queued = 0;
};

}  // namespace aterm::cloud
