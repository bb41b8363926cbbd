// The test-support library itself: processes, waiting and the broker's lifecycle.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>

#include "aterm/test/support.h"

namespace t = aterm::test;

namespace {

// A process that exists and is not a zombie (a killed orphan may wait for init to reap it).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return false;
  return state != "Z";
}

}  // namespace

TEST_CASE("run captures exit code and stdout and stderr and feeds stdin") {
  auto r = t::run({"sh", "-c", "cat; echo err >&2; exit 3"}, "hello");
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello");
  CHECK(r.err == "err\n");
}

TEST_CASE("run passes extra environment and kills a child that overruns its timeout") {
  auto r = t::run({"sh", "-c", "printf %s \"$ATERM_X\""}, {}, {{"ATERM_X", "42"}});
  CHECK(r.out == "42");
  auto slow = t::run({"sleep", "30"}, {}, {}, std::chrono::milliseconds(200));
  CHECK(slow.exit_code == -1);
}

TEST_CASE("process logs to its file and stop() ends its whole process group") {
  t::temp_dir dir;
  const auto marker = dir / "child.pid";
  // The shell starts a grandchild; stopping the process must stop that one too.
  t::process p({"sh", "-c", "sleep 300 & echo $! > '" + marker.string() + "'; echo started; wait"},
               dir / "log");
  REQUIRE(t::wait_until([&] { return p.log().find("started") != std::string::npos; }));
  REQUIRE(t::wait_until([&] { return std::filesystem::file_size(marker) > 0; }));
  pid_t grandchild = 0;
  std::ifstream(marker) >> grandchild;
  REQUIRE(grandchild > 0);
  CHECK(p.running());
  CHECK(p.stop(SIGTERM) == -SIGTERM);
  CHECK_FALSE(p.running());
  CHECK(t::wait_until([&] { return !alive(grandchild); }));
}

TEST_CASE("temp_dir is removed with its contents") {
  std::filesystem::path kept;
  {
    t::temp_dir dir("aterm-support");
    kept = dir.path();
    std::ofstream(dir / "f") << "x";
    CHECK(std::filesystem::exists(dir / "f"));
  }
  CHECK_FALSE(std::filesystem::exists(kept));
}

TEST_CASE("free_port returns a port below the ephemeral range that a broker can listen on") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  t::broker b(pki);
  CHECK(b.port() >= 20000);
  CHECK(b.port() <= 32767);
}

TEST_CASE("broker restart keeps its port and accepts connections again") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  t::broker b(pki);
  const int port = b.port();
  CHECK(b.log().find(" running") != std::string::npos);
  b.stop();
  b.start();
  CHECK(b.port() == port);
  // Two starts, two "running" lines in the one log.
  const auto text = b.log();
  CHECK(text.find(" running") != text.rfind(" running"));
}
