// The /api/v1 routes against the real store on a fresh database of the suite's engine
// (aterm::test::test_db), dispatched through the
// router as the HTTPS server's workers do. Time comes from a manual clock.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "aterm/cloud/api/api.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/claim_code.h"
#include "aterm/common/clock.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace cloud = aterm::cloud;
namespace http = aterm::cloud::http;
namespace api = aterm::cloud::api;
namespace common = aterm::common;
using namespace std::chrono_literals;

namespace {

// Fewer PBKDF2 iterations than production keep the tests fast; the rules are the same.
constexpr std::uint32_t k_test_iterations = 1000;
const std::string k_password = "correct-horse-battery";

struct session_cookies {
  std::string token;
  std::string csrf;
};

struct fixture {
  std::string db_uri = aterm::test::test_db("unit_cloud_api");
  common::manual_clock clock{common::from_unix_s(1'795'000'000)};
  std::unique_ptr<cloud::store> db;
  http::metrics_registry metrics;
  http::router routes{&metrics};
  std::unique_ptr<api::api_service> service;
  std::vector<std::string> notified;
  // Runs at each notice, on the thread that sends it (the request's), when set.
  std::function<void(const std::string&)> on_notice;
  std::int64_t acme_dest = 0;
  std::int64_t other_dest = 0;

  explicit fixture(std::function<void(api::api_settings&)> tweak = {}) {
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = db_uri;
    auto opened = cloud::open_store(o, clock);
    REQUIRE_MESSAGE(opened.ok(), opened.error().to_string());
    db = std::move(opened).value();

    REQUIRE(db->create_company("acme", "ACME").ok());
    REQUIRE(db->create_company("other", "Other").ok());
    acme_dest = db->create_destination("acme", "tokyo", "{}")->id;
    other_dest = db->create_destination("other", "osaka", "{}")->id;
    REQUIRE(db->register_device("acme", "acme-r1", acme_dest).ok());
    REQUIRE(db->register_device("acme", "acme-r2", acme_dest).ok());
    REQUIRE(db->register_device("acme", "acme-r3", acme_dest).ok());
    REQUIRE(db->register_device("other", "other-r1", other_dest).ok());
    add_account("acme", "alice", "administrator");
    add_account("acme", "victor", "viewer");
    add_account("acme", "oscar", "operator");
    add_account("other", "olga", "administrator");

    api::api_settings s;
    s.security.password.iterations = k_test_iterations;
    s.technician_login_iterations = 10000;
    s.device_claim.key = claim_key();
    if (tweak) tweak(s);
    service = api::register_api_routes(
        routes, api::api_context{*db, clock, metrics, s, [this](const std::string& device) {
                                   notified.push_back(device);
                                   if (on_notice) on_notice(device);
                                 }});
  }

  static std::vector<std::uint8_t> claim_key() { return std::vector<std::uint8_t>(32, 7); }
  // {"devices":[{"id", "claim_code"}, ...]} with each device's right code.
  static std::string claims(const std::vector<std::string>& ids) {
    std::string body = R"({"devices":[)";
    for (const auto& id : ids) {
      if (body.back() == '}') body += ',';
      body += R"({"id":")" + id + R"(","claim_code":")" +
              common::claim::format(common::claim::derive(claim_key(), id)) + R"("})";
    }
    return body + "]}";
  }

  void add_account(const std::string& company, const std::string& login, const std::string& role) {
    cloud::new_account a;
    a.company_id = company;
    a.login_id = login;
    a.email = login + "@example.com";
    a.role_name = role;
    a.password_hash = cloud::security::make_password_hash(k_password, k_test_iterations);
    auto r = db->create_account(a);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  }

  http::response call(const std::string& method, const std::string& target,
                      const std::string& body = {}, const session_cookies* s = nullptr,
                      bool with_csrf = true, const std::string& ip = "127.0.0.1",
                      const std::string& content_type = "application/json") {
    http::request req;
    req.method = method;
    req.target = target;
    req.body = body;
    // As the dashboard and every API client send a body (POST /session requires it).
    if (!body.empty()) req.headers["content-type"] = content_type;
    req.peer_address = ip;
    req.client_address = ip;
    if (s != nullptr) {
      req.headers["cookie"] = "other=1; __Host-aterm_session=" + s->token;
      if (with_csrf) req.headers["x-csrf-token"] = s->csrf;
    }
    return routes.dispatch(req);
  }

  http::response login_raw(const std::string& company, const std::string& login,
                           const std::string& password, const std::string& ip = "127.0.0.1") {
    common::json_ptr b(cJSON_CreateObject());
    cJSON_AddStringToObject(b.get(), "company_id", company.c_str());
    cJSON_AddStringToObject(b.get(), "login_id", login.c_str());
    cJSON_AddStringToObject(b.get(), "password", password.c_str());
    return call("POST", "/api/v1/session", common::print_json(b.get()), nullptr, false, ip);
  }

  session_cookies login(const std::string& company, const std::string& login) {
    auto res = login_raw(company, login, k_password);
    REQUIRE_MESSAGE(res.status == 200, res.body);
    const auto* cookie = res.find_header("Set-Cookie");
    REQUIRE(cookie != nullptr);
    auto eq = cookie->find('=');
    auto semi = cookie->find(';');
    session_cookies s;
    s.token = cookie->substr(eq + 1, semi - eq - 1);
    auto body = common::parse_json(res.body);
    REQUIRE(body.ok());
    s.csrf = common::json_string(body->get(), "csrf_token").value_or("");
    return s;
  }

  std::vector<cloud::audit_record> audit(const std::string& company) {
    cloud::audit_query q;
    auto r = db->list_audit(company, q);
    REQUIRE(r.ok());
    return *r;
  }
};

common::json_ptr parse(const http::response& r) {
  auto p = common::parse_json(r.body);
  REQUIRE_MESSAGE(p.ok(), r.body);
  return std::move(p).value();
}

std::string error_code(const http::response& r) {
  auto p = common::parse_json(r.body);
  if (!p.ok()) return {};
  return common::json_string(p->get(), "error").value_or("");
}

// Stores `count` state snapshots of `device` (seq 1..count, received 1 s apart from `t0_ms`).
void ingest_states(cloud::store& db, const std::string& device, int count, std::int64_t t0_ms) {
  std::vector<aterm::bridge::device_message> batch;
  for (int i = 1; i <= count; ++i) {
    common::protocol::state_snapshot st;
    st.seq = i;
    st.ts = (t0_ms + i * 1000) / 1000;
    st.model = "WX3600HP";
    batch.push_back({device, common::protocol::topic_kind::state, t0_ms + i * 1000,
                     common::protocol::encode(st), st});
  }
  auto r = db.apply_batch(batch);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
}

// The seq of every point of a history answer, in answer order; -1 for a point without one.
std::vector<std::int64_t> history_seqs(const http::response& r, std::vector<std::int64_t>* ts) {
  std::vector<std::int64_t> out;
  auto body = common::parse_json(r.body);
  REQUIRE_MESSAGE(body.ok(), r.body);
  const cJSON* arr = cJSON_GetObjectItem(body->get(), "history");
  REQUIRE(cJSON_IsArray(arr));
  const cJSON* point = nullptr;
  cJSON_ArrayForEach(point, arr) {
    out.push_back(common::json_int(cJSON_GetObjectItem(point, "state"), "seq").value_or(-1));
    if (ts) ts->push_back(common::json_int(point, "ts_ms").value_or(-1));
  }
  return out;
}

