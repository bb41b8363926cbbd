// The HTTPS server over real TLS on 127.0.0.1: routing, limits, timeouts, keep-alive, security
// headers, TLS versions, static files and graceful stop.
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/http/server.h"
#include "aterm/cloud/http/static_files.h"
#include "aterm/test/https_client.h"
#include "aterm/test/support.h"

namespace http = aterm::cloud::http;
namespace fs = std::filesystem;
using aterm::test::https_connection;
using namespace std::chrono_literals;

namespace {

// A self-signed P-256 certificate for 127.0.0.1 made with the openssl CLI.
struct test_cert {
  aterm::test::temp_dir dir{"aterm-http-test"};
  fs::path cert = dir / "cert.pem";
  fs::path key = dir / "key.pem";
  test_cert() {
    auto r = aterm::test::run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.string(),
                               "-out", cert.string(), "-days", "1", "-subj", "/CN=localhost",
                               "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
};

struct fixture {
  test_cert tls;
  http::metrics_registry metrics;
  http::router routes{&metrics};
  std::unique_ptr<http::server> srv;
  std::uint16_t port = 0;

  fixture() {
    routes.add("GET", "/api/v1/things/{id}", [](http::request& req) {
      http::response res;
      res.body = R"({"id":")" + req.param("id") + R"(","q":")" + req.query_value("q").value_or("") +
                 R"("})";
      return res;
    });
    routes.add("POST", "/api/v1/things/{id}", [](http::request& req) {
      auto body = req.json_body();
      if (!body.ok()) return http::error_response(400, "bad_json", body.error().message());
      http::response res;
      res.status = 201;
      res.body = std::to_string(req.body.size());
      return res;
    });
    http::register_health_and_metrics(routes, metrics);
  }

  void start(http::server_settings s = {}) {
    s.host = "127.0.0.1";
    s.port = static_cast<std::uint16_t>(aterm::test::free_port());
    s.cert_file = tls.cert.string();
    s.key_file = tls.key.string();
    srv = std::make_unique<http::server>(s, routes, metrics);
    auto st = srv->start();
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    port = srv->port();
  }

  std::unique_ptr<https_connection> connected() {
    auto c = std::make_unique<https_connection>(port);
    REQUIRE_MESSAGE(!c->connect(), "connect failed");
    return c;
  }
};

// A client that offers TLS versions up to `max_version` only.
aterm::test::tls_options offering_up_to(int max_version) {
  aterm::test::tls_options o;
  o.max_tls_version = max_version;
  return o;
}

}  // namespace

TEST_CASE("routes with parameters and query and 404 and 405") {
  fixture f;
  f.start();
  auto c = f.connected();

  auto r = c->request("GET", "/api/v1/things/ab%20c?q=x%2By+z");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"id":"ab c","q":"x+y z"})");

  r = c->request("GET", "/api/v1/nothing");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body == R"({"error":"not_found","message":"no such resource"})");

  r = c->request("DELETE", "/api/v1/things/1");
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("Allow") == "GET, POST");
  CHECK(r->body.find(R"("error":"method_not_allowed")") != std::string::npos);

  r = c->request("GET", "/api/v1/things/1?q=%zz");
  REQUIRE(r);
  CHECK(r->status == 400);

  r = c->request("POST", "/api/v1/things/1", "{not json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->body.find(R"("error":"bad_json")") != std::string::npos);
}

