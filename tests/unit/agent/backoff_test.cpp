#include <doctest/doctest.h>

#include "aterm/agent/backoff.h"

using aterm::agent::backoff;
using aterm::agent::backoff_settings;
using namespace std::chrono_literals;

namespace {
// The largest possible draw, so the ceiling is visible.
std::uint64_t top(std::uint64_t bound) {
  return bound;
}
}  // namespace

TEST_CASE("backoff ceilings double from the base up to the cap") {
  backoff b(backoff_settings{1000ms, 10000ms, 60000ms}, top);
  const std::int64_t expected[] = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
  for (auto e : expected) CHECK(b.next_delay().count() == e);
}

TEST_CASE("backoff draws with full jitter within [0, ceiling]") {
  std::uint64_t seen_bound = 0;
  backoff b(backoff_settings{500ms, 300000ms, 60000ms}, [&](std::uint64_t bound) {
    seen_bound = bound;
    return std::uint64_t{0};
  });
  CHECK(b.next_delay().count() == 0);
  CHECK(seen_bound == 500);
  CHECK(b.next_delay().count() == 0);
  CHECK(seen_bound == 1000);
}

TEST_CASE("the real random draw stays within the ceiling") {
  backoff b(backoff_settings{100ms, 3000ms, 60000ms});
  for (int i = 0; i < 200; ++i) {
    const auto ceiling = b.current_ceiling();
    const auto d = b.next_delay();
    CHECK(d.count() >= 0);
    CHECK(d <= ceiling);
    CHECK(ceiling <= 3000ms);
  }
}

TEST_CASE("a stable connection resets the backoff, a short one does not") {
  backoff b(backoff_settings{1000ms, 300000ms, 60000ms}, top);
  for (int i = 0; i < 5; ++i) (void)b.next_delay();
  CHECK(b.current_ceiling() == 32000ms);
  b.connection_ended(5s);
  CHECK(b.current_ceiling() == 32000ms);
  b.connection_ended(61s);
  CHECK(b.current_ceiling() == 1000ms);
}

TEST_CASE("many attempts never overflow past the cap") {
  backoff b(backoff_settings{1000ms, 300000ms, 60000ms}, top);
  for (int i = 0; i < 1000; ++i) CHECK(b.next_delay() <= 300000ms);
  CHECK(b.current_ceiling() == 300000ms);
}