bool has_record(const std::vector<cloud::audit_record>& records, const std::string& action,
                const std::string& result) {
  for (const auto& r : records) {
    if (r.action == action && r.result == result) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("login sets a strict session cookie and answers account and permissions and CSRF token") {
  fixture f;
  auto res = f.login_raw("acme", "alice", k_password);
  REQUIRE(res.status == 200);
  const auto* cookie = res.find_header("Set-Cookie");
  REQUIRE(cookie != nullptr);
  CHECK(cookie->rfind("__Host-aterm_session=", 0) == 0);
  CHECK(cookie->find("; HttpOnly; Secure; SameSite=Strict; Path=/") != std::string::npos);
  auto body = parse(res);
  const cJSON* account = cJSON_GetObjectItem(body.get(), "account");
  CHECK(common::json_string(account, "login_id") == "alice");
  CHECK(common::json_string(account, "role") == "administrator");
  // The administrator holds every permission.
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(body.get(), "permissions")) ==
        static_cast<int>(cloud::k_permissions.size()));
  auto csrf = common::json_string(body.get(), "csrf_token").value_or("");
  CHECK(csrf.size() >= 22);  // >= 128 bits as base64url

  // The token is >= 128 bits and stored only hashed: the raw token is no session key.
  auto token = cookie->substr(21, cookie->find(';') - 21);
  CHECK(token.size() >= 22);
  CHECK(!f.db->find_session(token).ok());

  SUBCASE("each login makes a new session") {
    auto a = f.login("acme", "alice");
    auto b = f.login("acme", "alice");
    CHECK(a.token != b.token);
    CHECK(a.csrf != b.csrf);
  }
  SUBCASE("who am I and logout ends the session") {
    auto s = f.login("acme", "alice");
    auto me = f.call("GET", "/api/v1/session", {}, &s);
    CHECK(me.status == 200);
    auto no_csrf = f.call("DELETE", "/api/v1/session", {}, &s, false);
    CHECK(no_csrf.status == 403);
    auto out = f.call("DELETE", "/api/v1/session", {}, &s);
    CHECK(out.status == 204);
    CHECK(out.find_header("Set-Cookie")->find("Max-Age=0") != std::string::npos);
    CHECK(f.call("GET", "/api/v1/session", {}, &s).status == 401);
    CHECK(has_record(f.audit("acme"), "logout", "success"));
  }
  CHECK(has_record(f.audit("acme"), "login", "success"));
}

TEST_CASE("every login failure answers the same 401") {
  fixture f;
  auto wrong = f.login_raw("acme", "alice", "not-the-password");
  auto unknown_account = f.login_raw("acme", "nobody", k_password);
  auto unknown_company = f.login_raw("nowhere", "alice", k_password);
  auto foreign = f.login_raw("other", "alice", k_password);
  for (const auto* r : {&wrong, &unknown_account, &unknown_company, &foreign}) {
    CHECK(r->status == 401);
    CHECK(r->body == wrong.body);
    CHECK(r->find_header("Set-Cookie") == nullptr);
  }
  CHECK(error_code(wrong) == "login_failed");
  auto records = f.audit("acme");
  CHECK(has_record(records, "login", "failure"));
  CHECK(has_record(f.audit("platform"), "login", "failure"));

  auto malformed = f.call("POST", "/api/v1/session", "{\"company_id\":", nullptr, false);
  CHECK(malformed.status == 400);
}

TEST_CASE("5 wrong passwords lock the account and the right one is then refused") {
  fixture f;
  for (int i = 0; i < 5; ++i)
    CHECK(f.login_raw("acme", "oscar", "wrong-" + std::to_string(i)).status == 401);
  auto locked = f.login_raw("acme", "oscar", k_password);
  CHECK(locked.status == 401);
  CHECK(error_code(locked) == "login_failed");
  auto a = f.db->find_account("acme", "oscar");
  REQUIRE(a.ok());
  CHECK(a->locked == cloud::lock_reason::failed_logins);
  CHECK(has_record(f.audit("acme"), "account.lock", "success"));
  // The lock runs out after 30 minutes.
  f.clock.advance(1801s);
  CHECK(f.login_raw("acme", "oscar", k_password).status == 200);
}

TEST_CASE("sessions end after the idle time and after the absolute lifetime") {
  SUBCASE("idle") {
    fixture f;
    auto s = f.login("acme", "alice");
    f.clock.advance(3599s);
    CHECK(f.call("GET", "/api/v1/session", {}, &s).status == 200);
    f.clock.advance(3601s);
    auto res = f.call("GET", "/api/v1/session", {}, &s);
    CHECK(res.status == 401);
    CHECK(error_code(res) == "session_expired");
    // Gone for good, even if time went back.
    CHECK(f.call("GET", "/api/v1/devices", {}, &s).status == 401);
  }
  SUBCASE("idle shortened by the setting") {
    fixture f([](api::api_settings& s) { s.security.session.idle = 120s; });
    auto s = f.login("acme", "alice");
    f.clock.advance(121s);
    CHECK(f.call("GET", "/api/v1/session", {}, &s).status == 401);
  }
  SUBCASE("absolute lifetime") {
    fixture f;
    auto s = f.login("acme", "alice");
    for (int i = 0; i < 23; ++i) {
      f.clock.advance(30min);
      REQUIRE(f.call("GET", "/api/v1/devices", {}, &s).status == 200);
    }
    f.clock.advance(30min);  // 12 h after login
    auto res = f.call("GET", "/api/v1/devices", {}, &s);
    CHECK(res.status == 401);
    CHECK(error_code(res) == "session_expired");
  }
}

TEST_CASE("no session or a forged token or a missing CSRF header are refused") {
  fixture f;
  CHECK(f.call("GET", "/api/v1/devices").status == 401);
  session_cookies forged{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"};
  CHECK(f.call("GET", "/api/v1/devices", {}, &forged).status == 401);
  auto s = f.login("acme", "alice");
  auto no_csrf = f.call("POST", "/api/v1/devices/acme-r1/commands", R"({"op":"ping"})", &s, false);
  CHECK(no_csrf.status == 403);
  CHECK(error_code(no_csrf) == "csrf_failed");
  session_cookies wrong_csrf{s.token, s.csrf + "x"};
  CHECK(
      f.call("POST", "/api/v1/devices/acme-r1/commands", R"({"op":"ping"})", &wrong_csrf).status ==
      403);
  CHECK(f.db->list_commands("acme", "acme-r1", 10)->empty());
  CHECK(has_record(f.audit("acme"), "command.create", "denied"));
}

TEST_CASE("another company's device or command or destination answers 404") {
  fixture f;
  auto olga = f.login("other", "olga");
  auto theirs = f.call("POST", "/api/v1/devices/other-r1/commands", R"({"op":"ping"})", &olga);
  REQUIRE(theirs.status == 202);
  auto their_cmd = common::json_string(parse(theirs).get(), "id").value_or("");

  auto s = f.login("acme", "alice");
  CHECK(f.call("GET", "/api/v1/devices/other-r1", {}, &s).status == 404);
  CHECK(f.call("POST", "/api/v1/devices/other-r1/commands", R"({"op":"ping"})", &s).status == 404);
  CHECK(f.call("GET", "/api/v1/commands/" + their_cmd, {}, &s).status == 404);
  CHECK(f.call("POST", "/api/v1/devices/other-r1/technician-logins", "{}", &s).status == 404);
  CHECK(f.call("GET", "/api/v1/destinations/" + std::to_string(f.other_dest), {}, &s).status ==
        404);
  CHECK(f.call("DELETE", "/api/v1/destinations/" + std::to_string(f.other_dest), {}, &s).status ==
        404);
  auto list = parse(f.call("GET", "/api/v1/devices", {}, &s));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(list.get(), "devices")) == 3);
  CHECK(f.db->list_commands("other", "other-r1", 10)->size() == 1);
}

