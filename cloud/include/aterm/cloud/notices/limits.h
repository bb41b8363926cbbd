// Limits of the notices (planned maintenance and incidents), each with its reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aterm::cloud::notices::limits {

// Japan has about 20 holidays a year: room for a company calendar over decades.
inline constexpr std::size_t k_max_holidays = 5000;
inline constexpr std::size_t k_max_holidays_file_bytes = 512 * 1024;
// notices.lead_business_days at most: a month and a half of business days.
inline constexpr std::int64_t k_max_lead_business_days = 30;
// One notice's text per language: a few paragraphs, well inside one mail.
inline constexpr std::size_t k_max_text_bytes = 4000;
// A window longer than this is a mistake rather than maintenance.
inline constexpr std::int64_t k_max_window_s = 7 * 86400;
// Notices on the status page and GET /api/v1/status: the current ones and the latest past ones.
inline constexpr std::size_t k_status_notices = 50;
// Past notices stay on the status page this long.
inline constexpr std::int64_t k_status_history_s = 90 * 86400;
// Updates of one incident.
inline constexpr std::size_t k_max_incident_updates = 100;

}  // namespace aterm::cloud::notices::limits
