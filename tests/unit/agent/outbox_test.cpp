#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "aterm/agent/outbox.h"
#include "aterm/test/support.h"

namespace fs = std::filesystem;
using aterm::agent::outbox;
using aterm::agent::outbox_settings;
using aterm::test::temp_dir;
using kind = aterm::agent::outbox::kind;

namespace {
std::vector<std::string> payloads(const outbox& b) {
  std::vector<std::string> out;
  for (const auto& e : b.entries()) out.push_back(e.payload);
  return out;
}
}  // namespace

TEST_CASE("entries survive a reopen in order, acked ones do not") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "outbox.journal";
  {
    auto b = outbox::open(file);
    REQUIRE(b.ok());
    REQUIRE(b->push(kind::result, "r1").ok());
    REQUIRE(b->push(kind::event, "e1").ok());
    REQUIRE(b->push(kind::result, "r2").ok());
    REQUIRE(b->ack(b->entries()[1].seq).ok());
  }
  auto b = outbox::open(file);
  REQUIRE(b.ok());
  CHECK(payloads(*b) == std::vector<std::string>{"r1", "r2"});
  CHECK(b->entries()[0].k == kind::result);
  // New entries get sequence numbers after the old ones.
  REQUIRE(b->push(kind::event, "e2").ok());
  CHECK(b->entries().back().seq > b->entries().front().seq);
}

TEST_CASE("when full, events are dropped oldest-first before any result") {
  temp_dir t{"unit-agent"};
  struct row {
    const char* name;
    std::vector<std::pair<kind, std::string>> pushes;
    std::vector<std::string> left;
    std::uint64_t dropped_events;
    std::uint64_t dropped_results;
  };
  const std::vector<row> rows = {
      {"oldest event goes first",
       {{kind::event, "e1"}, {kind::result, "r1"}, {kind::event, "e2"}, {kind::result, "r2"}},
       {"r1", "e2", "r2"},
       1,
       0},
      {"every event goes before a result",
       {{kind::event, "e1"},
        {kind::event, "e2"},
        {kind::result, "r1"},
        {kind::result, "r2"},
        {kind::result, "r3"}},
       {"r1", "r2", "r3"},
       2,
       0},
      {"a new event into a queue of results is itself the oldest event",
       {{kind::result, "r1"}, {kind::result, "r2"}, {kind::result, "r3"}, {kind::event, "e1"}},
       {"r1", "r2", "r3"},
       1,
       0},
      {"only results: the oldest result goes",
       {{kind::result, "r1"}, {kind::result, "r2"}, {kind::result, "r3"}, {kind::result, "r4"}},
       {"r2", "r3", "r4"},
       0,
       1},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    const auto file = t.path() / (std::string("box-") + std::to_string(&r - rows.data()));
    auto b = outbox::open(file, outbox_settings{3, 1 << 20});
    REQUIRE(b.ok());
    for (const auto& [k, p] : r.pushes) REQUIRE(b->push(k, p).ok());
    CHECK(payloads(*b) == r.left);
    CHECK(b->dropped_events() == r.dropped_events);
    CHECK(b->dropped_results() == r.dropped_results);
    auto again = outbox::open(file, outbox_settings{3, 1 << 20});
    REQUIRE(again.ok());
    CHECK(payloads(*again) == r.left);
  }
}

TEST_CASE("the byte bound drops like the entry bound") {
  temp_dir t{"unit-agent"};
  auto b = outbox::open(t.path() / "o", outbox_settings{1000, 1024});
  REQUIRE(b.ok());
  const std::string big(400, 'x');
  REQUIRE(b->push(kind::event, "E" + big).ok());
  REQUIRE(b->push(kind::result, "R" + big).ok());
  REQUIRE(b->push(kind::result, "S" + big).ok());  // 1203 bytes > 1024: the event goes
  CHECK(b->entries().size() == 2);
  CHECK(b->dropped_events() == 1);
  CHECK(b->bytes() <= 1024);
  // A payload that can never fit is dropped and counted.
  REQUIRE(b->push(kind::result, std::string(2000, 'y')).ok());
  CHECK(b->dropped_results() == 1);
  CHECK(b->entries().size() == 2);
}

TEST_CASE("a torn outbox tail loses only the torn entry") {
  temp_dir t{"unit-agent"};
  const auto file = t.path() / "o";
  {
    auto b = outbox::open(file);
    REQUIRE(b.ok());
    REQUIRE(b->push(kind::result, "r1").ok());
  }
  {
    std::FILE* f = std::fopen(file.c_str(), "a");
    std::fputs("0123abcd {\"op\":\"add\",\"seq\":9", f);
    std::fclose(f);
  }
  auto b = outbox::open(file);
  REQUIRE(b.ok());
  CHECK(payloads(*b) == std::vector<std::string>{"r1"});
}