TEST_CASE("permissions: a viewer reads but cannot command and the denial is logged") {
  fixture f;
  auto v = f.login("acme", "victor");
  CHECK(f.call("GET", "/api/v1/devices/acme-r1", {}, &v).status == 200);
  auto res = f.call("POST", "/api/v1/devices/acme-r1/commands", R"({"op":"ping"})", &v);
  CHECK(res.status == 403);
  CHECK(error_code(res) == "forbidden");
  CHECK(f.call("POST", "/api/v1/devices/acme-r1/technician-logins", "{}", &v).status == 403);
  CHECK(f.call("POST", "/api/v1/destinations", R"({"name":"x"})", &v).status == 403);
  CHECK(f.db->list_commands("acme", "acme-r1", 10)->empty());
  bool logged = false;
  for (const auto& r : f.audit("acme")) {
    logged = logged || (r.action == "command.create" && r.result == "denied" &&
                        r.actor == "victor" && r.target == "acme-r1");
  }
  CHECK(logged);
}

// The bridge's dispatcher looks the command up on its own thread as soon as it is told; told
// before the request's transaction committed, it found nothing and the command waited for the
// next poll (mqtt.dispatch_poll_ms, 1 s by default: bench_ingest's round trip p50 of ~900 ms).
TEST_CASE("commands: the bridge is told of a new command only once another thread can read it") {
  fixture f;
  auto s = f.login("acme", "oscar");
  std::optional<std::size_t> seen;
  // Outlives the request: on SQLite a read waits for the request's connection while its
  // transaction is open, and the request must not wait for that read in turn.
  std::future<decltype(f.db->list_commands("", "", 1))> other;
  f.on_notice = [&](const std::string& device) {
    other = std::async(std::launch::async,
                       [&f, device] { return f.db->list_commands("acme", device, 10); });
    // On PostgreSQL the read does not wait but sees no uncommitted command.
    if (other.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return;
    auto listed = other.get();
    if (listed.ok()) seen = listed->size();
  };
  auto res = f.call("POST", "/api/v1/devices/acme-r1/commands", R"({"op":"ping"})", &s);
  if (other.valid()) other.wait();
  REQUIRE(res.status == 202);
  CHECK(f.notified == std::vector<std::string>{"acme-r1"});
  REQUIRE_MESSAGE(seen.has_value(), "the notice came while the command's transaction was open");
  CHECK(*seen == 1);
}

TEST_CASE(
    "commands: queued with 202 and the bridge notified and bad input refused and not stored") {
  fixture f;
  auto s = f.login("acme", "oscar");
  auto res = f.call("POST", "/api/v1/devices/acme-r1/commands",
                    R"({"op":"diag.ping","args":{"host":"192.0.2.1"},"timeout_s":60})", &s);
  REQUIRE(res.status == 202);
  auto body = parse(res);
  auto id = common::json_string(body.get(), "id").value_or("");
  CHECK(common::json_string(body.get(), "status") == "queued");
  CHECK(common::json_int(body.get(), "deadline_s") == f.clock.now_s() + 60);
  CHECK(f.notified == std::vector<std::string>{"acme-r1"});
  auto got = f.call("GET", "/api/v1/commands/" + id, {}, &s);
  CHECK(got.status == 200);
  auto got_body = parse(got);
  CHECK(common::print_json(cJSON_GetObjectItem(got_body.get(), "args")) ==
        R"({"host":"192.0.2.1","count":4})");

  const char* bad_bodies[] = {
      R"({"args":{}})",
      R"({"op":"format.disk"})",
      R"({"op":"ping","args":{"x":1}})",
      R"({"op":"ping","args":[]})",
      R"({"op":"reboot","args":{"delay_s":-1}})",
      R"({"op":"reboot","args":{"delay_s":1.5}})",
      R"({"op":"config.set","args":{"values":{"wifi.ssid":"x"}}})",
      R"({"op":"config.set","args":{"rev":1,"values":{}}})",
      R"({"op":"config.set","args":{"rev":1,"values":{"Bad Key":"x"}}})",
      R"({"op":"config.set","args":{"rev":1,"values":{"wifi.ssid":{"nested":1}}}})",
      R"({"op":"config.get","args":{"keys":"wifi.ssid"}})",
      R"({"op":"diag.ping","args":{"host":"-f"}})",
      R"({"op":"diag.ping","args":{"host":"a;rm -rf /"}})",
      R"({"op":"diag.ping","args":{"host":"h","count":11}})",
      R"({"op":"technician_login.install","args":{}})",
      R"({"op":"ping","timeout_s":0})",
      R"({"op":"ping","timeout_s":"60"})",
      R"({"op":"ping","extra":true})",
      R"(["ping"])",
      R"(not json)",
  };
  for (const char* b : bad_bodies) {
    CAPTURE(b);
    auto r = f.call("POST", "/api/v1/devices/acme-r1/commands", b, &s);
    CHECK(r.status == 400);
  }
  CHECK(f.db->list_commands("acme", "acme-r1", 100)->size() == 1);
  CHECK(f.notified.size() == 1);

  for (const char* good : {R"({"op":"ping"})", R"({"op":"state.refresh","args":{}})",
                           R"({"op":"reboot","args":{"delay_s":5}})", R"({"op":"config.get"})",
                           R"({"op":"config.get","args":{"keys":["wifi.ssid","lan.ip"]}})",
                           R"({"op":"config.set","args":{"rev":3,"values":{"wifi.ssid":"x"}}})"}) {
    CAPTURE(good);
    CHECK(f.call("POST", "/api/v1/devices/acme-r1/commands", good, &s).status == 202);
  }
  CHECK(f.call("POST", "/api/v1/devices/no-such/commands", R"({"op":"ping"})", &s).status == 404);
  CHECK(has_record(f.audit("acme"), "command.create", "success"));
}

TEST_CASE("devices: filter and cursor paging") {
  fixture f;
  auto s = f.login("acme", "victor");
  auto first = parse(f.call("GET", "/api/v1/devices?limit=2", {}, &s));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(first.get(), "devices")) == 2);
  auto cursor = common::json_string(first.get(), "next_cursor");
  REQUIRE(cursor);
  auto second = parse(f.call("GET", "/api/v1/devices?limit=2&cursor=" + *cursor, {}, &s));
  const cJSON* devices = cJSON_GetObjectItem(second.get(), "devices");
  REQUIRE(cJSON_GetArraySize(devices) == 1);
  CHECK(common::json_string(cJSON_GetArrayItem(devices, 0), "id") == "acme-r3");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(second.get(), "next_cursor")));

  auto q = parse(f.call("GET", "/api/v1/devices?q=r2", {}, &s));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(q.get(), "devices")) == 1);
  auto online = parse(f.call("GET", "/api/v1/devices?online=true", {}, &s));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(online.get(), "devices")) == 0);
  for (const char* bad :
       {"?limit=0", "?limit=501", "?limit=x", "?online=maybe", "?online=TRUE", "?online=2"}) {
    CAPTURE(bad);
    CHECK(f.call("GET", std::string("/api/v1/devices") + bad, {}, &s).status == 400);
  }
}

