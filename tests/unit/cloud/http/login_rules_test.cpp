// The pieces of the login rules that need no daemon: the JSON media type, the own-origin rule,
// the hashing pool's bound and a deferred answer through the router.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "aterm/cloud/http/message.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/security/password_hashing_pool.h"
#include "aterm/cloud/security/request_origin.h"

namespace http = aterm::cloud::http;
namespace security = aterm::cloud::security;

TEST_CASE("only application/json is a JSON body") {
  struct row {
    const char* type;
    bool json;
  };
  for (auto r : {row{"application/json", true}, row{"Application/JSON; charset=utf-8", true},
                 row{" application/json ;x=y", true}, row{"text/plain", false},
                 row{"application/x-www-form-urlencoded", false}, row{"multipart/form-data", false},
                 row{"application/jsonp", false}, row{"", false}}) {
    CAPTURE(r.type);
    CHECK(http::is_json_media_type(r.type) == r.json);
  }
}

TEST_CASE("a sign-in is accepted only from the server's own origin") {
  auto own = security::own_origin("", "localhost:8443");
  CHECK(own == "https://localhost:8443");
  CHECK(security::own_origin("https://Cloud.Example.com/", "ignored") ==
        "https://cloud.example.com");
  CHECK(security::own_origin("", "cloud.example.com:443") == "https://cloud.example.com");
  using opt = std::optional<std::string_view>;
  struct row {
    opt origin;
    opt site;
    bool allowed;
  };
  for (auto r : {row{{}, {}, true}, row{"https://localhost:8443", {}, true},
                 row{"HTTPS://LOCALHOST:8443", "same-origin", true}, row{{}, "none", true},
                 row{"https://evil.example", {}, false}, row{"null", {}, false},
                 row{"http://localhost:8443", {}, false}, row{"https://localhost:8444", {}, false},
                 row{{}, "cross-site", false}, row{{}, "same-site", false},
                 row{"https://localhost:8443", "cross-site", false}, row{"", {}, false}}) {
    CAPTURE(r.origin.value_or("(none)"));
    CAPTURE(r.site.value_or("(none)"));
    CHECK(security::from_own_origin(r.origin, r.site, own) == r.allowed);
  }
}

TEST_CASE("the hashing pool refuses work beyond its queue and drops queued jobs at the end") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool started = false;
  std::atomic<int> ran{0};
  auto dropped = std::make_shared<int>(0);
  {
    security::password_hashing_pool pool({1, 2, 0});
    auto blocker = [&] {
      std::unique_lock lock(mu);
      started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      ++ran;
    };
    REQUIRE(pool.try_submit(blocker));
    {
      // The blocker must hold the thread before the queue is filled, or the pool's end could
      // drop it before it ever ran.
      std::unique_lock lock(mu);
      REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return started; }));
    }
    // One thread busy and two waiting: the fourth is refused.
    std::size_t accepted = 1;
    for (int i = 0; i < 5; ++i) {
      if (pool.try_submit([&ran, dropped] { ++ran; })) ++accepted;
    }
    CHECK(accepted == 3);
    {
      std::lock_guard lock(mu);
      release = true;
    }
    cv.notify_all();
  }
  CHECK(ran >= 1);
  CHECK(dropped.use_count() == 1);  // every job, run or dropped, was destroyed
}

TEST_CASE("a deferred answer is counted when it is given") {
  http::metrics_registry m;
  http::router r(&m);
  http::responder kept;
  r.add("POST", "/later", [&](http::request&) {
    http::response res;
    res.deferred = [&](http::responder done) { kept = std::move(done); };
    return res;
  });
  http::request req;
  req.method = "POST";
  req.target = "/later";
  auto res = r.dispatch(req);
  REQUIRE(res.deferred);
  unsigned answered = 0;
  res.deferred([&](http::response out) { answered = out.status; });
  CHECK(m.render().find("route=\"/later\"") == std::string::npos);
  REQUIRE(kept);
  kept(http::error_response(401, "login_failed", "login failed"));
  CHECK(answered == 401);
  CHECK(m.render().find("status=\"401\"") != std::string::npos);
}
