#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "aterm/common/config.h"

using namespace aterm::common;

namespace {

const config_schema& schema() {
  static const config_schema s = {
      {"device_id", config_type::string, {}, true, {}, {}},
      {"broker.uri", config_type::string, std::string("ssl://localhost:8883"), false, {}, {}},
      {"state_interval_s", config_type::integer, std::int64_t{60}, false, 1, 86400},
      {"security.ratio", config_type::number, std::int64_t{2}, false, {}, {}},
      {"debug", config_type::boolean, false, false, {}, {}},
      {"http.trusted_proxies", config_type::string_list, {}, false, {}, {}},
      {"mail.from", config_type::string, {}, false, {}, {}},
  };
  return s;
}

}  // namespace

TEST_CASE("nested and dotted keys both load and defaults fill the rest") {
  const char* texts[] = {
      R"({"device_id":"dev-001","broker":{"uri":"ssl://b:1"},"state_interval_s":30,)"
      R"("security":{"ratio":1.5},"debug":true,"http":{"trusted_proxies":["10.0.0.1","::1"]}})",
      R"({"device_id":"dev-001","broker.uri":"ssl://b:1","state_interval_s":30,)"
      R"("security.ratio":1.5,"debug":true,"http.trusted_proxies":["10.0.0.1","::1"]})",
  };
  for (const char* text : texts) {
    CAPTURE(text);
    auto cfg = parse_config(text, "agent.json", schema());
    REQUIRE_MESSAGE(cfg.ok(), cfg.error().to_string());
    CHECK(cfg->source() == "agent.json");
    CHECK(cfg->get_string("device_id") == "dev-001");
    CHECK(cfg->get_string("broker.uri") == "ssl://b:1");
    CHECK(cfg->get_int("state_interval_s") == 30);
    CHECK(cfg->get_number("security.ratio") == 1.5);
    CHECK(cfg->get_number("state_interval_s") == 30.0);
    CHECK(cfg->get_bool("debug"));
    CHECK(cfg->get_list("http.trusted_proxies") == std::vector<std::string>{"10.0.0.1", "::1"});
    CHECK_FALSE(cfg->has("mail.from"));
  }
  auto minimal =
      parse_config(R"({"device_id":"d","http":{},"security":{"ratio":3}})", "<text>", schema());
  REQUIRE(minimal.ok());
  CHECK(minimal->get_string("broker.uri") == "ssl://localhost:8883");
  CHECK(minimal->get_int("state_interval_s") == 60);
  CHECK(minimal->get_number("security.ratio") == 3.0);
  CHECK_FALSE(minimal->get_bool("debug"));
  CHECK_FALSE(minimal->has("http.trusted_proxies"));
  auto widened = parse_config(R"({"device_id":"d"})", "<text>", schema());
  REQUIRE(widened.ok());
  CHECK(widened->get_number("security.ratio") == 2.0);
}

TEST_CASE("config errors name the file and the key") {
  struct row {
    std::string text;
    std::string code;
    std::string key;
  };
  const row rows[] = {
      {R"({"device_id":"d","broker":{"urx":"x"}})", "config_unknown_key", "broker.urx"},
      {R"({"device_id":"d","extra":1})", "config_unknown_key", "extra"},
      {R"({"device_id":"d","broker":"ssl://x"})", "config_unknown_key", "broker"},
      {R"({"device_id":5})", "config_wrong_type", "device_id"},
      {R"({"device_id":"d","state_interval_s":1.5})", "config_wrong_type", "state_interval_s"},
      {R"({"device_id":"d","state_interval_s":"30"})", "config_wrong_type", "state_interval_s"},
      {R"({"device_id":"d","security":{"ratio":"x"}})", "config_wrong_type", "security.ratio"},
      {R"({"device_id":"d","debug":1})", "config_wrong_type", "debug"},
      {R"({"device_id":"d","http.trusted_proxies":"10.0.0.1"})", "config_wrong_type",
       "http.trusted_proxies"},
      {R"({"device_id":"d","http.trusted_proxies":["a",1]})", "config_wrong_type",
       "http.trusted_proxies"},
      {R"({"device_id":null})", "config_wrong_type", "device_id"},
      {R"({"broker.uri":"x"})", "config_missing_key", "device_id"},
      {R"({"device_id":"d","state_interval_s":0})", "config_out_of_range", "state_interval_s"},
      {R"({"device_id":"d","state_interval_s":86401})", "config_out_of_range", "state_interval_s"},
      {R"({"device_id":"d","broker":{"uri":"a"},"broker.uri":"b"})", "config_syntax", "broker.uri"},
      {R"({"device_id":"d")", "config_syntax", ""},
      {R"(["device_id"])", "config_syntax", ""},
      {R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}})", "config_syntax", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto cfg = parse_config(r.text, "agent.json", schema());
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().code() == r.code);
    CHECK(cfg.error().message().rfind("agent.json: ", 0) == 0);
    if (!r.key.empty()) {
      CHECK(cfg.error().message().find("\"" + r.key + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("load_config reads a file and names it in errors") {
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = (dir / ("aterm-config-test-" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(path) << R"({"device_id":"dev-9","broker":{"urx":1}})";
  auto bad = load_config(path, schema());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == "config_unknown_key");
  CHECK(bad.error().message() == path + ": unknown key \"broker.urx\"");
  std::ofstream(path) << R"({"device_id":"dev-9"})";
  auto good = load_config(path, schema());
  REQUIRE(good.ok());
  CHECK(good->source() == path);
  CHECK(good->get_string("device_id") == "dev-9");
  std::filesystem::remove(path);
  auto missing = load_config(path, schema());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == "config_io");
  CHECK(missing.error().message().find(path) != std::string::npos);
}
