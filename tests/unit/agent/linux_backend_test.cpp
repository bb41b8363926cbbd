#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "aterm/agent/backend.h"
#include "aterm/agent/hook_runner.h"
#include "aterm/common/clock.h"
#include "aterm/common/command_table.h"
#include "aterm/test/support.h"

namespace fs = std::filesystem;
using aterm::test::temp_dir;
using namespace std::chrono_literals;
namespace cmd = aterm::common::commands;

using aterm::test::write_script;

TEST_CASE("linux backend reads this machine's /proc") {
  aterm::agent::linux_backend_settings s;
  auto b = aterm::agent::make_linux_backend(s, aterm::common::system_clock::instance());
  const auto st = b->read_state();
  REQUIRE(st.uptime_s.has_value());
  CHECK(*st.uptime_s > 0);
  REQUIRE(st.mem_total_kb.has_value());
  CHECK(*st.mem_total_kb > 0);
  CHECK(st.mem_free_kb.value_or(-1) >= 0);
  CHECK(st.cpu_load1.value_or(-1) >= 0);
  CHECK(st.model.has_value());  // /etc/os-release NAME on this Debian
  CHECK_FALSE(b->supports(aterm::common::commands::capability::reboot));
}

TEST_CASE("lan clients come from the leases file, expired leases not counted") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(aterm::common::from_unix_s(1800000000));
  std::ofstream(t.path() / "leases") << "1800000100 aa:bb:cc:dd:ee:01 192.168.10.2 pc1 *\n"
                                     << "1700000000 aa:bb:cc:dd:ee:02 192.168.10.3 old *\n"
                                     << "0 aa:bb:cc:dd:ee:03 192.168.10.4 static *\n";
  aterm::agent::linux_backend_settings s;
  s.dhcp_leases = t.path() / "leases";
  s.model = "WX-TEST";
  s.firmware = "9.9";
  auto b = aterm::agent::make_linux_backend(s, clock);
  const auto st = b->read_state();
  CHECK(st.lan_clients.value_or(-1) == 2);
  CHECK(st.model.value_or("") == "WX-TEST");
  CHECK(st.fw.value_or("") == "9.9");
}

TEST_CASE("config hooks get JSON on stdin, never the message text in argv") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock;
  aterm::agent::linux_backend_settings s;
  // The hook echoes what it read, and its argv count, so the test sees both.
  const auto get = write_script(
      t.path(), "get", R"(read line; echo "{\"rev\":7,\"values\":{\"argc\":$#,\"in\":$line}}")");
  const auto set = write_script(
      t.path(), "set",
      R"(read line; case "$line" in *'"rev":7'*) echo '{"rev":8}';; *) echo '{"error":"stale_rev"}';; esac)");
  s.hook_config_get = {get.string(), "--fixed"};
  s.hook_config_set = {set.string()};
  auto b = aterm::agent::make_linux_backend(s, clock);
  auto got = b->config_get({"wifi.ssid"});
  REQUIRE(got.ok());
  CHECK(*got == R"({"rev":7,"values":{"argc":1,"in":{"keys":["wifi.ssid"]}}})");
  auto ok = b->config_set(7, R"({"wifi.ssid":"x; reboot"})");
  REQUIRE(ok.ok());
  CHECK(*ok == 8);
  CHECK(b->read_state().config_rev.value_or(-1) == 8);
  CHECK(cmd::failed_with(b->config_set(3, R"({"a":1})").error(), cmd::op_error::stale_rev));
}

TEST_CASE("hooks are killed at their timeout and bounded in output") {
  temp_dir t{"unit-agent"};
  const auto slow = write_script(t.path(), "slow", "sleep 30");
  const auto begin = std::chrono::steady_clock::now();
  auto r = aterm::agent::run_hook({slow.string()}, "{}", 300ms);
  CHECK(std::chrono::steady_clock::now() - begin < 5s);
  REQUIRE_FALSE(r.ok());
  CHECK(cmd::failed_with(r.error(), cmd::op_error::failed));
  CHECK(r.error().message().find("ran past its timeout") != std::string::npos);
  const auto chatty = write_script(t.path(), "chatty", "yes");
  r = aterm::agent::run_hook({chatty.string()}, "", 5s);
  REQUIRE_FALSE(r.ok());
  CHECK(cmd::failed_with(r.error(), cmd::op_error::failed));
  CHECK(r.error().message().find("wrote too much") != std::string::npos);
  r = aterm::agent::run_hook({"relative/path"}, "", 1s);
  CHECK(cmd::failed_with(r.error(), cmd::op_error::failed));
  CHECK(r.error().message().find("absolute path") != std::string::npos);
  const auto fails = write_script(t.path(), "fails", "exit 3");
  r = aterm::agent::run_hook({fails.string()}, "", 5s);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
}

// The fallback without hooks.diag: the real /bin/ping (iputils-ping, scripts/install-deps).
TEST_CASE("diag.ping without a hook runs the ping program and reads its statistics") {
  aterm::agent::linux_backend_settings s;
  REQUIRE_MESSAGE(::access(s.ping_program.c_str(), X_OK) == 0,
                  s.ping_program << " is missing: run scripts/install-deps");
  auto b = aterm::agent::make_linux_backend(s, aterm::common::system_clock::instance());
  auto r = b->diag_ping("127.0.0.1", 2);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().to_string()));
  CHECK(r->find("\"sent\":2") != std::string::npos);
  CHECK(r->find("\"received\":2") != std::string::npos);
  CHECK(r->find("\"rtt_ms\":{\"min\":") != std::string::npos);
}