TEST_CASE("devices: the online filter takes true and false and unknown") {
  fixture f;
  // acme-r1 online, acme-r2 offline, acme-r3 never heard a presence.
  std::vector<aterm::bridge::device_message> batch;
  for (auto [id, on] : {std::pair{"acme-r1", true}, std::pair{"acme-r2", false}}) {
    common::protocol::presence p{on, "1.0.0", f.clock.now_s()};
    batch.push_back({id, common::protocol::topic_kind::presence, f.clock.now_s() * 1000,
                     common::protocol::encode(p), p});
  }
  REQUIRE(f.db->apply_batch(batch).ok());
  auto s = f.login("acme", "victor");
  struct row {
    const char* value;
    std::vector<std::string> ids;
  };
  const row rows[] = {
      {"", {"acme-r1", "acme-r2", "acme-r3"}},
      {"true", {"acme-r1"}},
      {"1", {"acme-r1"}},
      {"false", {"acme-r2"}},
      {"0", {"acme-r2"}},
      {"unknown", {"acme-r3"}},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.value));
    auto res = f.call("GET", std::string("/api/v1/devices?online=") + r.value, {}, &s);
    REQUIRE(res.status == 200);
    auto body = parse(res);
    std::vector<std::string> ids;
    const cJSON* d = nullptr;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(body.get(), "devices")) {
      ids.push_back(common::json_string(d, "id").value_or(""));
    }
    CHECK(ids == r.ids);
  }
}

TEST_CASE(
    "technician logins: issued once with the plaintext then installed and listed and revoked") {
  fixture f;
  auto s = f.login("acme", "oscar");
  auto res = f.call("POST", "/api/v1/devices/acme-r1/technician-logins", "{}", &s);
  REQUIRE_MESSAGE(res.status == 201, res.body);
  auto body = parse(res);
  auto login_id = common::json_string(body.get(), "login_id").value_or("");
  auto password = common::json_string(body.get(), "password").value_or("");
  CHECK(login_id.size() == 10);
  CHECK(login_id.rfind("T-", 0) == 0);
  CHECK(password.size() == 12);
  CHECK(common::json_int(body.get(), "expires_at_s") == f.clock.now_s() + 3600);

  auto stored = f.db->get_technician_login("acme", login_id);
  REQUIRE(stored.ok());
  CHECK(stored->iterations == 10000);
  auto salt = common::crypto::from_hex(stored->salt_hex);
  REQUIRE(salt.ok());
  CHECK(salt->size() == 16);
  CHECK(common::crypto::to_hex(common::crypto::pbkdf2_hmac_sha256(password, *salt, 10000, 32)) ==
        stored->hash_hex);
  CHECK(stored->hash_hex.find(password) == std::string::npos);

  auto install = f.db->get_command("acme", stored->install_command_id);
  REQUIRE(install.ok());
  CHECK(install->op == "technician_login.install");
  CHECK(install->deadline_s == stored->expires_at_s);
  auto args = common::parse_json(install->args_json);
  REQUIRE(args.ok());
  CHECK(common::json_string(args->get(), "login_id") == login_id);
  CHECK(common::json_string(args->get(), "hash") == stored->hash_hex);
  CHECK(common::json_int(args->get(), "ttl_s") == 3600);
  CHECK(install->args_json.find(password) == std::string::npos);
  CHECK(f.notified == std::vector<std::string>{"acme-r1"});

  auto list = f.call("GET", "/api/v1/devices/acme-r1/technician-logins", {}, &s);
  REQUIRE(list.status == 200);
  CHECK(list.body.find(login_id) != std::string::npos);
  CHECK(list.body.find(password) == std::string::npos);
  CHECK(list.body.find(stored->hash_hex) == std::string::npos);
  CHECK(list.body.find(stored->salt_hex) == std::string::npos);

  // Revoking through another device's path finds nothing.
  CHECK(f.call("DELETE", "/api/v1/devices/acme-r2/technician-logins/" + login_id, {}, &s).status ==
        404);
  auto revoked = f.call("DELETE", "/api/v1/devices/acme-r1/technician-logins/" + login_id, {}, &s);
  REQUIRE_MESSAGE(revoked.status == 200, revoked.body);
  auto revoke_id = common::json_string(parse(revoked).get(), "revoke_command_id").value_or("");
  auto revoke_cmd = f.db->get_command("acme", revoke_id);
  REQUIRE(revoke_cmd.ok());
  CHECK(revoke_cmd->op == "technician_login.revoke");
  CHECK(f.call("DELETE", "/api/v1/devices/acme-r1/technician-logins/" + login_id, {}, &s).status ==
        409);
  auto records = f.audit("acme");
  CHECK(has_record(records, "technician_login.create", "success"));
  CHECK(has_record(records, "technician_login.revoke", "success"));
  for (const auto& r : records) CHECK(r.detail.find(password) == std::string::npos);
}

TEST_CASE("the install command is answered without the credential's salt or hash") {
  fixture f;
  auto s = f.login("acme", "oscar");
  auto res = f.call("POST", "/api/v1/devices/acme-r1/technician-logins", "{}", &s);
  REQUIRE_MESSAGE(res.status == 201, res.body);
  auto login_id = common::json_string(parse(res).get(), "login_id").value_or("");
  auto stored = f.db->get_technician_login("acme", login_id);
  REQUIRE(stored.ok());
  REQUIRE(!stored->salt_hex.empty());
  REQUIRE(!stored->hash_hex.empty());

  // A viewer holds only device.read; both command-returning routes are checked.
  auto v = f.login("acme", "victor");
  auto one = f.call("GET", "/api/v1/commands/" + stored->install_command_id, {}, &v);
  REQUIRE_MESSAGE(one.status == 200, one.body);
  auto device = f.call("GET", "/api/v1/devices/acme-r1", {}, &v);
  REQUIRE_MESSAGE(device.status == 200, device.body);
  CHECK(device.body.find(stored->install_command_id) != std::string::npos);
  for (const auto* answer : {&one, &device}) {
    CHECK(answer->body.find(stored->salt_hex) == std::string::npos);
    CHECK(answer->body.find(stored->hash_hex) == std::string::npos);
  }
  auto body = parse(one);
  CHECK(common::json_string(body.get(), "op") == "technician_login.install");
  const cJSON* args = cJSON_GetObjectItemCaseSensitive(body.get(), "args");
  REQUIRE(cJSON_IsObject(args));
  CHECK(common::json_string(args, "login_id") == login_id);
  CHECK(common::json_int(args, "expires_at") == stored->expires_at_s);
  CHECK(common::json_int(args, "ttl_s") == 3600);
  CHECK(cJSON_GetObjectItemCaseSensitive(args, "salt") == nullptr);
  CHECK(cJSON_GetObjectItemCaseSensitive(args, "iterations") == nullptr);
  CHECK(cJSON_GetObjectItemCaseSensitive(args, "hash") == nullptr);
}

TEST_CASE("technician logins are refused when the company's ttl is 0") {
  fixture f;
  auto c = f.db->get_company("acme");
  REQUIRE(c.ok());
  auto settings = c->settings;
  settings.technician_login_ttl_minutes = 0;
  REQUIRE(f.db->update_company_settings("acme", settings).ok());
  auto s = f.login("acme", "alice");
  auto res = f.call("POST", "/api/v1/devices/acme-r1/technician-logins", "{}", &s);
  CHECK(res.status == 403);
  CHECK(error_code(res) == "feature_disabled");
  CHECK(f.db->list_commands("acme", "acme-r1", 10)->empty());
}

