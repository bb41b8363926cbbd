#include "ingest_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>

#include "aterm/test/support.h"

namespace {

using namespace std::chrono_literals;
using aterm::bridge::bridge_metrics;
using aterm::bridge::ingest_queue;
using aterm::bridge::raw_message;

raw_message item(std::string payload = "{}") {
  return raw_message{"aterm/v1/dev-0001/state", std::move(payload), 0, {}};
}

}  // namespace

TEST_CASE("a full queue makes the producer wait until the consumer takes the messages") {
  bridge_metrics metrics;
  ingest_queue q(2, 1 << 20, metrics);
  q.push(item());
  q.push(item());
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(item());
    pushed = true;
  });
  REQUIRE(aterm::test::wait_until([&] { return metrics.snapshot().queue_waits == 1; }));
  CHECK_FALSE(pushed.load());
  std::deque<raw_message> out;
  CHECK_FALSE(q.pop_all(out, 0ms));
  CHECK(out.size() == 2);
  producer.join();
  CHECK(pushed.load());
  out.clear();
  q.pop_all(out, 0ms);
  CHECK(out.size() == 1);
  CHECK(metrics.snapshot().received == 3);
}

TEST_CASE("the byte bound counts too") {
  bridge_metrics metrics;
  ingest_queue q(1000, 100, metrics);
  q.push(item(std::string(200, 'x')));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(item());
    pushed = true;
  });
  REQUIRE(aterm::test::wait_until([&] { return metrics.snapshot().queue_waits == 1; }));
  CHECK_FALSE(pushed.load());
  q.release_producers();  // shutdown: the producer goes through regardless
  producer.join();
  std::deque<raw_message> out;
  q.pop_all(out, 0ms);
  CHECK(out.size() == 2);
}

TEST_CASE("after close pushes are dropped and counted, stop ends the consumer") {
  bridge_metrics metrics;
  ingest_queue q(10, 1 << 20, metrics);
  q.push(item());
  q.close();
  q.push(item());
  CHECK(metrics.snapshot().queue_drops == 1);
  q.request_stop();
  std::deque<raw_message> out;
  CHECK(q.pop_all(out, 10s));
  CHECK(out.size() == 1);
}
