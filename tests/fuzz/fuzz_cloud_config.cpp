// libFuzzer target for aterm-cloud's configuration file (cloud.json): the schema's load and every
// settings reader the daemon runs on the loaded values (HTTP listen address and trusted proxies,
// security, lifecycle, retention, scheduler, mail, API).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aterm/cloud/api/api.h"
#include "aterm/cloud/cloud_config.h"
#include "aterm/cloud/http/server.h"
#include "aterm/cloud/jobs/lifecycle.h"
#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cloud = aterm::cloud;
  static const auto schema = cloud::cloud_config_schema();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto c = aterm::common::parse_config(in, "cloud.json", schema);
  if (!c.ok()) return 0;
  if (auto s = cloud::http::server_settings_from(*c); s.ok()) {
    // The trusted-proxy rule the server applies to every request's X-Forwarded-For.
    (void)s->client_address("10.0.0.1", "192.0.2.7, 10.0.0.2");
  }
  (void)cloud::http::static_dir_from(*c);
  (void)cloud::security::security_settings_from(*c);
  // Not lifecycle_settings_from: it creates key files next to the fuzzed `db` path.
  (void)cloud::jobs::parse_lifecycle_settings(*c);
  (void)cloud::scheduler_settings_from(*c);
  (void)cloud::mail::smtp_settings_from(*c);
  (void)cloud::mail::outbox_settings_from(*c);
  (void)cloud::api::api_settings_from(*c);
  return 0;
}
