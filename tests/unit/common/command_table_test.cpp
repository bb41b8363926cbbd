#include <doctest/doctest.h>

#include <set>

#include "aterm/common/command_table.h"
#include "aterm/common/json.h"

namespace cmd = aterm::common::commands;

namespace {

aterm::common::result<std::string> checked(std::string_view op, const char* args) {
  const auto* spec = cmd::find_op(op);
  REQUIRE(spec != nullptr);
  auto parsed = aterm::common::parse_json(args);
  REQUIRE(parsed.ok());
  auto r = cmd::check_args(*spec, parsed->get());
  if (!r.ok()) return r.error();
  return aterm::common::print_json(r->get());
}

}  // namespace

TEST_CASE("the table names each op once, in op_id order, with valid names") {
  std::set<std::string_view> names;
  std::size_t i = 0;
  for (const auto& op : cmd::op_table()) {
    CAPTURE(op.name);
    CHECK(static_cast<std::size_t>(op.id) == i++);
    CHECK(names.insert(op.name).second);
    CHECK(cmd::find_op(op.name) == &op);
    CHECK(to_string(op.id) == op.name);
    for (const auto& a : op.args) {
      if (a.default_value) {
        CHECK_FALSE(a.required);
        CHECK(*a.default_value >= a.min);
        CHECK(*a.default_value <= a.max);
      }
    }
  }
  CHECK(cmd::find_op("firmware.flash") == nullptr);
}

TEST_CASE("check_args: defaults filled, bounds, types, unknown and missing arguments") {
  struct row {
    const char* op;
    const char* args;
    const char* normalised;  // nullptr: refused
  };
  const row rows[] = {
      {"ping", "{}", "{}"},
      {"ping", R"({"x":1})", nullptr},
      {"reboot", "{}", R"({"delay_s":2})"},
      {"reboot", R"({"delay_s":3601})", nullptr},
      {"reboot", R"({"delay_s":1.5})", nullptr},
      {"diag.ping", R"({"host":"192.0.2.1"})", R"({"host":"192.0.2.1","count":4})"},
      {"diag.ping", R"({"host":"a.example","count":10})", R"({"host":"a.example","count":10})"},
      {"diag.ping", R"({"host":"a.example","count":0})", nullptr},
      {"diag.ping", R"({"count":1})", nullptr},
      {"diag.traceroute", R"({"host":"::1"})", R"({"host":"::1","max_hops":15})"},
      {"diag.traceroute", R"({"host":"a.example","max_hops":30})",
       R"({"host":"a.example","max_hops":30})"},
      {"diag.traceroute", R"({"host":"a.example","max_hops":31})", nullptr},
      {"diag.traceroute", R"({"host":"-f"})", nullptr},
      {"diag.traceroute", R"({"host":".a"})", nullptr},
      {"diag.dns", R"({"name":"example.com"})", R"({"name":"example.com"})"},
      {"diag.dns", R"({"name":"example.com","server":"-p53"})", nullptr},
      {"diag.dns", R"({"name":"a\nb"})", nullptr},
      {"factory_reset", "{}", nullptr},
      {"factory_reset", R"({"confirm":"FACTORY_RESET"})", nullptr},
      {"factory_reset", R"({"confirm":"factory_reset"})", R"({"confirm":"factory_reset"})"},
      {"log.tail", "{}", R"({"lines":100})"},
      {"log.tail", R"({"lines":500})", R"({"lines":500})"},
      {"log.tail", R"({"lines":501})", nullptr},
      {"config.get", R"({"keys":["wifi.ssid"]})", R"({"keys":["wifi.ssid"]})"},
      {"config.get", R"({"keys":["Wifi"]})", nullptr},
      {"config.set", R"({"rev":0,"values":{}})", nullptr},
      {"config.set", R"({"rev":0,"values":{"a.b":[1]}})", nullptr},
      {"config.set", R"({"rev":0,"values":{"a.b":1}})", R"({"rev":0,"values":{"a.b":1}})"},
      {"technician_login.revoke", R"({"login_id":"T-1 2"})", nullptr},
  };
  for (const auto& r : rows) {
    CAPTURE(r.op);
    CAPTURE(r.args);
    auto got = checked(r.op, r.args);
    if (r.normalised == nullptr) {
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().code() == "bad_args");
      CHECK(cmd::error_of(got.error()) == cmd::op_error::bad_args);
    } else {
      REQUIRE_MESSAGE(got.ok(), got.error().to_string());
      CHECK(*got == r.normalised);
    }
  }
}

TEST_CASE("event types and op errors have one string form each") {
  for (auto e : {cmd::event_type::boot, cmd::event_type::config_changed,
                 cmd::event_type::technician_login_used, cmd::event_type::technician_login_failed,
                 cmd::event_type::technician_login_locked, cmd::event_type::technician_login_ended})
    CHECK(cmd::parse_event_type(to_string(e)) == e);
  CHECK(to_string(cmd::event_type::config_changed) == "config.changed");
  for (auto e : {cmd::op_error::bad_args, cmd::op_error::stale_rev, cmd::op_error::unsupported,
                 cmd::op_error::failed, cmd::op_error::io})
    CHECK(cmd::parse_op_error(to_string(e)) == e);
  CHECK(cmd::error_of(cmd::op_failure(cmd::op_error::stale_rev, "x")) == cmd::op_error::stale_rev);
  CHECK(cmd::error_of(aterm::common::status::error("hook_timeout", "x")) == cmd::op_error::failed);
}