TEST_CASE("every response carries the security headers and API responses are not cached") {
  fixture f;
  f.start();
  auto c = f.connected();
  for (const char* target : {"/api/v1/things/1", "/api/v1/missing", "/healthz"}) {
    CAPTURE(target);
    auto r = c->request("GET", target);
    REQUIRE(r);
    CHECK(r->header("Strict-Transport-Security").find("max-age=") == 0);
    CHECK(r->header("Content-Security-Policy") ==
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    CHECK(r->header("X-Content-Type-Options") == "nosniff");
    CHECK(r->header("Referrer-Policy") == "no-referrer");
    CHECK(r->header("X-Frame-Options") == "DENY");
    CHECK(r->header("Cache-Control") == "no-store");
  }
}

TEST_CASE("the client address comes from X-Forwarded-For only behind a trusted proxy") {
  fixture f;
  f.routes.add("GET", "/whoami", [](http::request& req) {
    http::response res;
    res.body = req.client_address;
    return res;
  });
  http::server_settings s;
  s.client_address = http::trusted_proxy_client_address(
      *aterm::cloud::security::ip_allowlist::parse({"127.0.0.1"}));
  f.start(s);
  auto c = f.connected();
  auto direct = c->request("GET", "/whoami");
  REQUIRE(direct);
  CHECK(direct->body == "127.0.0.1");
  auto proxied = c->request("GET", "/whoami", {}, {{"X-Forwarded-For", "192.0.2.1, 203.0.113.5"}});
  REQUIRE(proxied);
  CHECK(proxied->body == "203.0.113.5");
  auto garbage = c->request("GET", "/whoami", {}, {{"X-Forwarded-For", "nonsense"}});
  REQUIRE(garbage);
  CHECK(garbage->status == 400);
}

TEST_CASE("a 204 answer goes out without a body and keeps the connection") {
  fixture f;
  f.routes.add("DELETE", "/api/v1/things/{id}", [](http::request&) {
    http::response res;
    res.status = 204;
    res.body = "ignored";
    return res;
  });
  f.start();
  auto c = f.connected();
  auto r = c->request("DELETE", "/api/v1/things/1");
  REQUIRE(r);
  CHECK(r->status == 204);
  CHECK(r->body.empty());
  auto again = c->request("GET", "/api/v1/things/2");
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("a body over the limit answers 413 and closes") {
  fixture f;
  http::server_settings s;
  s.body_limit = 1024;
  f.start(s);
  auto c = f.connected();
  auto ok = c->request("POST", "/api/v1/things/1", R"({"a":")" + std::string(1000, 'x') + R"("})");
  REQUIRE(ok);
  CHECK(ok->status == 201);
  auto r = c->request("POST", "/api/v1/things/1", R"({"a":")" + std::string(2000, 'x') + R"("})");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body.find(R"("error":"too_large")") != std::string::npos);
  CHECK(c->closed_by_server(5s));
}

TEST_CASE("headers over 8 KiB answer 431") {
  fixture f;
  f.start();
  auto c = f.connected();
  auto r = c->request("GET", "/healthz", {}, {{"X-Big", std::string(9000, 'a')}});
  REQUIRE(r);
  CHECK(r->status == 431);
}

TEST_CASE("a request whose headers do not arrive in time is closed") {
  fixture f;
  http::server_settings s;
  s.header_timeout = 300ms;
  f.start(s);
  auto c = f.connected();
  REQUIRE(!c->send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  auto started = std::chrono::steady_clock::now();
  CHECK(c->closed_by_server(5s));
  CHECK(std::chrono::steady_clock::now() - started < 3s);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  fixture f;
  http::server_settings s;
  s.idle_timeout = 300ms;
  f.start(s);
  auto c = f.connected();
  auto r = c->request("GET", "/healthz");
  REQUIRE(r);
  CHECK(r->keep_alive);
  CHECK(c->closed_by_server(5s));
}

TEST_CASE("keep-alive: many requests over one connection") {
  fixture f;
  f.start();
  auto& accepted = f.metrics.get_counter("aterm_http_connections_total", "");
  auto c = f.connected();
  for (int i = 0; i < 5; ++i) {
    auto r = c->request("GET", "/api/v1/things/" + std::to_string(i));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->keep_alive);
  }
  CHECK(accepted.value() == 1);
}

TEST_CASE("the tests' https_client keeps one connection when asked and reopens it once closed") {
  fixture f;
  http::server_settings s;
  s.idle_timeout = 1s;
  f.start(s);
  auto& accepted = f.metrics.get_counter("aterm_http_connections_total", "");
  auto& open = f.metrics.get_gauge("aterm_http_connections_open", "");
  aterm::test::tls_options o;
  o.no_delay = true;
  aterm::test::https_client kept(f.port, o, true);
  for (int i = 0; i < 3; ++i)
    CHECK(kept.request("POST", "things/" + std::to_string(i), "{}").status == 201);
  CHECK(accepted.value() == 1);
  // The server's idle timeout ends the kept connection; the next request is retried on a new one.
  REQUIRE(aterm::test::wait_until([&] { return open.value() == 0; }, 10s));
  CHECK(kept.request("GET", "things/x").status == 200);
  CHECK(accepted.value() == 2);
  aterm::test::https_client per_request(f.port, o, false);
  for (int i = 0; i < 2; ++i) CHECK(per_request.request("GET", "things/y").status == 200);
  CHECK(accepted.value() == 4);
}

TEST_CASE("TLS 1.1 and older are refused and TLS 1.2 is accepted") {
  fixture f;
  f.start();
  https_connection old(f.port, offering_up_to(TLS1_1_VERSION));
  CHECK(old.connect());
  https_connection v12(f.port, offering_up_to(TLS1_2_VERSION));
  CHECK(!v12.connect());
}

TEST_CASE("handlers run on the worker pool and not on the I/O thread") {
  // One I/O thread and two workers: two requests whose handlers wait for each other complete
  // only when both handlers run at once, off the I/O thread.
  fixture f;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  f.routes.add("GET", "/rendezvous", [&](http::request&) {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    bool met = cv.wait_for(lock, 5s, [&] { return arrived >= 2; });
    http::response res;
    res.status = met ? 200 : 504;
    return res;
  });
  http::server_settings s;
  s.io_threads = 1;
  s.worker_threads = 2;
  f.start(s);
  auto first = std::async(std::launch::async, [&] {
    https_connection c(f.port);
    if (c.connect()) return 0u;
    auto r = c.request("GET", "/rendezvous");
    return r ? r->status : 0u;
  });
  auto c = f.connected();
  auto r = c->request("GET", "/rendezvous");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(first.get() == 200);
}

TEST_CASE("stop lets an in-flight request finish and then refuses connections") {
  fixture f;
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  f.routes.add("GET", "/slow", [&](http::request&) {
    entered.set_value();
    released.wait_for(10s);
    http::response res;
    res.body = R"({"slow":true})";
    return res;
  });
  f.start();
  auto idle = f.connected();
  auto busy = f.connected();
  auto reply = std::async(std::launch::async, [&] { return busy->request("GET", "/slow"); });
  REQUIRE(entered.get_future().wait_for(10s) == std::future_status::ready);

  auto stopped = std::async(std::launch::async, [&] { f.srv->stop(); });
  CHECK(idle->closed_by_server(5s));  // the idle connection goes at once
  release.set_value();
  auto r = reply.get();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"slow":true})");
  CHECK(!r->keep_alive);
  stopped.get();
  https_connection late(f.port);
  CHECK(late.connect());
}

