// Every limit of the alerts part (alert rules, alarms, notification channels, webhooks), each
// with its reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aterm::cloud::alerts::limits {

// A rule's window: tests shorten it to seconds; a week is longer than the state history a
// router keeps at its default interval.
inline constexpr std::int64_t k_min_rule_window_s = 1;
inline constexpr std::int64_t k_max_rule_window_s = 7 * 86400;
// A load average of 100 is far beyond any router; the threshold is the load times 100.
inline constexpr std::int64_t k_max_cpu_threshold = 10000;
// More LAN clients than a home or small-business router serves.
inline constexpr std::int64_t k_max_lan_clients_threshold = 65535;
// Restarts counted for a reboot loop: the state history holds at most that many samples.
inline constexpr std::int64_t k_max_restarts_threshold = 100;
// An acknowledgement's comment is one line or a short paragraph in the alarm list.
inline constexpr std::size_t k_max_comment = 1000;
// Alarms answered per list call; the dashboard filters rather than pages further.
inline constexpr std::size_t k_max_alarm_page = 500;
// Channels of one company: a handful of mail groups and receivers; more is a mistake.
inline constexpr std::size_t k_max_channels = 20;
// Accounts one e-mail channel sends to.
inline constexpr std::size_t k_max_channel_accounts = 50;
// A webhook URL is an https:// address of a receiver, not a document.
inline constexpr std::size_t k_max_webhook_url = 2048;
// Webhook deliveries sent per worker pass; the rest follow on the next tick.
inline constexpr std::size_t k_webhook_batch = 50;
// Bytes of a receiver's answer kept in the delivery's last error.
inline constexpr std::size_t k_max_error_text = 200;
// Random bytes behind a webhook secret's derivation (alert_port.h): 128 bits.
inline constexpr std::size_t k_webhook_salt_bytes = 16;

}  // namespace aterm::cloud::alerts::limits
