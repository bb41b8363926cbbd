// Attacks on the HTTPS server and the login route from outside, against the real daemon: running
// the descriptors out, one address's connection flood, reading /metrics on the public listener,
// telling login outcomes apart, and login CSRF. Each case performs the attack and checks it fails.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/json.h"
#include "cloud_stack.h"

namespace t = aterm::test;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// Idle TCP connections from `local` to the daemon, as an attacker holds them: no TLS
// handshake, no byte sent. Stops at the first connect that fails (a full backlog times out
// after 2 s instead of the kernel's SYN retries).
std::vector<tcp::socket> open_idle(asio::io_context& ioc, const std::string& local, int port,
                                   std::size_t n) {
  std::vector<tcp::socket> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    tcp::socket s(ioc);
    boost::system::error_code ec;
    s.open(tcp::v4(), ec);
    if (!ec) s.bind(tcp::endpoint(asio::ip::make_address(local), 0), ec);
    timeval timeout{2, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (!ec) {
      s.connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
          ec);
    }
    if (ec) break;
    out.push_back(std::move(s));
  }
  return out;
}

t::cloud_stack_options named(std::string name) {
  t::cloud_stack_options o;
  o.name = std::move(name);
  return o;
}

std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A request written byte for byte, as a foreign page's form or fetch would send it.
t::http_answer raw_request(int port, const std::string& text) {
  t::https_connection conn(port);
  REQUIRE_FALSE(conn.connect());
  REQUIRE_FALSE(conn.send_raw(text));
  auto a = conn.read_response();
  REQUIRE(a);
  return std::move(*a);
}

std::string login_body(t::cloud_stack& s) {
  aterm::common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "company_id", "acme");
  cJSON_AddStringToObject(body.get(), "login_id", "admin");
  cJSON_AddStringToObject(body.get(), "password", s.admin_password("acme").c_str());
  return aterm::common::print_json(body.get());
}

std::string login_post(int port, const std::string& body, const std::string& headers) {
  return "POST /api/v1/session HTTP/1.1\r\nHost: localhost:" + std::to_string(port) + "\r\n" +
         headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("accept_loop_backs_off_when_descriptors_run_out") {
  t::cloud_stack_options o;
  o.name = "http-attack-descriptors";
  // 64 descriptors, and per-address caps above them, so the descriptors run out first.
  o.launcher = {"prlimit", "--nofile=64:64", "--"};
  o.http = R"("max_connections_per_address": 4096, "max_handshakes_per_address": 4096)";
  t::cloud_stack s(o);

  asio::io_context ioc;
  auto flood = open_idle(ioc, "127.0.0.2", s.https_port(), 300);
  REQUIRE(flood.size() > 64);
  // The attack lasts 3 s (its length, not a wait for a state): an accept loop that retries at
  // once writes some 10^5 lines in that time, one that backs off a handful.
  std::this_thread::sleep_for(3s);
  auto log = s.cloud_log();
  CHECK(count_of(log, "accept failed") <= 3);
  CHECK(s.cloud_running());
  CHECK(log.find("descriptor limit") != std::string::npos);

  flood.clear();
  auto c = s.make_client();
  CHECK(s.wait_for(
      c, "/healthz", [](const t::http_answer& a) { return a.status == 200; }, 30s));
}

TEST_CASE("one_address_flood_does_not_deny_another") {
  t::cloud_stack s(named("http-attack-flood"));
  // This process holds the 4,200 sockets of the flood.
  rlimit rl{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_cur < 5000 && rl.rlim_max >= 5000) {
    rl.rlim_cur = 5000;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &rl) == 0);
  }
  REQUIRE(rl.rlim_cur >= 5000);

  asio::io_context ioc;
  // More idle connections from one address than the whole server holds (4,096).
  auto flood = open_idle(ioc, "127.0.0.2", s.https_port(), 4200);
  REQUIRE(flood.size() >= 4100);
  auto c = s.make_client("127.0.0.1");
  t::http_answer a;
  try {
    a = c.request("GET", "/healthz");
  } catch (const std::exception& e) {
    FAIL_CHECK("/healthz from another address failed during the flood: " << e.what());
  }
  CHECK(a.status == 200);
  auto metrics = s.metrics();
  CHECK(metrics.find("too_many_handshakes_per_address") != std::string::npos);
}

