// Router, request parsing helpers and response helpers without sockets.
#include <doctest/doctest.h>

#include <stdexcept>

#include "aterm/cloud/http/message.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/http/server.h"

namespace http = aterm::cloud::http;

namespace {

http::request make(std::string method, std::string target) {
  http::request r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

}  // namespace

TEST_CASE("percent_decode and parse_query") {
  struct row {
    const char* query;
    bool ok;
    std::map<std::string, std::string, std::less<>> expected;
  };
  const row rows[] = {
      {"", true, {}},
      {"a=1&b=2", true, {{"a", "1"}, {"b", "2"}}},
      {"q=a+b%20c", true, {{"q", "a b c"}}},
      {"a=1&a=2", true, {{"a", "1"}}},
      {"flag", true, {{"flag", ""}}},
      {"&&a=%E3%81%82&", true, {{"a", "\xE3\x81\x82"}}},
      {"a=%", false, {}},
      {"a=%4", false, {}},
      {"a=%zz", false, {}},
      {"a=%00", false, {}},
      {"a=%FF", false, {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.query);
    auto got = http::parse_query(r.query);
    REQUIRE(got.ok() == r.ok);
    if (r.ok) CHECK(*got == r.expected);
  }
  std::string many;
  for (int i = 0; i < 40; ++i) many += "k" + std::to_string(i) + "=v&";
  CHECK(!http::parse_query(many).ok());
}

TEST_CASE("parse_cookies") {
  auto c = http::parse_cookies("a=1; __Host-aterm_session=tok; broken; =x; b=\"quoted\"; a=2");
  CHECK(c.size() == 3);
  CHECK(c["a"] == "1");
  CHECK(c["__Host-aterm_session"] == "tok");
  CHECK(c["b"] == "quoted");
}

TEST_CASE("session cookie attributes") {
  CHECK(http::session_cookie("abc") ==
        "__Host-aterm_session=abc; HttpOnly; Secure; SameSite=Strict; Path=/");
  CHECK(http::expired_session_cookie().find("Max-Age=0") != std::string::npos);
}

TEST_CASE("router: params and 404 and 405 and fallback and exceptions") {
  http::metrics_registry m;
  http::router r(&m);
  r.add("GET", "/api/v1/devices/{id}", [](http::request& req) {
    http::response res;
    res.body = req.param("id");
    return res;
  });
  r.add("POST", "/api/v1/devices/{id}/commands", [](http::request& req) {
    http::response res;
    res.status = 202;
    res.body = req.param("id");
    return res;
  });
  r.add("GET", "/boom", [](http::request&) -> http::response { throw std::runtime_error("boom"); });
  r.set_fallback([](http::request& req) {
    http::response res;
    res.body = "static:" + req.path;
    return res;
  });

  struct row {
    const char* method;
    const char* target;
    unsigned status;
    const char* body;  // nullptr: not checked
    const char* route;
  };
  const row rows[] = {
      {"GET", "/api/v1/devices/dev-1", 200, "dev-1", "/api/v1/devices/{id}"},
      {"GET", "/api/v1/devices/dev%2D1?x=1", 200, "dev-1", "/api/v1/devices/{id}"},
      {"POST", "/api/v1/devices/d1/commands", 202, "d1", "/api/v1/devices/{id}/commands"},
      {"GET", "/api/v1/devices/d1/commands", 405, nullptr, "method_not_allowed"},
      {"GET", "/api/v1/devices/a%2Fb", 200, "static:/api/v1/devices/a%2Fb", "static"},
      {"POST", "/api/v1/unknown", 404, nullptr, "unmatched"},
      {"GET", "/api/v1/devices/", 200, "static:/api/v1/devices/", "static"},
      {"GET", "/index.html", 200, "static:/index.html", "static"},
      {"GET", "/boom", 500, R"({"error":"internal","message":"internal error"})", "/boom"},
      {"GET", "*", 400, nullptr, "invalid"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.method);
    CAPTURE(row.target);
    auto req = make(row.method, row.target);
    auto res = r.dispatch(req);
    CHECK(res.status == row.status);
    if (row.body != nullptr) CHECK(res.body == row.body);
    CHECK(req.route == row.route);
    // Every answer, an error's too, says how long the server took (bench_api reads it).
    const auto* timing = res.find_header("Server-Timing");
    REQUIRE(timing != nullptr);
    CHECK(timing->rfind("app;dur=", 0) == 0);
    CHECK(std::stod(timing->substr(8)) >= 0.0);
  }
  auto text = m.render();
  CHECK(
      text.find(
          R"(aterm_http_requests_total{method="GET",route="/api/v1/devices/{id}",status="200"} 2)") !=
      std::string::npos);
}

TEST_CASE("security headers keep a handler's own Cache-Control") {
  http::response res;
  res.set_header("Cache-Control", "no-cache");
  http::add_security_headers(res);
  CHECK(*res.find_header("cache-control") == "no-cache");
  CHECK(*res.find_header("x-frame-options") == "DENY");
  http::response api;
  http::add_security_headers(api);
  CHECK(*api.find_header("Cache-Control") == "no-store");
  api.set_header("Set-Cookie", "a=1");
  api.set_header("Set-Cookie", "b=2");
  int cookies = 0;
  for (const auto& [k, v] : api.headers) cookies += k == "Set-Cookie";
  CHECK(cookies == 2);
}

TEST_CASE("parse_listen") {
  struct row {
    const char* text;
    bool ok;
    const char* host;
    std::uint16_t port;
  };
  const row rows[] = {
      {"127.0.0.1:8443", true, "127.0.0.1", 8443},
      {"[::1]:443", true, "::1", 443},
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"localhost", false, "", 0},
      {":8443", false, "", 0},
      {"::1:8443", false, "", 0},
      {"127.0.0.1:65536", false, "", 0},
      {"127.0.0.1:84a3", false, "", 0},
      {"[::1]8443", false, "", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto got = http::parse_listen(r.text);
    REQUIRE(got.ok() == r.ok);
    if (r.ok) {
      CHECK(got->first == r.host);
      CHECK(got->second == r.port);
    }
  }
}

TEST_CASE("metrics: Prometheus text of counters and gauges and histograms") {
  http::metrics_registry m;
  m.get_counter("jobs_total", "Jobs run", {{"kind", "a\"b"}}).inc(3);
  m.get_gauge("queue_depth", "Depth").set(2.5);
  auto& h = m.get_histogram("latency_seconds", "Latency", {{"route", "/x"}}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  CHECK(m.render() ==
        "# HELP jobs_total Jobs run\n"
        "# TYPE jobs_total counter\n"
        "jobs_total{kind=\"a\\\"b\"} 3\n"
        "# HELP latency_seconds Latency\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
        "latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
        "latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
        "latency_seconds_sum{route=\"/x\"} 5.55\n"
        "latency_seconds_count{route=\"/x\"} 3\n"
        "# HELP queue_depth Depth\n"
        "# TYPE queue_depth gauge\n"
        "queue_depth 2.5\n");
  CHECK(&m.get_counter("jobs_total", "", {{"kind", "a\"b"}}) ==
        &m.get_counter("jobs_total", "", {{"kind", "a\"b"}}));
}

TEST_CASE("client address behind trusted proxies") {
  auto proxies = aterm::cloud::security::ip_allowlist::parse({"10.0.0.1", "10.0.1.0/24"});
  REQUIRE(proxies.ok());
  auto fn = http::trusted_proxy_client_address(*proxies);
  struct row {
    const char* peer;
    const char* xff;
    const char* expected;  // "" refuses the request
  };
  const row rows[] = {
      {"192.0.2.1", "203.0.113.9", "192.0.2.1"},  // untrusted peer: the header is ignored
      {"10.0.0.1", "203.0.113.9", "203.0.113.9"},
      {"10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.1.5", "203.0.113.9"},  // right-most untrusted
      {"10.0.0.1", "", "10.0.0.1"},
      {"10.0.0.1", "not-an-address", ""},
      {"::ffff:10.0.0.1", "2001:db8::1", "2001:db8::1"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.peer);
    CAPTURE(r.xff);
    CHECK(fn(r.peer, r.xff) == r.expected);
  }
}

TEST_CASE("server settings from the configuration") {
  auto keys = http::server_config_keys();
  auto c = aterm::common::parse_config(
      R"({"http":{"listen":"[::1]:9443","cert":"c.pem","key":"k.pem","body_limit":2048,
          "trusted_proxies":["10.0.0.0/8"]}})",
      "test.json", keys);
  REQUIRE_MESSAGE(c.ok(), c.error().to_string());
  auto s = http::server_settings_from(*c);
  REQUIRE(s.ok());
  CHECK(s->host == "::1");
  CHECK(s->port == 9443);
  CHECK(s->body_limit == 2048);
  CHECK(s->header_timeout == std::chrono::seconds(10));
  CHECK(s->client_address("10.1.1.1", "192.0.2.4") == "192.0.2.4");
  CHECK(!http::static_dir_from(*c).empty());

  auto bad_listen = aterm::common::parse_config(R"({"http.listen":"nowhere"})", "t.json", keys);
  REQUIRE(bad_listen.ok());
  CHECK(!http::server_settings_from(*bad_listen).ok());
  auto bad_proxy =
      aterm::common::parse_config(R"({"http.trusted_proxies":["10.0.0.1/8"]})", "t.json", keys);
  REQUIRE(bad_proxy.ok());
  CHECK(!http::server_settings_from(*bad_proxy).ok());
}