TEST_CASE("metrics count requests by route pattern and status") {
  fixture f;
  f.start();
  auto c = f.connected();
  REQUIRE(c->request("GET", "/api/v1/things/a"));
  REQUIRE(c->request("GET", "/api/v1/things/b"));
  REQUIRE(c->request("GET", "/nope"));
  auto r = c->request("GET", "/metrics");
  REQUIRE(r);
  CHECK(r->header("Content-Type").find("text/plain; version=0.0.4") == 0);
  const auto& text = r->body;
  CHECK(
      text.find(
          R"(aterm_http_requests_total{method="GET",route="/api/v1/things/{id}",status="200"} 2)") !=
      std::string::npos);
  CHECK(text.find(R"(aterm_http_requests_total{method="GET",route="unmatched",status="404"} 1)") !=
        std::string::npos);
  CHECK(text.find("# TYPE aterm_http_request_duration_seconds histogram") != std::string::npos);
  CHECK(text.find("aterm_http_connections_open 1") != std::string::npos);

  auto h = c->request("GET", "/healthz");
  REQUIRE(h);
  CHECK(h->status == 200);
  CHECK(h->body == R"({"status":"ok"})");
}

TEST_CASE("static files: index and content types and no way out of the folder") {
  fixture f;
  aterm::test::temp_dir site("aterm-http-site");
  fs::create_directories(site / "web" / "js");
  std::ofstream(site / "web" / "index.html") << "<!doctype html><title>t</title>";
  std::ofstream(site / "web" / "js" / "app.js") << "console.log(1);";
  std::ofstream(site / "web" / ".hidden") << "hidden";
  std::ofstream(site / "secret.txt") << "SECRET";
  fs::create_symlink(site / "secret.txt", site / "web" / "link.txt");
  http::static_files files(site / "web");
  http::register_static_files(f.routes, files);
  f.start();
  auto c = f.connected();

  auto r = c->request("GET", "/");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Content-Type") == "text/html; charset=utf-8");
  CHECK(r->body == "<!doctype html><title>t</title>");
  CHECK(r->header("Content-Security-Policy").find("default-src 'self'") == 0);

  r = c->request("GET", "/js/app.js");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Content-Type") == "text/javascript; charset=utf-8");

  for (const char* bad : {"/../secret.txt", "/%2e%2e/secret.txt", "/js/..%2f..%2fsecret.txt",
                          "/js/%2e%2e/%2e%2e/secret.txt", "/link.txt", "/.hidden",
                          "/js/..\\..\\secret.txt", "/missing.html", "/index.html%00.js"}) {
    CAPTURE(bad);
    auto b = c->request("GET", bad);
    REQUIRE(b);
    CHECK((b->status == 404 || b->status == 400));
    CHECK(b->body.find("SECRET") == std::string::npos);
  }
}
