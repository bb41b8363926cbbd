// libFuzzer target for the HTTP API in process: the real router and api_service over the real
// SQLite store, as the HTTPS server's workers call them. The first input byte picks a route
// (table below) and the rest is its JSON body, or its query string for a GET; the "raw" routes
// take "TARGET\nBODY" (path, query and percent-encoding through the router), the "cookie" route
// takes the Cookie header. Requests come from a signed-in administrator of company "acme" with
// its CSRF token, or of the platform for /admin routes. Each input starts from the same
// database (a copy of one made at start-up), so an input replays alone exactly as it ran.
// Property checked beyond "no crash": no answer to acme's administrator names anything of the
// other company, unless the input itself did.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/api/api.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/security/session_policy.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "fuzz_support.h"

namespace {

namespace cloud = aterm::cloud;
namespace http = aterm::cloud::http;
namespace api = aterm::cloud::api;
namespace common = aterm::common;
namespace fs = std::filesystem;

// Words only the other company's rows hold.
constexpr std::string_view k_other_device = "zz-other-device";
constexpr std::string_view k_other_destination = "zz-other-dest";
constexpr std::uint32_t k_iterations = 1;  // PBKDF2 of passwords; the rules do not depend on it
const std::string k_password = "correct-horse-battery";

enum class input_as { body, query, raw, cookie };
enum class who { company, platform, nobody };

struct route {
  std::string method;
  std::string path;
  input_as in;
  who caller;
};

struct caller_session {
  std::string token;
  std::string csrf;
};

common::manual_clock& fixed_clock() {
  static common::manual_clock c(common::from_unix_s(1'795'000'000));
  return c;
}

cloud::store_options options_for(const fs::path& file) {
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = file.string();
  o.synchronous_full = false;
  return o;
}

std::unique_ptr<cloud::store> open_store(const fs::path& file) {
  auto opened = cloud::open_store(options_for(file), fixed_clock());
  if (!opened.ok()) std::abort();
  return std::move(opened).value();
}

template <typename T>
T must(common::result<T> r) {
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

std::int64_t add_account(cloud::store& db, const std::string& company, const std::string& login) {
  cloud::new_account a;
  a.company_id = company;
  a.login_id = login;
  a.email = login + "@example.com";
  a.role_name = "administrator";
  a.password_hash = cloud::security::make_password_hash(k_password, k_iterations);
  return must(db.create_account(a)).id;
}

caller_session add_session(cloud::store& db, const std::string& company, std::int64_t account,
                           const std::string& token) {
  cloud::session s;
  s.token_hash = cloud::security::hash_session_token(token);
  s.csrf_token = "csrf-" + token;
  s.account_id = account;
  s.company_id = company;
  s.created_at_s = common::to_unix_s(fixed_clock().now());
  s.last_seen_at_s = s.created_at_s;
  s.source_ip = "127.0.0.1";
  if (!db.create_session(s).ok()) std::abort();
  return {token, s.csrf_token};
}

// The database every input starts from, and the route table naming its rows.
struct world {
  fs::path template_db = aterm::fuzz::scratch_dir() / "template.db";
  fs::path db = aterm::fuzz::scratch_dir() / "api.db";
  caller_session company;
  caller_session platform;
  std::vector<route> routes;

  world() {
    common::set_log_sink([](std::string_view) {});
    auto s = open_store(template_db);
    must(s->create_company("platform", "Platform"));
    must(s->create_company("acme", "ACME"));
    must(s->create_company("other", "Other"));
    const auto dest = must(s->create_destination("acme", "tokyo", "{}")).id;
    const auto spare = must(s->create_destination("acme", "spare", "{}")).id;
    const auto other_dest =
        must(s->create_destination("other", std::string(k_other_destination), "{}")).id;
    must(s->register_device("acme", "acme-r1", dest));
    must(s->register_device("acme", "acme-r2", dest));
    must(s->register_device("other", std::string(k_other_device), other_dest));
    const auto alice = add_account(*s, "acme", "alice");
    const auto victor = add_account(*s, "acme", "victor");
    add_account(*s, "other", "olga");
    const auto root = add_account(*s, "platform", "root");
    const auto role = must(s->create_role("acme", "auditors", {"audit.read"})).id;
    company = add_session(*s, "acme", alice, "company-token");
    platform = add_session(*s, "platform", root, "platform-token");
    s.reset();  // closes, checkpointing the WAL into the file

    const std::string v1 = "/api/v1";
    const std::string d = std::to_string(dest), sp = std::to_string(spare);
    const std::string a = std::to_string(alice), v = std::to_string(victor);
    const std::string r = std::to_string(role);
    using enum input_as;
    using enum who;
    routes = {
        {"POST", v1 + "/session", body, nobody},
        {"GET", v1 + "/session", query, company},
        {"DELETE", v1 + "/session", body, company},
        {"GET", v1 + "/devices", query, company},
        {"GET", v1 + "/devices/acme-r1", query, company},
        {"GET", v1 + "/devices/acme-r1/history", query, company},
        {"POST", v1 + "/devices/acme-r1/commands", body, company},
        {"POST", v1 + "/devices/acme-r1/technician-logins", body, company},
        {"GET", v1 + "/devices/acme-r1/technician-logins", query, company},
        {"DELETE", v1 + "/devices/acme-r1/technician-logins/tech-1", body, company},
        {"GET", v1 + "/destinations", query, company},
        {"POST", v1 + "/destinations", body, company},
        {"GET", v1 + "/destinations/" + d, query, company},
        {"PATCH", v1 + "/destinations/" + d, body, company},
        {"DELETE", v1 + "/destinations/" + sp, body, company},
        {"POST", v1 + "/destinations/" + d + "/devices", body, company},
        {"GET", v1 + "/accounts", query, company},
        {"POST", v1 + "/accounts", body, company},
        {"GET", v1 + "/accounts/" + v, query, company},
        {"PATCH", v1 + "/accounts/" + v, body, company},
        {"DELETE", v1 + "/accounts/" + v, body, company},
        {"POST", v1 + "/accounts/" + a + "/password", body, company},
        {"POST", v1 + "/accounts/" + v + "/password", body, company},
        {"GET", v1 + "/roles", query, company},
        {"POST", v1 + "/roles", body, company},
        {"PATCH", v1 + "/roles/" + r, body, company},
        {"DELETE", v1 + "/roles/" + r, body, company},
        {"GET", v1 + "/permissions", query, company},
        {"GET", v1 + "/company", query, company},
        {"PATCH", v1 + "/company", body, company},
        {"GET", v1 + "/audit", query, company},
        {"GET", v1 + "/admin/companies", query, platform},
        {"POST", v1 + "/admin/companies", body, platform},
        {"GET", v1 + "/admin/companies/acme", query, platform},
        {"PATCH", v1 + "/admin/companies/acme", body, platform},
        {"GET", v1 + "/admin/companies/acme/accounts", query, platform},
        {"POST", v1 + "/admin/companies/acme/accounts/" + v + "/unlock", body, platform},
        {"GET", v1 + "/admin/devices/unassigned", query, platform},
        {"POST", v1 + "/admin/devices/acme-r9/assign", body, platform},
        {"GET", v1 + "/admin/alarms", query, platform},
        {"GET", "", raw, company},
        {"POST", "", raw, company},
        {"PATCH", "", raw, company},
        {"DELETE", "", raw, company},
        {"POST", "", raw, platform},
        {"GET", v1 + "/session", cookie, nobody},
    };
  }

  // The start-up database, afresh.
  void reset() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix);
    fs::copy_file(template_db, db);
  }
};

http::request request_for(const world& w, const route& r, std::string_view rest) {
  http::request req;
  req.method = r.method;
  req.target = r.path;
  req.peer_address = "127.0.0.1";
  req.client_address = "127.0.0.1";
  switch (r.in) {
    case input_as::body:
      req.body = std::string(rest);
      break;
    case input_as::query:
      req.target += "?" + std::string(rest);
      break;
    case input_as::raw: {
      const auto nl = rest.find('\n');
      req.target = std::string(rest.substr(0, nl));
      if (nl != std::string_view::npos) req.body = std::string(rest.substr(nl + 1));
      break;
    }
    case input_as::cookie:
      req.headers["cookie"] = std::string(rest);
      break;
  }
  const caller_session* s = r.caller == who::company    ? &w.company
                            : r.caller == who::platform ? &w.platform
                                                        : nullptr;
  if (s != nullptr) {
    req.headers["cookie"] = "__Host-aterm_session=" + s->token;
    req.headers["x-csrf-token"] = s->csrf;
  }
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const world w;
  if (size == 0) return 0;
  const route& r = w.routes[data[0] % w.routes.size()];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  w.reset();
  auto db = open_store(w.db);
  http::metrics_registry metrics;
  http::router router(&metrics);
  api::api_settings settings;
  settings.security.password.iterations = k_iterations;
  settings.technician_login_iterations = k_iterations;
  auto service = api::register_api_routes(
      router, api::api_context{*db, fixed_clock(), metrics, settings, [](const std::string&) {}});
  http::request req = request_for(w, r, rest);
  const http::response res = router.dispatch(req);
  // For writing seeds: what each input was answered.
  static const bool trace = std::getenv("ATERM_FUZZ_TRACE") != nullptr;
  if (trace)
    std::fprintf(stderr, "%s %s -> %d %.300s\n", req.method.c_str(), req.target.c_str(), res.status,
                 res.body.c_str());

  if (r.caller == who::company) {
    for (std::string_view word : {k_other_device, k_other_destination}) {
      if (res.body.find(word) != std::string::npos && rest.find(word) == std::string_view::npos)
        std::abort();
    }
  }
  return 0;
}