TEST_CASE("the company's IP allowlist refuses other addresses at login and on every request") {
  fixture f;
  auto s = f.login("acme", "alice");
  auto c = f.db->get_company("acme");
  auto settings = c->settings;
  settings.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
  REQUIRE(f.db->update_company_settings("acme", settings).ok());
  auto refused = f.call("GET", "/api/v1/devices", {}, &s);
  CHECK(refused.status == 403);
  CHECK(error_code(refused) == "ip_not_allowed");
  CHECK(f.call("GET", "/api/v1/devices", {}, &s, true, "10.1.2.3").status == 200);
  // At login the refusal is the uniform 401 (it must not tell the company exists); the access
  // log keeps the reason.
  auto refused_login = f.login_raw("acme", "alice", k_password, "192.0.2.7");
  CHECK(refused_login.status == 401);
  CHECK(error_code(refused_login) == "login_failed");
  CHECK(f.login_raw("acme", "alice", k_password, "2001:db8::5").status == 200);
  CHECK(has_record(f.audit("acme"), "login", "denied"));
}

TEST_CASE("destinations: create and read and rename and register devices and delete") {
  fixture f;
  auto s = f.login("acme", "alice");
  auto created =
      f.call("POST", "/api/v1/destinations", R"({"name":"nagoya","settings":{"a":1}})", &s);
  REQUIRE_MESSAGE(created.status == 201, created.body);
  auto id = std::to_string(common::json_int(parse(created).get(), "id").value_or(0));
  CHECK(f.call("POST", "/api/v1/destinations", R"({"name":"nagoya"})", &s).status == 409);
  CHECK(f.call("POST", "/api/v1/destinations", R"({"name":""})", &s).status == 400);
  CHECK(f.call("POST", "/api/v1/destinations", R"({"nom":"x"})", &s).status == 400);

  auto renamed = f.call("PATCH", "/api/v1/destinations/" + id, R"({"name":"nagoya-2"})", &s);
  CHECK(renamed.status == 200);
  CHECK(common::json_string(parse(renamed).get(), "name") == "nagoya-2");

  // acme-r1 sits in tokyo: the registration names the move and changes nothing until confirmed.
  auto body = fixture::claims({"acme-r1", "new-router"});
  auto reg = f.call("POST", "/api/v1/destinations/" + id + "/devices", body, &s);
  REQUIRE_MESSAGE(reg.status == 409, reg.body);
  CHECK(reg.body.find("\"confirm_moves\"") != std::string::npos);
  CHECK_FALSE(f.db->get_device("acme", "new-router").ok());
  body.insert(body.size() - 1, R"(,"confirm_moves":true)");
  reg = f.call("POST", "/api/v1/destinations/" + id + "/devices", body, &s);
  REQUIRE_MESSAGE(reg.status == 200, reg.body);
  CHECK(f.db->get_device("acme", "new-router")->destination_id == std::stoll(id));
  CHECK(f.db->get_device("acme", "acme-r1")->destination_id == std::stoll(id));
  CHECK(f.call("POST", "/api/v1/destinations/" + id + "/devices", fixture::claims({"other-r1"}), &s)
            .status == 404);
  CHECK(f.call("POST", "/api/v1/destinations/" + id + "/devices", R"({"device_id":"a/b"})", &s)
            .status == 400);
  CHECK(f.call("DELETE", "/api/v1/destinations/" + id, {}, &s).status == 409);
  auto list = parse(f.call("GET", "/api/v1/destinations", {}, &s));
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(list.get(), "destinations")) == 2);
  CHECK(f.call("GET", "/api/v1/destinations/abc", {}, &s).status == 404);

  auto empty = f.call("POST", "/api/v1/destinations", R"({"name":"empty"})", &s);
  auto empty_id = std::to_string(common::json_int(parse(empty).get(), "id").value_or(0));
  CHECK(f.call("DELETE", "/api/v1/destinations/" + empty_id, {}, &s).status == 204);
  CHECK(f.call("GET", "/api/v1/destinations/" + empty_id, {}, &s).status == 404);
  CHECK(has_record(f.audit("acme"), "destination.create", "success"));
  CHECK(has_record(f.audit("acme"), "device.register", "success"));
}

TEST_CASE("register devices: all or nothing, and a refusal names no device") {
  fixture f;
  auto s = f.login("acme", "alice");
  const std::string path = "/api/v1/destinations/" + std::to_string(f.acme_dest) + "/devices";
  // other-r1 belongs to another company: nothing of the request is registered, and the answer
  // is the one of a wrong code.
  auto refused = f.call("POST", path, fixture::claims({"new-before", "other-r1", "new-after"}), &s);
  CHECK(refused.status == 404);
  CHECK(error_code(refused) == "not_found");
  auto wrong =
      f.call("POST", path, R"({"device_id":"new-x","claim_code":"AAAA-AAAA-AAAA-AAAA"})", &s);
  CHECK(wrong.body == refused.body);
  CHECK(refused.body.find("other-r1") == std::string::npos);
  CHECK(f.db->get_device("acme", "new-before").error().code() == cloud::k_not_found);
  CHECK(f.db->get_device("acme", "new-after").error().code() == cloud::k_not_found);
  CHECK(f.db->get_device("other", "other-r1").ok());
  CHECK(has_record(f.audit("acme"), "device.register", "failure"));
  // The former shape without codes is refused as bad input.
  CHECK(f.call("POST", path, R"({"device_ids":["new-x"]})", &s).status == 400);

  auto ok = f.call("POST", path, fixture::claims({"new-before", "acme-r1", "new-after"}), &s);
  REQUIRE_MESSAGE(ok.status == 200, ok.body);
  auto answer = parse(ok);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(answer.get(), "devices")) == 3);
  for (const char* id : {"new-before", "acme-r1", "new-after"}) {
    CAPTURE(id);
    CHECK(f.db->get_device("acme", id)->destination_id == f.acme_dest);
  }
  CHECK(f.call("POST", "/api/v1/destinations/" + std::to_string(f.other_dest) + "/devices",
               fixture::claims({"new-x"}), &s)
            .status == 404);
  CHECK(f.db->get_device("acme", "new-x").error().code() == cloud::k_not_found);
}

TEST_CASE("device claims without a claim key are all refused") {
  fixture f([](api::api_settings& s) { s.device_claim.key.clear(); });
  auto s = f.login("acme", "alice");
  const std::string path = "/api/v1/destinations/" + std::to_string(f.acme_dest) + "/devices";
  CHECK(f.call("POST", path, fixture::claims({"new-x"}), &s).status == 404);
  CHECK(f.db->get_device("acme", "new-x").error().code() == cloud::k_not_found);
}

TEST_CASE("failed logins are throttled per source address") {
  fixture f([](api::api_settings& s) { s.security.throttle.max_failures = 3; });
  for (int i = 0; i < 3; ++i) f.login_raw("acme", "nobody" + std::to_string(i), "x", "192.0.2.9");
  // Right credentials from the throttled address are refused without checking.
  CHECK(f.login_raw("acme", "alice", k_password, "192.0.2.9").status == 401);
  CHECK(f.login_raw("acme", "alice", k_password, "192.0.2.10").status == 200);
}

