// Table-driven: every op of the command table (aterm/common/command_table.h) is accepted by the
// cloud's command API check and dispatched by the agent, and both ends run it with the same
// defaults, so a drifted copy of an op on either end cannot exist.
#include <doctest/doctest.h>

#include "aterm/agent/backend.h"
#include "aterm/agent/login_store.h"
#include "aterm/agent/op_dispatch.h"
#include "aterm/cloud/api/command_catalogue.h"
#include "aterm/common/clock.h"
#include "aterm/common/command_table.h"
#include "aterm/common/json.h"
#include "aterm/test/support.h"

namespace cmd = aterm::common::commands;
using aterm::common::json_ptr;
using aterm::common::protocol::result_status;

namespace {

// A valid value of each argument type. Arguments whose valid value depends on the router's
// state are named.
void add_sample(cJSON* args, const cmd::arg_spec& a) {
  const std::string name(a.name);
  switch (a.type) {
    case cmd::arg_type::integer: {
      std::int64_t v = a.default_value.value_or(a.min > 0 ? a.min : 0);
      if (a.name == "expires_at") v = 4102444000;  // alive: far in the future
      if (a.name == "iterations") v = 1000;        // fast
      if (a.name == "ttl_s") v = 3600;
      cJSON_AddNumberToObject(args, name.c_str(), static_cast<double>(v));
      return;
    }
    case cmd::arg_type::host:
      cJSON_AddStringToObject(args, name.c_str(), "192.0.2.1");
      return;
    case cmd::arg_type::literal:
      cJSON_AddStringToObject(args, name.c_str(), std::string(a.literal).c_str());
      return;
    case cmd::arg_type::login_id:
      cJSON_AddStringToObject(args, name.c_str(), "T-ABCDEFGH");
      return;
    case cmd::arg_type::hex:
      cJSON_AddStringToObject(
          args, name.c_str(),
          std::string(static_cast<std::size_t>(std::max<std::int64_t>(a.min, 32)), 'a').c_str());
      return;
    case cmd::arg_type::config_keys:
      cJSON_AddItemToObject(args, name.c_str(),
                            cJSON_CreateStringArray(std::array{"wifi.ssid"}.data(), 1));
      return;
    case cmd::arg_type::config_values: {
      cJSON* v = cJSON_AddObjectToObject(args, name.c_str());
      cJSON_AddStringToObject(v, "wifi.ssid", "vocabulary");
      return;
    }
  }
  FAIL("no sample for argument type " << to_string(a.type));
}

// The required arguments only: every default comes from the table.
json_ptr required_args(const cmd::op_spec& op) {
  json_ptr args(cJSON_CreateObject());
  for (const auto& a : op.args) {
    if (a.required) add_sample(args.get(), a);
  }
  return args;
}

struct sim_router {
  aterm::test::temp_dir dir{"unit-vocabulary"};
  aterm::common::manual_clock clock{aterm::common::from_unix_s(1800000000)};
  std::unique_ptr<aterm::agent::backend> be;
  std::optional<aterm::agent::login_store> logins;
  std::string device_id = "dev-vocab";
  int snapshots = 0;

  sim_router() {
    auto b = aterm::agent::make_sim_backend({dir.path() / "sim.json", device_id}, clock);
    REQUIRE(b.ok());
    be = std::move(*b);
    auto l = aterm::agent::login_store::open(dir.path() / "logins.json", clock, "boot-1");
    REQUIRE(l.ok());
    logins.emplace(std::move(*l));
  }
  aterm::agent::op_outcome run(std::string_view op, const std::string& args) {
    aterm::agent::op_context ctx{*be, *logins, device_id, [this] { ++snapshots; },
                                 [](cmd::event_type, std::string) {}};
    return aterm::agent::run_op(ctx, op, args);
  }
};

}  // namespace

