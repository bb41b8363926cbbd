// The dashboard's device API against the real daemon, broker and agent: the state history of a
// router (GET /devices/{id}/history) and the presence filter of the device list
// (GET /devices?online=true|false|unknown). Every wait is a condition with a deadline.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

// The ids of a GET /devices answer, in order.
std::vector<std::string> device_ids(const http_answer& a) {
  std::vector<std::string> ids;
  const cJSON* d = nullptr;
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices")) {
    ids.push_back(common::json_string(d, "id").value_or(""));
  }
  return ids;
}

// The ts_ms and state.seq of each history point, in answer order.
std::vector<std::pair<std::int64_t, std::int64_t>> history_points(const http_answer& a) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  const cJSON* p = nullptr;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(a.json.get(), "history")) {
    out.emplace_back(
        common::json_int(p, "ts_ms").value_or(-1),
        common::json_int(cJSON_GetObjectItemCaseSensitive(p, "state"), "seq").value_or(-1));
  }
  return out;
}

}  // namespace

TEST_CASE("the device API answers a router's state history oldest first and filters presence") {
  cloud_stack s;
  s.register_device("acme", "acme-h1");
  s.register_device("acme", "acme-h2");  // registered, never connected: presence unknown
  s.start_agent("acme-h1");
  auto c = s.client("acme");
  REQUIRE(s.wait_for(c, "devices?online=true", [](const http_answer& a) {
    return device_ids(a) == std::vector<std::string>{"acme-h1"};
  }));
  auto unknown = c.request("GET", "devices?online=unknown");
  REQUIRE(unknown.status == 200);
  CHECK(device_ids(unknown) == std::vector<std::string>{"acme-h2"});
  CHECK(device_ids(c.request("GET", "devices?online=false")).empty());

  // The snapshot on connect and the one of state.refresh (the agent publishes at most one a
  // second, so more refreshes at once add no more points).
  auto cmd = c.request("POST", "devices/acme-h1/commands", R"({"op":"state.refresh"})");
  REQUIRE(cmd.status == 202);
  REQUIRE(s.wait_for(c, "commands/" + cmd.str("id"),
                     [](const http_answer& a) { return a.str("status") == "succeeded"; }));
  REQUIRE(s.wait_for(c, "devices/acme-h1/history", [](const http_answer& a) {
    return a.status == 200 && history_points(a).size() >= 2;
  }));
  auto history = c.request("GET", "devices/acme-h1/history");
  REQUIRE(history.status == 200);
  auto points = history_points(history);
  for (std::size_t i = 1; i < points.size(); ++i) {
    CAPTURE(i);
    CHECK(points[i - 1].first <= points[i].first);
    CHECK(points[i - 1].second < points[i].second);
  }
  auto last_two = c.request("GET", "devices/acme-h1/history?limit=2");
  REQUIRE(last_two.status == 200);
  auto tail = history_points(last_two);
  REQUIRE(tail.size() == 2);
  CHECK(tail.back().second >= points.back().second);
  CHECK(c.request("GET", "devices/acme-h1/history?limit=289").status == 400);

  auto globex = s.client("globex");
  CHECK(globex.request("GET", "devices/acme-h1/history").status == 404);

  s.stop_agent("acme-h1");
  CHECK(s.wait_for(c, "devices?online=false", [](const http_answer& a) {
    return device_ids(a) == std::vector<std::string>{"acme-h1"};
  }));
  CHECK(device_ids(c.request("GET", "devices?online=unknown")) ==
        std::vector<std::string>{"acme-h2"});
}