TEST_CASE("a burst of failed logins raises an alarm") {
  fixture f([](api::api_settings& s) {
    s.security.burst.threshold = 3;
    s.security.throttle.max_failures = 100;
    s.alarm_mail_to = "ops@example.com";
  });
  for (int i = 0; i < 3; ++i) f.login_raw("acme", "nobody", "x");
  auto alarms = f.db->list_alarms(10);
  REQUIRE(alarms.ok());
  CHECK(!alarms->empty());
  CHECK(alarms->front().kind == "login_failure_burst");
}

TEST_CASE("device history: oldest first and bounded by limit") {
  fixture f;
  const std::int64_t t0_ms = f.clock.now_s() * 1000;
  ingest_states(*f.db, "acme-r1", 5, t0_ms);
  auto s = f.login("acme", "victor");

  auto all = f.call("GET", "/api/v1/devices/acme-r1/history", {}, &s);
  REQUIRE(all.status == 200);
  std::vector<std::int64_t> ts;
  CHECK(history_seqs(all, &ts) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(ts == std::vector<std::int64_t>{t0_ms + 1000, t0_ms + 2000, t0_ms + 3000, t0_ms + 4000,
                                        t0_ms + 5000});
  auto body = parse(all);
  const cJSON* first = cJSON_GetArrayItem(cJSON_GetObjectItem(body.get(), "history"), 0);
  CHECK(common::json_string(cJSON_GetObjectItem(first, "state"), "model") == "WX3600HP");

  // The latest two, still oldest first.
  auto two = f.call("GET", "/api/v1/devices/acme-r1/history?limit=2", {}, &s);
  REQUIRE(two.status == 200);
  CHECK(history_seqs(two, nullptr) == std::vector<std::int64_t>{4, 5});
  CHECK(f.call("GET", "/api/v1/devices/acme-r1/history?limit=288", {}, &s).status == 200);
  CHECK(f.call("GET", "/api/v1/devices/acme-r1/history?limit=1", {}, &s).status == 200);

  auto none = f.call("GET", "/api/v1/devices/acme-r2/history", {}, &s);
  REQUIRE(none.status == 200);
  CHECK(history_seqs(none, nullptr).empty());
  CHECK(has_record(f.audit("acme"), "device.history", "success"));
}

TEST_CASE("device history: a bad limit answers 400") {
  fixture f;
  auto s = f.login("acme", "victor");
  for (const char* bad : {"0", "289", "-1", "x", "1.5", "99999999999999999999"}) {
    CAPTURE(bad);
    auto r = f.call("GET", std::string("/api/v1/devices/acme-r1/history?limit=") + bad, {}, &s);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "out_of_range");
    CHECK(common::json_string(parse(r).get(), "field") == "limit");
    CHECK(common::json_int(parse(r).get(), "max") == 288);
  }
}

// What a refusal of the device, command, technician-login, company, role and admin routes answers:
// its own code and the detail field the page words it with (never a generic bad_request,
// invalid or conflict).
struct refusal_case {
  const char* method;
  std::string target;
  std::string body;
  unsigned status;
  const char* code;
  const char* detail_key;  // nullptr: no detail checked
  const char* detail;
};

void check_refusals(fixture& f, const session_cookies& s, const std::vector<refusal_case>& cases) {
  for (const auto& c : cases) {
    CAPTURE(c.method);
    CAPTURE(c.target);
    CAPTURE(c.body);
    auto r = f.call(c.method, c.target, c.body, &s);
    CHECK(r.status == c.status);
    CHECK(error_code(r) == c.code);
    if (c.detail_key != nullptr) {
      auto body = parse(r);
      const cJSON* v = cJSON_GetObjectItemCaseSensitive(body.get(), c.detail_key);
      REQUIRE_MESSAGE(v != nullptr, r.body);
      CHECK((cJSON_IsString(v) ? std::string(v->valuestring) : common::print_json(v)) == c.detail);
    }
  }
}

TEST_CASE("refusals of the device, company and role routes name a specific code and field") {
  fixture f;
  auto s = f.login("acme", "alice");
  const std::string dev = "/api/v1/devices/acme-r1/commands";
  check_refusals(
      f, s,
      {
          {"GET", "/api/v1/devices?q=" + std::string(129, 'x'), "", 400, "too_long", "field", "q"},
          {"GET", "/api/v1/devices?online=maybe", "", 400, "invalid_value", "field", "online"},
          {"GET", "/api/v1/devices?limit=0", "", 400, "out_of_range", "field", "limit"},
          {"GET", "/api/v1/devices?cursor=" + std::string(300, 'c'), "", 400, "invalid_value",
           "field", "cursor"},
          {"POST", dev, "{}", 400, "field_required", "field", "op"},
          {"POST", dev, R"({"op":1})", 400, "wrong_type", "field", "op"},
          {"POST", dev, R"({"op":"ping","x":1})", 400, "unknown_field", "field", "x"},
          {"POST", dev, R"({"op":"nope"})", 400, "bad_command", "reason", "unknown_op"},
          {"POST", dev, R"({"op":"technician_login.revoke","args":{"login_id":"T-x"}})", 400,
           "bad_command", "reason", "not_operator_issued"},
          {"POST", dev, R"({"op":"reboot","args":{"delay_s":"soon"}})", 400, "bad_command", "op",
           "reboot"},
          {"POST", dev, R"({"op":"ping","timeout_s":0})", 400, "out_of_range", "max", "86400"},
          {"PATCH", "/api/v1/company", R"({"technician_login_ttl_minutes":-1})", 400,
           "out_of_range", "field", "technician_login_ttl_minutes"},
          {"PATCH", "/api/v1/company", R"({"ip_allowlist":"10.0.0.0/8"})", 400, "wrong_type",
           "type", "array"},
          {"PATCH", "/api/v1/company", R"({"ip_allowlist":["127.0.0.1/32","nope"]})", 400,
           "bad_cidr", "line", "2"},
          {"PATCH", "/api/v1/company", R"({"colour":"red"})", 400, "unknown_field", "field",
           "colour"},
          {"POST", "/api/v1/roles", R"({"name":"desk"})", 400, "field_required", "field",
           "permissions"},
          {"POST", "/api/v1/roles", R"({"name":"","permissions":[]})", 400, "invalid_name",
           "max_length", "128"},
          {"POST", "/api/v1/roles", R"({"name":"desk","permissions":["device.fly"]})", 400,
           "unknown_permission", "permission", "device.fly"},
      });

  auto made =
      f.call("POST", "/api/v1/roles", R"({"name":"desk","permissions":["device.read"]})", &s);
  REQUIRE_MESSAGE(made.status == 201, made.body);
  const auto desk = std::to_string(common::json_int(parse(made).get(), "id").value_or(0));
  f.add_account("acme", "dora", "desk");
  auto viewer = f.db->find_role("acme", "viewer");
  REQUIRE(viewer.ok());
  const auto viewer_id = std::to_string(viewer->id);
  check_refusals(
      f, s,
      {
          {"POST", "/api/v1/roles", R"({"name":"desk","permissions":["device.read"]})", 409,
           "role_name_taken", "name", "desk"},
          {"PATCH", "/api/v1/roles/" + viewer_id, R"({"name":"watcher"})", 409, "role_built_in",
           "role", "viewer"},
          {"DELETE", "/api/v1/roles/" + viewer_id, "", 409, "role_built_in", "role", "viewer"},
          {"DELETE", "/api/v1/roles/" + desk, "", 409, "role_in_use", "role", "desk"},
      });
  // A refusal changed nothing.
  CHECK(f.db->find_role("acme", "desk").ok());
  CHECK(f.db->find_role("acme", "viewer")->name == "viewer");
}

