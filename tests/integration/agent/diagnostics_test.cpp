// The diagnostics and factory_reset on the linux backend: Debian's programs (stand-ins that log
// their argv) and hook programs, run by a real agent against a real broker. Every injected
// argument is refused before any program runs: the stand-ins write a marker file, and it stays
// absent until a valid command runs.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "agent_fixture.h"
#include "aterm/common/json.h"

using namespace agent_test;

namespace {

using t::write_script;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct linux_agent {
  stack s;
  std::unique_ptr<agent_process> a;

  explicit linux_agent(const std::string& hooks_extra) {
    a = std::make_unique<agent_process>(
        s.pki, s.broker, s.dir.path(), "dev-linux",
        R"("state_poll_s":1,"backend":{"type":"linux"},)" + hooks_extra);
    a->start();
    const bool online = t::wait_until([&] {
      auto p = s.cloud.last_presence("dev-linux");
      return p && p->online;
    });
    REQUIRE_MESSAGE(online, "agent log:\n" << a->log());
  }
  proto::command_result run(const std::string& id, const std::string& op,
                            const std::string& args = "{}") {
    s.cloud.command("dev-linux", id, op, args);
    auto r = s.cloud.result("dev-linux", id);
    REQUIRE_MESSAGE(r.has_value(), "no result for " << id << "; agent log:\n" << a->log());
    return *r;
  }
};

// Debian's traceroute and host, as far as the agent reads them, logging their argv to `marker`.
std::string program_stand_ins(const fs::path& bin, const fs::path& marker) {
  const auto tr = write_script(bin, "traceroute",
                               "echo \"traceroute $*\" >> '" + marker.string() +
                                   "'\n"
                                   "echo \"traceroute to $8 ($8), $7 hops max, 60 byte packets\"\n"
                                   "echo ' 1  192.0.2.1  0.321 ms'\n"
                                   "echo ' 2  *'\n"
                                   "echo \" 3  $8  1.234 ms\"");
  const auto host = write_script(bin, "host",
                                 "echo \"host $*\" >> '" + marker.string() +
                                     "'\n"
                                     "echo \"$2 has address 192.0.2.80\"\n"
                                     "echo \"$2 has IPv6 address 2001:db8::80\"");
  const auto reset =
      write_script(bin, "factory-reset",
                   "cat > /dev/null\necho \"factory-reset $*\" >> '" + marker.string() + "'");
  return R"("diag.traceroute_program":")" + tr.string() + R"(","diag.dns_program":")" +
         host.string() + R"(","hooks.factory_reset":[")" + reset.string() + R"("])";
}

}  // namespace

TEST_CASE("shell and option injection through the new ops is refused before any program runs") {
  t::temp_dir scripts{"aterm-agent-bin"};
  const fs::path marker = scripts.path() / "ran";
  linux_agent l(program_stand_ins(scripts.path(), marker));
  using rs = proto::result_status;
  const std::pair<const char*, const char*> attacks[] = {
      {"diag.traceroute", R"({"host":"-f/etc/passwd"})"},
      {"diag.traceroute", R"({"host":"a.example;touch /tmp/x"})"},
      {"diag.traceroute", R"x({"host":"$(id)"})x"},
      {"diag.traceroute", R"({"host":"a.example","max_hops":"1 -f 2"})"},
      {"diag.traceroute", R"({"host":"a.example","max_hops":31})"},
      {"diag.traceroute", R"({"host":"a.example","extra":"-I"})"},
      {"diag.dns", R"({"name":"--help"})"},
      {"diag.dns", R"({"name":"a.example|id"})"},
      {"diag.dns", R"({"name":"a.example","server":"-t AXFR"})"},
      {"diag.dns", R"({"name":"a.example","server":"`id`"})"},
      {"diag.dns", R"({"name":"a example"})"},
      {"factory_reset", R"({})"},
      {"factory_reset", R"({"confirm":"factory_reset; id"})"},
      {"factory_reset", R"({"confirm":true})"},
      {"log.tail", R"({"lines":"10; id"})"},
      {"diag.ping", R"({"host":"-c 1000 a.example"})"},
  };
  int n = 0;
  for (const auto& attack : attacks) {
    // Named copies, not a structured binding: CHECK_MESSAGE's lambda captures them (clang 14).
    const auto& op = std::get<0>(attack);
    const auto& args = std::get<1>(attack);
    const auto r = l.run("inj-" + std::to_string(++n), op, args);
    CHECK_MESSAGE(r.status == rs::rejected, op << " " << args << " answered " << r.error);
  }
  CHECK_MESSAGE(!fs::exists(marker), "a program ran: " << read_file(marker));

  // The stand-ins do run for valid commands, so the marker's absence above means something.
  auto tr = l.run("ok-1", "diag.traceroute", R"({"host":"192.0.2.9","max_hops":5})");
  REQUIRE(tr.status == rs::ok);
  auto j = aterm::common::parse_json(tr.result_json);
  REQUIRE(j.ok());
  CHECK(aterm::common::json_bool(j->get(), "reached").value_or(false));
  const cJSON* hops = cJSON_GetObjectItemCaseSensitive(j->get(), "hops");
  REQUIRE(cJSON_GetArraySize(hops) == 3);
  CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(hops, 1), "addr") == nullptr);
  CHECK(read_file(marker) == "traceroute -n -q 1 -w 1 -m 5 192.0.2.9\n");

  auto dns = l.run("ok-2", "diag.dns", R"({"name":"example.com","server":"192.0.2.53"})");
  REQUIRE(dns.status == rs::ok);
  CHECK(
      dns.result_json ==
      R"({"name":"example.com","server":"192.0.2.53","addresses":["192.0.2.80","2001:db8::80"]})");
  CHECK(read_file(marker).find("host -- example.com 192.0.2.53\n") != std::string::npos);

  auto reset = l.run("ok-3", "factory_reset", R"({"confirm":"factory_reset"})");
  CHECK(reset.status == rs::ok);
  CHECK(read_file(marker).find("factory-reset \n") != std::string::npos);
}

TEST_CASE("with hooks.diag the diagnostics go to the hook as JSON on stdin") {
  t::temp_dir scripts{"aterm-agent-bin"};
  const fs::path input = scripts.path() / "input";
  const auto hook = write_script(scripts.path(), "diag",
                                 "cat >> '" + input.string() + "'\necho '{\"from\":\"hook\"}'");
  linux_agent l(R"("hooks.diag":[")" + hook.string() + R"("])");
  using rs = proto::result_status;
  auto tr = l.run("h1", "diag.traceroute", R"({"host":"192.0.2.9"})");
  CHECK(tr.status == rs::ok);
  CHECK(tr.result_json == R"({"from":"hook"})");
  auto dns = l.run("h2", "diag.dns", R"({"name":"example.com"})");
  CHECK(dns.status == rs::ok);
  const auto in = read_file(input);
  CHECK(in.find(R"({"op":"diag.traceroute","host":"192.0.2.9","max_hops":15})") !=
        std::string::npos);
  CHECK(in.find(R"({"op":"diag.dns","name":"example.com"})") != std::string::npos);
  // No hooks.factory_reset: refused as unsupported, never answered ok.
  CHECK(l.run("h3", "factory_reset", R"({"confirm":"factory_reset"})").status == rs::unsupported);
}