TEST_CASE("metrics_not_reachable_on_public_listener") {
  t::cloud_stack s(named("http-attack-metrics"));
  auto c = s.make_client("127.0.0.2");
  for (const char* path : {"/metrics", "/metrics/", "/api/v1/metrics"}) {
    CAPTURE(path);
    auto a = c.request("GET", path);
    CHECK(a.status == 404);
    CHECK(a.body.find("aterm_") == std::string::npos);
  }
  // Served on its own listener (loopback, http.metrics_listen) instead.
  CHECK(s.metrics().find("aterm_http_requests_total") != std::string::npos);
}

TEST_CASE("failed_login_outcomes_not_distinguishable_via_metrics") {
  t::cloud_stack s(named("http-attack-outcomes"));
  auto attacker = s.make_client("127.0.0.2");
  auto before = attacker.request("GET", "/metrics");
  auto wrong = attacker.login("acme", "admin", "not-the-password-1");
  auto unknown = attacker.login("acme", "nobody-here", "not-the-password-1");
  auto after = attacker.request("GET", "/metrics");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);
  for (const auto* a : {&before, &after}) {
    CHECK(a->status == 404);
    CHECK(a->body.find("aterm_api_logins_total") == std::string::npos);
  }
  // The counters exist, on the metrics listener only.
  auto metrics = s.metrics();
  CHECK(metrics.find("outcome=\"wrong_password\"") != std::string::npos);
  CHECK(metrics.find("outcome=\"unknown_account\"") != std::string::npos);
}

TEST_CASE("ip_refused_login_answers_uniform_401") {
  t::cloud_stack s(named("http-attack-iprefused"));
  auto adm = s.client("acme");
  REQUIRE(adm.request("PATCH", "company", R"({"ip_allowlist":["127.0.0.1/32"]})").status == 200);

  auto foreign = s.make_client("127.0.0.2");
  auto refused = foreign.login("acme", "admin", s.admin_password("acme"));
  auto unknown = foreign.login("no-such-company", "admin", s.admin_password("acme"));
  CHECK(refused.status == 401);
  CHECK(refused.str("error") == "login_failed");
  CHECK(refused.status == unknown.status);
  CHECK(refused.body == unknown.body);
  CHECK(refused.set_cookie.empty());

  // The access log still says why.
  auto log = adm.request("GET", "audit?action=login");
  REQUIRE(log.status == 200);
  CHECK(log.body.find("ip_not_allowed") != std::string::npos);
}

TEST_CASE("login_csrf_text_plain_refused") {
  t::cloud_stack s(named("http-attack-csrf-plain"));
  auto body = login_body(s);
  auto cross = raw_request(
      s.https_port(), login_post(s.https_port(), body,
                                 "Content-Type: text/plain\r\nOrigin: https://evil.example\r\n"));
  CHECK(cross.status != 200);
  CHECK(cross.set_cookie.empty());
  // text/plain is refused on its own too: a form can send it without a preflight.
  auto plain =
      raw_request(s.https_port(), login_post(s.https_port(), body, "Content-Type: text/plain\r\n"));
  CHECK(plain.status == 415);
  CHECK(plain.set_cookie.empty());
  auto none = raw_request(s.https_port(), login_post(s.https_port(), body, ""));
  CHECK(none.status == 415);
  // The dashboard's own request still signs in.
  auto own =
      raw_request(s.https_port(), login_post(s.https_port(), body,
                                             "Content-Type: application/json; charset=utf-8\r\n"
                                             "Origin: https://localhost:" +
                                                 std::to_string(s.https_port()) +
                                                 "\r\nSec-Fetch-Site: same-origin\r\n"));
  CHECK(own.status == 200);
  CHECK_FALSE(own.set_cookie.empty());
}

TEST_CASE("login_csrf_foreign_origin_refused") {
  t::cloud_stack s(named("http-attack-csrf-origin"));
  auto body = login_body(s);
  auto port = s.https_port();
  for (std::string headers :
       {std::string("Origin: https://evil.example\r\n"), std::string("Origin: null\r\n"),
        std::string("Sec-Fetch-Site: cross-site\r\n"), std::string("Sec-Fetch-Site: same-site\r\n"),
        "Origin: https://localhost:" + std::to_string(port) +
            "\r\nSec-Fetch-Site: cross-site\r\n"}) {
    CAPTURE(headers);
    auto a =
        raw_request(port, login_post(port, body, "Content-Type: application/json\r\n" + headers));
    CHECK(a.status == 403);
    CHECK(a.str("error") == "cross_origin");
    CHECK(a.set_cookie.empty());
  }
  auto own = raw_request(
      port, login_post(port, body,
                       "Content-Type: application/json\r\nOrigin: https://localhost:" +
                           std::to_string(port) + "\r\nSec-Fetch-Site: same-origin\r\n"));
  CHECK(own.status == 200);
}