TEST_CASE("refusals of the technician-login and site-administrator routes name a specific code") {
  fixture f;
  auto s = f.login("acme", "alice");
  auto issued = f.call("POST", "/api/v1/devices/acme-r1/technician-logins", "{}", &s);
  REQUIRE_MESSAGE(issued.status == 201, issued.body);
  const auto login = common::json_string(parse(issued).get(), "login_id").value_or("");
  const auto revoke = "/api/v1/devices/acme-r1/technician-logins/" + login;
  REQUIRE(f.call("DELETE", revoke, "", &s).status == 200);
  check_refusals(
      f, s,
      {{"DELETE", revoke, "", 409, "technician_login_not_active", "login_id", login.c_str()}});

  REQUIRE(f.db->create_company("platform", "Platform").ok());
  f.add_account("platform", "root", "administrator");
  auto root = f.login("platform", "root");
  check_refusals(
      f, root,
      {
          {"POST", "/api/v1/admin/companies", R"({"name":"Beta"})", 400, "field_required", "field",
           "id"},
          {"POST", "/api/v1/admin/companies", R"({"id":"acme","name":"Again"})", 409,
           "company_id_taken", "company_id", "acme"},
          {"POST", "/api/v1/admin/companies", R"({"id":"-x","name":"Beta"})", 400,
           "invalid_company_id", "max_length", "64"},
          {"POST", "/api/v1/admin/companies", R"({"id":"beta","name":"Beta","administrator":"b"})",
           400, "field_required", "field", "administrator_email"},
          {"POST", "/api/v1/admin/companies",
           R"({"id":"beta","name":"Beta","contract_end":"soon"})", 400, "invalid_time", "field",
           "contract_end"},
          {"PATCH", "/api/v1/admin/companies/platform", R"({"contract_end":null})", 409,
           "platform_company", "company_id", "platform"},
          {"POST", "/api/v1/admin/devices/acme-r9/assign",
           R"({"company_id":"platform","destination":"x"})", 409, "platform_company", nullptr,
           nullptr},
          {"POST", "/api/v1/admin/devices/acme-r1/assign",
           R"({"company_id":"other","destination":"x"})", 409, "device_in_other_company",
           "device_id", "acme-r1"},
          {"POST", "/api/v1/admin/devices/acme-r9/assign", R"({"company_id":"other"})", 400,
           "field_required", "field", "destination"},
      });
  CHECK_FALSE(f.db->get_company("beta").ok());
  // Anyone but a site administrator: 403 naming the permission.
  check_refusals(
      f, s,
      {{"GET", "/api/v1/admin/companies", "", 403, "forbidden", "permission", "company.settings"}});
}

TEST_CASE("refusals of the destination, access-log and session routes name a specific code") {
  fixture f;
  auto s = f.login("acme", "alice");
  const std::string dest = "/api/v1/destinations/" + std::to_string(f.acme_dest);
  const std::string reg = dest + "/devices";
  std::string too_many = R"({"devices":[)";
  for (std::size_t i = 0; i <= cloud::limits::k_max_page; ++i) {
    too_many += (i ? "," : "") + std::string(R"({"id":"r","claim_code":"c"})");
  }
  too_many += "]}";
  check_refusals(
      f, s,
      {
          {"POST", "/api/v1/destinations", "{}", 400, "field_required", "field", "name"},
          {"POST", "/api/v1/destinations", R"({"name":""})", 400, "invalid_name", "max_length",
           "128"},
          {"POST", "/api/v1/destinations", R"({"name":7})", 400, "wrong_type", "field", "name"},
          {"POST", "/api/v1/destinations", R"({"nom":"x"})", 400, "unknown_field", "field", "nom"},
          {"PATCH", dest, R"({"settings":[]})", 400, "wrong_type", "type", "object"},
          {"PATCH", dest, R"({"settings":{"a":")" + std::string(17 * 1024, 'a') + R"("}})", 400,
           "settings_too_large", "max_bytes", "16384"},
          {"POST", reg, R"({"claim_code":"c"})", 400, "field_required", "field", "device_id"},
          {"POST", reg, R"({"device_id":"a/b"})", 400, "invalid_device_id", "field", "device_id"},
          {"POST", reg, R"({"device_id":"router-1","claim_code":1})", 400, "wrong_type", "field",
           "claim_code"},
          {"POST", reg, R"({"device_ids":["r"]})", 400, "unknown_field", "field", "device_ids"},
          {"POST", reg, R"({"devices":{}})", 400, "wrong_type", "field", "devices"},
          {"POST", reg, R"({"devices":[]})", 400, "bad_count", "max", "500"},
          {"POST", reg, too_many, 400, "bad_count", "field", "devices"},
          {"POST", reg, R"({"devices":["r"]})", 400, "wrong_type", "type", "array of objects"},
          {"POST", reg, R"({"devices":[{"id":"a b"}]})", 400, "invalid_device_id", "field", "id"},
          {"POST", reg, R"({"devices":[],"x":1})", 400, "unknown_field", "field", "x"},
          {"PATCH", "/api/v1/devices/acme-r1", R"({"to":1})", 400, "unknown_field", "field", "to"},
          {"GET", "/api/v1/audit?from=yesterday", "", 400, "invalid_time", "field", "from"},
          {"GET", "/api/v1/audit?to=1", "", 400, "invalid_time", "field", "to"},
          {"GET", "/api/v1/audit?after_seq=-1", "", 400, "invalid_value", "field", "after_seq"},
          {"GET", "/api/v1/audit?before_seq=x", "", 400, "invalid_value", "field", "before_seq"},
          {"GET", "/api/v1/audit?order=random", "", 400, "invalid_value", "field", "order"},
          {"GET", "/api/v1/audit?limit=0", "", 400, "invalid_value", "field", "limit"},
          {"GET", "/api/v1/audit?format=xml", "", 400, "invalid_value", "field", "format"},
      });
  // A CSV upload names the line it cannot read, or that it holds no device line at all.
  auto csv = [&](const std::string& text) {
    return f.call("POST", reg, text, &s, true, "127.0.0.1", "text/csv");
  };
  auto bad_line = csv("device_id,claim_code\nr-1,AAAA\nr-2\n");
  CHECK(bad_line.status == 400);
  CHECK(error_code(bad_line) == "bad_csv");
  CHECK(common::json_int(parse(bad_line).get(), "line") == 3);
  auto empty = csv("device_id,claim_code\n");
  CHECK(error_code(empty) == "empty_csv");
  auto bad_id = csv("r-1,AAAA\nr 2,BBBB\n");
  CHECK(error_code(bad_id) == "invalid_device_id");
  CHECK(common::json_string(parse(bad_id).get(), "device_id") == "r 2");
  CHECK_FALSE(f.db->get_device("acme", "r-1").ok());
  // A claim's tags (the dashboard's upload sends a line's tags column so) obey the tag rule
  // before any claim is tried.
  for (const char* tags : {R"("=sum")", R"(1)"}) {
    CAPTURE(tags);
    auto bad_tags = f.call(
        "POST", reg,
        std::string(R"({"devices":[{"id":"r-1","claim_code":"AAAA","tags":[)") + tags + "]}]}", &s);
    CHECK(bad_tags.status == 400);
    CHECK(error_code(bad_tags) == "bad_tags");
  }
  CHECK(error_code(f.call("POST", reg, R"({"device_id":"r-1","claim_code":"A","tags":"x"})", &s)) ==
        "bad_tags");
  CHECK_FALSE(f.db->get_device("acme", "r-1").ok());

  // Sign-in: each missing or mistyped field by name, and none of them counts as a failed login.
  check_refusals(
      f, s,
      {
          {"POST", "/api/v1/session", R"({"login_id":"alice","password":"x"})", 400,
           "field_required", "field", "company_id"},
          {"POST", "/api/v1/session", R"({"company_id":"acme","password":"x"})", 400,
           "field_required", "field", "login_id"},
          {"POST", "/api/v1/session", R"({"company_id":"acme","login_id":"alice"})", 400,
           "field_required", "field", "password"},
          {"POST", "/api/v1/session", R"({"company_id":"acme","login_id":"alice","password":1})",
           400, "wrong_type", "field", "password"},
      });
  std::size_t failures = 0;
  for (const auto& r : f.audit("acme")) failures += r.action == "login" && r.result == "failure";
  CHECK(failures == 0);
}

