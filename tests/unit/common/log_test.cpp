#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "aterm/common/log.h"

using namespace aterm::common;

namespace {

enum legacy_code { legacy_seven = 7 };

std::vector<std::string> g_lines;
void capture(std::string_view line) {
  g_lines.emplace_back(line);
}

struct sink_guard {
  sink_guard() {
    g_lines.clear();
    set_log_sink(capture);
    set_log_level(log_level::info);
  }
  ~sink_guard() {
    set_log_sink(nullptr);
    set_log_level(log_level::info);
  }
};

}  // namespace

TEST_CASE("escape_log_value") {
  struct row {
    std::string in;
    std::string out;
  };
  const row rows[] = {
      {"plain", "plain"},
      {"a b", "\"a b\""},
      {"", "\"\""},
      {"line\nforged=1", "line\\nforged=1"},
      {"cr\rtab\t", "cr\\rtab\\t"},
      {"q\"uote", "q\\\"uote"},
      {"back\\slash", "back\\\\slash"},
      {std::string("nul\0x", 5), "nul\\u0000x"},
      {"\x1b[31mred", "\\u001b[31mred"},
      {"\x7f", "\\u007f"},
      {"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"},
      {"bad\xff", "bad\\xff"},
      {"\xc2\x85", "\\xc2\\x85"},
      {"\xe2\x80\xa8", "\\xe2\\x80\\xa8"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.in);
    CHECK(escape_log_value(r.in) == r.out);
    CHECK(escape_log_value(r.in).find('\n') == std::string::npos);
  }
}

TEST_CASE("log line format - one line per event - secrets redacted") {
  sink_guard guard;
  log(log_level::info, "bridge", "device connected",
      {{"device", "dev-001"},
       {"note", "two words"},
       {"n", 42},
       {"ok", true},
       secret_field("password")});
  REQUIRE(g_lines.size() == 1);
  log(log_level::info, "c", "ints",
      {{"a", std::size_t{1}},
       {"b", -2L},
       {"c", std::uint64_t{3}},
       {"d", std::int64_t{-4}},
       {"e", short{5}},
       {"f", 1.5},
       {"g", 0.1},
       {"h", legacy_seven}});
  REQUIRE(g_lines.size() == 2);
  CHECK(g_lines[1].ends_with("ints a=1 b=-2 c=3 d=-4 e=5 f=1.5 g=0.1 h=7"));
  g_lines.pop_back();
  const std::regex shape(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO bridge: device connected )"
      R"(device=dev-001 note="two words" n=42 ok=true password=<redacted>)");
  CHECK(std::regex_match(g_lines[0], shape));

  log(log_level::warn, "api", "login failed\nFAKE 2026 INFO x: y", {{"user", "a\nb"}});
  REQUIRE(g_lines.size() == 2);
  CHECK(g_lines[1].find('\n') == std::string::npos);
  CHECK(g_lines[1].find(" WARN api: login failed\\nFAKE") != std::string::npos);
  CHECK(g_lines[1].find("user=a\\nb") != std::string::npos);
}

TEST_CASE("a secret field never prints its value") {
  sink_guard guard;
  log_field f("token", "s3cr3t-value");
  f.secret = true;
  log(log_level::error, "cloud", "session", {f, secret_field("otp")});
  REQUIRE(g_lines.size() == 1);
  CHECK(g_lines[0].find("s3cr3t") == std::string::npos);
  CHECK(g_lines[0].find("token=<redacted> otp=<redacted>") != std::string::npos);
}

TEST_CASE("log level filters") {
  sink_guard guard;
  log(log_level::debug, "c", "hidden");
  CHECK(g_lines.empty());
  set_log_level(log_level::debug);
  CHECK(get_log_level() == log_level::debug);
  log(log_level::debug, "c", "shown");
  CHECK(g_lines.size() == 1);
  set_log_level(log_level::error);
  log(log_level::warn, "c", "hidden");
  log(log_level::error, "c", "shown");
  CHECK(g_lines.size() == 2);
  CHECK(parse_log_level("warn") == log_level::warn);
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK_FALSE(parse_log_level("WARN").has_value());
  CHECK_FALSE(parse_log_level("verbose").has_value());
}

TEST_CASE("the recent-lines ring keeps the newest lines within its line and byte bounds") {
  sink_guard g;
  keep_recent_log_lines(3, 1 << 20);
  for (int i = 0; i < 5; ++i) log(log_level::info, "t", "line", {{"n", i}});
  auto lines = recent_log_lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines.front().find("n=2") != std::string::npos);
  CHECK(lines.back().find("n=4") != std::string::npos);
  log(log_level::info, "t", "secret", {secret_field("password")});
  CHECK(recent_log_lines().back().find("password=<redacted>") != std::string::npos);
  const auto newest = recent_log_lines().back();
  keep_recent_log_lines(100, newest.size());
  CHECK(recent_log_lines() == std::vector<std::string>{newest});
  keep_recent_log_lines(0, 0);
  CHECK(recent_log_lines().empty());
}
