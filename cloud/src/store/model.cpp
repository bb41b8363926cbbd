#include "aterm/cloud/model.h"

#include <array>
#include <utility>

#include "aterm/cloud/limits.h"

namespace aterm::cloud {

namespace {

template <typename E, std::size_t N>
std::optional<E> parse_enum(const std::array<std::pair<E, std::string_view>, N>& names,
                            std::string_view s) {
  for (const auto& [value, name] : names) {
    if (name == s) return value;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view enum_name(const std::array<std::pair<E, std::string_view>, N>& names, E v) {
  for (const auto& [value, name] : names) {
    if (value == v) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<presence_state, std::string_view>, 3> k_presence_names{{
    {presence_state::unknown, "unknown"},
    {presence_state::online, "online"},
    {presence_state::offline, "offline"},
}};

constexpr std::array<std::pair<command_status, std::string_view>, 6> k_command_names{{
    {command_status::queued, "queued"},
    {command_status::sent, "sent"},
    {command_status::succeeded, "succeeded"},
    {command_status::failed, "failed"},
    {command_status::timed_out, "timed_out"},
    {command_status::expired, "expired"},
}};

constexpr std::array<std::pair<technician_login_status, std::string_view>, 5> k_login_names{{
    {technician_login_status::active, "active"},
    {technician_login_status::used, "used"},
    {technician_login_status::locked, "locked"},
    {technician_login_status::revoked, "revoked"},
    {technician_login_status::expired, "expired"},
}};

constexpr std::array<std::pair<lock_reason, std::string_view>, 4> k_lock_names{{
    {lock_reason::none, "none"},
    {lock_reason::failed_logins, "failed_logins"},
    {lock_reason::inactivity, "inactivity"},
    {lock_reason::administrator, "administrator"},
}};

}  // namespace

std::string_view to_string(presence_state p) {
  return enum_name(k_presence_names, p);
}

std::string_view to_string(command_status s) {
  return enum_name(k_command_names, s);
}
std::optional<command_status> parse_command_status(std::string_view s) {
  return parse_enum(k_command_names, s);
}

std::string_view to_string(technician_login_status s) {
  return enum_name(k_login_names, s);
}
std::optional<technician_login_status> parse_technician_login_status(std::string_view s) {
  return parse_enum(k_login_names, s);
}

std::string_view to_string(lock_reason r) {
  return enum_name(k_lock_names, r);
}
std::optional<lock_reason> parse_lock_reason(std::string_view s) {
  return parse_enum(k_lock_names, s);
}

bool valid_email_address(std::string_view s) {
  if (s.size() < 3 || s.size() > limits::k_max_name) return false;
  for (char ch : s) {
    if (ch <= ' ' || ch >= 0x7f) return false;
  }
  auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  auto domain = s.substr(at + 1);
  auto dot = domain.find('.');
  return dot != std::string_view::npos && dot != 0 && domain.back() != '.';
}

std::vector<std::string> built_in_permissions(std::string_view role_name) {
  if (role_name == k_role_administrator) {
    return {k_permissions.begin(), k_permissions.end()};
  }
  if (role_name == k_role_operator) {
    return {"device.read", "device.command", "device.technician_login", "account.read"};
  }
  if (role_name == k_role_viewer) return {"device.read"};
  return {};
}

}  // namespace aterm::cloud