TEST_CASE("refusals of the alert and notice routes name a specific code") {
  fixture f;
  auto s = f.login("acme", "alice");
  check_refusals(
      f, s,
      {
          {"PUT", "/api/v1/alert-rules", "{}", 400, "field_required", "field", "rules"},
          {"PUT", "/api/v1/alert-rules", R"({"rules":{}})", 400, "wrong_type", "field", "rules"},
          {"PUT", "/api/v1/alert-rules", R"({"rules":[{"kind":"fire"}]})", 400, "invalid_value",
           "field", "kind"},
          {"PUT", "/api/v1/alert-rules", R"({"rules":[{"kind":"cpu_load","enabled":1}]})", 400,
           "wrong_type", "type", "boolean"},
          {"PUT", "/api/v1/alert-rules", R"({"rules":[{"kind":"cpu_load","threshold":"x"}]})", 400,
           "wrong_type", "field", "threshold"},
          {"PUT", "/api/v1/alert-rules", R"({"rules":[{"kind":"cpu_load","x":1}]})", 400,
           "unknown_field", "field", "x"},
          {"GET", "/api/v1/alarms?state=burning", "", 400, "invalid_value", "field", "state"},
          {"GET", "/api/v1/alarms?limit=0", "", 400, "out_of_range", "field", "limit"},
          {"POST", "/api/v1/alarms/1/acknowledge", R"({"comment":5})", 400, "wrong_type", "field",
           "comment"},
          {"POST", "/api/v1/alarms/1/acknowledge", R"({"comment":"a\nb"})", 400, "invalid_name",
           "field", "comment"},
          {"POST", "/api/v1/notification-channels", "{}", 400, "field_required", "field", "kind"},
          {"POST", "/api/v1/notification-channels", R"({"kind":"fax"})", 400, "invalid_value",
           "field", "kind"},
          {"POST", "/api/v1/notification-channels", R"({"kind":"email","account_ids":[]})", 400,
           "bad_count", "field", "account_ids"},
          {"POST", "/api/v1/notification-channels", R"({"kind":"email","account_ids":["a"]})", 400,
           "wrong_type", "field", "account_ids"},
          {"POST", "/api/v1/notification-channels", R"({"kind":"webhook","url":1})", 400,
           "wrong_type", "field", "url"},
      });

  REQUIRE(f.db->create_company("platform", "Platform").ok());
  f.add_account("platform", "root", "administrator");
  auto root = f.login("platform", "root");
  const std::string window =
      R"("starts_at":"2030-01-01T00:00:00Z","ends_at":"2030-01-01T01:00:00Z")";
  check_refusals(
      f, root,
      {
          {"POST", "/api/v1/admin/maintenance", R"({"text_ja":"a",)" + window + "}", 400,
           "field_required", "field", "text_en"},
          {"POST", "/api/v1/admin/maintenance", R"({"text_ja":"","text_en":"b",)" + window + "}",
           400, "invalid_text", "field", "text_ja"},
          {"POST", "/api/v1/admin/maintenance", R"({"text_ja":"a","text_en":"b"})", 400,
           "field_required", "field", "starts_at"},
          {"POST", "/api/v1/admin/maintenance",
           R"({"text_ja":"a","text_en":"b","starts_at":"soon","ends_at":"later"})", 400,
           "invalid_time", "field", "starts_at"},
          {"POST", "/api/v1/admin/maintenance",
           R"({"text_ja":"a","text_en":"b","urgent":"yes",)" + window + "}", 400, "wrong_type",
           "field", "urgent"},
          {"POST", "/api/v1/admin/incidents", R"({"text_ja":"a","text_en":"b"})", 400,
           "field_required", "field", "status"},
          {"POST", "/api/v1/admin/incidents", R"({"text_ja":"a","text_en":"b","status":"on fire"})",
           400, "invalid_value", "field", "status"},
          {"POST", "/api/v1/admin/incidents", R"({"text_ja":"a","text_en":"b","x":1})", 400,
           "unknown_field", "field", "x"},
      });
}

TEST_CASE("device history: another company's or a missing device answers 404") {
  fixture f;
  ingest_states(*f.db, "other-r1", 3, f.clock.now_s() * 1000);
  auto s = f.login("acme", "alice");
  for (const char* id : {"other-r1", "no-such", "a%2Fb"}) {
    CAPTURE(id);
    auto r = f.call("GET", std::string("/api/v1/devices/") + id + "/history", {}, &s);
    CHECK(r.status == 404);
    CHECK(r.body.find("seq") == std::string::npos);
  }
  auto olga = f.login("other", "olga");
  auto theirs = f.call("GET", "/api/v1/devices/other-r1/history", {}, &olga);
  REQUIRE(theirs.status == 200);
  CHECK(history_seqs(theirs, nullptr).size() == 3);
}

TEST_CASE("device history: without device.read the answer is 403 and logged") {
  fixture f;
  ingest_states(*f.db, "acme-r1", 2, f.clock.now_s() * 1000);
  REQUIRE(f.db->create_role("acme", "auditor", {"audit.read"}).ok());
  f.add_account("acme", "andy", "auditor");
  auto s = f.login("acme", "andy");
  auto r = f.call("GET", "/api/v1/devices/acme-r1/history", {}, &s);
  CHECK(r.status == 403);
  CHECK(error_code(r) == "forbidden");
  CHECK(has_record(f.audit("acme"), "device.history", "denied"));
}

TEST_CASE("device history: a stored row that no longer parses is left out") {
  fixture f;
  const std::int64_t t0_ms = f.clock.now_s() * 1000;
  ingest_states(*f.db, "acme-r1", 3, t0_ms);
  {
    // A damaged row between seq 2 and 3, written past the store as a disk fault would.
    const char* sql =
        "UPDATE state_history SET state_json = '{\"seq\":' WHERE device_id = 'acme-r1' "
        "AND id = (SELECT id FROM state_history WHERE device_id = 'acme-r1' ORDER BY id "
        "LIMIT 1 OFFSET 1)";
    CHECK(aterm::test::exec_sql(f.db_uri, sql) == "");
  }
  auto s = f.login("acme", "victor");
  auto r = f.call("GET", "/api/v1/devices/acme-r1/history", {}, &s);
  REQUIRE(r.status == 200);
  CHECK(history_seqs(r, nullptr) == std::vector<std::int64_t>{1, 3});
}
