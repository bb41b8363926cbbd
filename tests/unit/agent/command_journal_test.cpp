#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "aterm/agent/command_journal.h"
#include "aterm/agent/journal_file.h"
#include "aterm/test/support.h"

namespace fs = std::filesystem;
using aterm::agent::command_journal;
using aterm::agent::journal_file;
using aterm::test::temp_dir;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}
}  // namespace

TEST_CASE("finished commands are found again after reopening") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "commands.journal";
  {
    auto j = command_journal::open(file);
    REQUIRE(j.ok());
    REQUIRE(j->begin("c1").ok());
    CHECK(j->find("c1").state == command_journal::seen::running);
    REQUIRE(j->finish("c1", R"({"v":1,"id":"c1","status":"ok","result":{}})").ok());
    REQUIRE(j->begin("c2").ok());
  }
  auto j = command_journal::open(file);
  REQUIRE(j.ok());
  auto c1 = j->find("c1");
  CHECK(c1.state == command_journal::seen::finished);
  CHECK(c1.result_payload == R"({"v":1,"id":"c1","status":"ok","result":{}})");
  // Begun but never finished: the agent died while running it.
  CHECK(j->find("c2").state == command_journal::seen::running);
  CHECK(j->find("c3").state == command_journal::seen::no);
}

TEST_CASE("only the last `capacity` ids are kept, also across reopen") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "commands.journal";
  {
    auto j = command_journal::open(file, 10);
    REQUIRE(j.ok());
    for (int i = 0; i < 35; ++i) REQUIRE(j->finish("c" + std::to_string(i), "r").ok());
    CHECK(j->size() == 10);
    CHECK(j->find("c24").state == command_journal::seen::no);
    CHECK(j->find("c25").state == command_journal::seen::finished);
  }
  auto j = command_journal::open(file, 10);
  REQUIRE(j.ok());
  CHECK(j->size() == 10);
  CHECK(j->find("c25").state == command_journal::seen::finished);
  CHECK(j->find("c34").state == command_journal::seen::finished);
  CHECK(j->find("c0").state == command_journal::seen::no);
  // Compaction keeps the file bounded: at most capacity * factor lines.
  const auto text = slurp(file);
  CHECK(std::count(text.begin(), text.end(), '\n') <= 20);
}

TEST_CASE("a torn last line (power cut mid-write) is skipped, the rest survives") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "commands.journal";
  {
    auto j = command_journal::open(file);
    REQUIRE(j.ok());
    REQUIRE(j->finish("a", "ra").ok());
    REQUIRE(j->finish("b", "rb").ok());
  }
  auto text = slurp(file);
  spit(file, text + "deadbeef {\"id\":\"c\",\"r\":\"r");  // no newline: the write never finished
  auto j = command_journal::open(file);
  REQUIRE(j.ok());
  CHECK(j->skipped_at_load() == 1);
  CHECK(j->find("a").state == command_journal::seen::finished);
  CHECK(j->find("b").result_payload == "rb");
  CHECK(j->find("c").state == command_journal::seen::no);
  // After the repair, appends land on a clean line.
  REQUIRE(j->finish("d", "rd").ok());
  auto again = command_journal::open(file);
  REQUIRE(again.ok());
  CHECK(again->skipped_at_load() == 0);
  CHECK(again->find("d").result_payload == "rd");
}

TEST_CASE("corrupt lines fail their check and are never trusted") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "commands.journal";
  {
    auto j = command_journal::open(file);
    REQUIRE(j.ok());
    REQUIRE(j->finish("a", "ra").ok());
    REQUIRE(j->finish("b", "rb").ok());
  }
  auto text = slurp(file);
  const auto pos = text.find("rb");
  REQUIRE(pos != std::string::npos);
  text[pos + 1] = 'X';  // a flipped byte
  text += "garbage line\n\n";
  spit(file, text);
  auto j = command_journal::open(file);
  REQUIRE(j.ok());
  CHECK(j->skipped_at_load() == 3);
  CHECK(j->find("a").state == command_journal::seen::finished);
  CHECK(j->find("b").state == command_journal::seen::no);
}

TEST_CASE("journal_file round-trips records and refuses newlines") {
  temp_dir t{"unit-agent"};
  journal_file f(t.path() / "j");
  REQUIRE(f.append("one").ok());
  REQUIRE(f.append("two").ok());
  CHECK(f.append("bad\nline").code() == "bad_value");
  auto loaded = f.load();
  REQUIRE(loaded.ok());
  CHECK(loaded->records == std::vector<std::string>{"one", "two"});
  REQUIRE(f.rewrite({"three"}).ok());
  loaded = f.load();
  REQUIRE(loaded.ok());
  CHECK(loaded->records == std::vector<std::string>{"three"});
  CHECK_FALSE(fs::exists(t.path() / "j.tmp"));
}
