#include "aterm/cloud/security/device_claim.h"

#include <algorithm>

#include "aterm/common/claim_code.h"

namespace aterm::cloud::security {

namespace {

constexpr std::int64_t k_day_s = 86400;

}  // namespace

common::config_schema device_claim_config_schema() {
  const device_claim_settings d;
  return {
      {"device.claim_key_file", common::config_type::string, std::string(), false, {}, {}},
      {"device.claim_failures", common::config_type::integer, d.max_failures, false,
       std::int64_t{1}, std::int64_t{1'000'000}},
      {"device.claim_window_s", common::config_type::integer,
       static_cast<std::int64_t>(d.window.count()), false, std::int64_t{1}, k_day_s},
  };
}

common::result<device_claim_settings> device_claim_settings_from(const common::config& c) {
  device_claim_settings s;
  s.max_failures = c.get_int("device.claim_failures");
  s.window = std::chrono::seconds{c.get_int("device.claim_window_s")};
  const std::string& path = c.get_string("device.claim_key_file");
  if (!path.empty()) {
    auto key = common::claim::load_key_file(path);
    if (!key.ok()) return key.error();
    s.key = std::move(*key);
  }
  return s;
}

bool proves_possession(const device_claim_settings& settings,
                       std::span<const device_claim> claims) {
  if (settings.key.empty() || claims.empty()) return false;
  bool all = true;
  for (const auto& c : claims) {
    all = common::claim::verify(settings.key, c.device_id, c.claim_code) && all;
  }
  return all;
}

std::int64_t claim_window_start(const device_claim_settings& settings, std::int64_t now_s) {
  return now_s - settings.window.count() + 1;
}

std::optional<std::chrono::seconds> claim_retry_after(const device_claim_settings& settings,
                                                      const claim_failures& recent,
                                                      std::int64_t now_s) {
  if (recent.count < settings.max_failures) return std::nullopt;
  const std::int64_t oldest = recent.oldest_at_s.value_or(now_s);
  return std::chrono::seconds{std::max<std::int64_t>(1, oldest + settings.window.count() - now_s)};
}

}  // namespace aterm::cloud::security