TEST_CASE("every op of the table is accepted by the cloud and dispatched by the agent") {
  for (const auto& op : cmd::op_table()) {
    CAPTURE(op.name);
    const auto args = required_args(op);
    const std::string args_text = aterm::common::print_json(args.get());

    auto agent_args = aterm::agent::op_arguments(op.name, args_text);
    REQUIRE_MESSAGE(agent_args.ok(), agent_args.error().to_string());
    CHECK(aterm::agent::has_handler(op.id));

    auto cloud = aterm::cloud::api::validate_command(op.name, args.get());
    if (op.operator_issued) {
      REQUIRE_MESSAGE(cloud.ok(), cloud.error().to_string());
      // The cloud stores exactly the arguments the agent's handler runs with, defaults included.
      CHECK(cloud->args_json == aterm::common::print_json(agent_args->get()));
      CHECK(cloud->audit_warning == op.audit_warning);
    } else {
      CHECK_FALSE(cloud.ok());  // issued by the cloud's own routes, never by an operator
    }
    for (const auto& a : op.args) {
      if (!a.default_value) continue;
      CAPTURE(a.name);
      CHECK(aterm::common::json_int(agent_args->get(), std::string(a.name).c_str()) ==
            a.default_value);
    }

    sim_router r;
    const auto out = r.run(op.name, args_text);
    CHECK_MESSAGE(out.status == result_status::ok, out.error);
    const auto result = aterm::common::parse_json(out.result_json);
    REQUIRE(result.ok());
    for (auto field : op.result_fields) {
      // diag.dns names its server only when one was asked for.
      if (op.id == cmd::op_id::diag_dns && field == "server") continue;
      // diag.ping has round-trip times only when a reply came, as ping itself reports a loss
      // (the example host is a TEST-NET address, which never answers).
      if (op.id == cmd::op_id::diag_ping && field == "rtt_ms" &&
          aterm::common::json_int(result->get(), "received") == 0) {
        continue;
      }
      CHECK_MESSAGE(cJSON_GetObjectItemCaseSensitive(result->get(), std::string(field).c_str()),
                    "result field " << field);
    }
  }
}

TEST_CASE("diag.ping without count pings 4 times on both ends (the drift the table removed)") {
  auto cloud = aterm::cloud::api::validate_command(
      "diag.ping", aterm::common::parse_json(R"({"host":"192.0.2.1"})")->get());
  REQUIRE(cloud.ok());
  CHECK(cloud->args_json == R"({"host":"192.0.2.1","count":4})");
  sim_router r;
  const auto out = r.run("diag.ping", R"({"host":"192.0.2.1"})");
  REQUIRE(out.status == result_status::ok);
  CHECK(aterm::common::json_int(aterm::common::parse_json(out.result_json)->get(), "sent") == 4);
}

TEST_CASE("an op outside the table is refused by the cloud and unsupported on the agent") {
  CHECK_FALSE(aterm::cloud::api::validate_command("firmware.flash", nullptr).ok());
  sim_router r;
  CHECK(r.run("firmware.flash", "{}").status == result_status::unsupported);
}

TEST_CASE("the technician_login.install arguments round-trip through the one encoder") {
  cmd::technician_login_install a;
  a.login_id = "T-ABCDEFGH";
  a.salt_hex = std::string(32, 'b');
  a.iterations = 10000;
  a.hash_hex = std::string(64, 'c');
  a.expires_at = 1800003600;
  a.ttl_s = 3600;
  auto back = cmd::decode_technician_login_install(cmd::encode(a));
  REQUIRE(back.ok());
  CHECK(back->login_id == a.login_id);
  CHECK(back->salt_hex == a.salt_hex);
  CHECK(back->iterations == a.iterations);
  CHECK(back->hash_hex == a.hash_hex);
  CHECK(back->expires_at == a.expires_at);
  CHECK(back->ttl_s == a.ttl_s);
  a.hash_hex = "XYZ";
  CHECK(cmd::failed_with(cmd::decode_technician_login_install(cmd::encode(a)).error(),
                         cmd::op_error::bad_args));
}
