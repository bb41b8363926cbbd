#include "ingest_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "aterm/test/support.h"

namespace {

using namespace std::chrono_literals;
namespace protocol = aterm::common::protocol;
using aterm::bridge::bridge_metrics;
using aterm::bridge::ingest_queue;
using aterm::bridge::ingest_queue_limits;
using aterm::bridge::raw_message;
using aterm::common::manual_clock;
using protocol::topic_kind;

raw_message message(const std::string& device, topic_kind kind, std::string payload = "{}") {
  return raw_message{protocol::topic(device, kind), std::move(payload), 0, {}};
}
raw_message state(const std::string& device, std::string payload = "{}") {
  return message(device, topic_kind::state, std::move(payload));
}
raw_message result(const std::string& device, std::string payload = "{}") {
  return message(device, topic_kind::result, std::move(payload));
}

// "device/kind/payload" of each message, in delivery order.
std::vector<std::string> drain(ingest_queue& q, std::size_t max_states = ingest_queue::k_all) {
  std::deque<raw_message> out;
  q.pop(out, 0ms, max_states);
  std::vector<std::string> seen;
  for (const auto& m : out) {
    auto t = protocol::parse_topic(m.topic);
    REQUIRE(t.ok());
    seen.push_back(t->device_id + "/" + std::string(protocol::to_string(t->kind)) + "/" +
                   m.payload);
  }
  return seen;
}

ingest_queue_limits small(std::size_t states, std::size_t urgent, std::size_t coalesce_from) {
  ingest_queue_limits l;
  l.state_messages = states;
  l.urgent_messages = urgent;
  l.coalesce_from = coalesce_from;
  return l;
}

// Pushes `m` on another thread; `returned` says whether push came back within a deadline. The
// destructor releases a producer that still waits, so a test that fails does not hang.
class pusher {
 public:
  pusher(ingest_queue& q, raw_message m)
      : q_(q), t_([this, m = std::move(m)]() mutable {
          q_.push(std::move(m));
          done_ = true;
        }) {}
  ~pusher() {
    q_.release_producers();
    t_.join();
  }
  bool returned() {
    return aterm::test::wait_until([&] { return done_.load(); }, 5s);
  }
  bool done() const { return done_.load(); }

 private:
  ingest_queue& q_;
  std::atomic<bool> done_{false};
  std::thread t_;
};

std::vector<std::string> g_lines;
void capture(std::string_view line) {
  g_lines.emplace_back(line);
}
struct log_capture {
  log_capture() {
    g_lines.clear();
    aterm::common::set_log_sink(&capture);
  }
  ~log_capture() { aterm::common::set_log_sink(nullptr); }
};

}  // namespace

TEST_CASE(
    "a newer snapshot of a device replaces its queued one, in its place, once ingest is behind") {
  manual_clock clock;
  bridge_metrics metrics;
  SUBCASE("always (coalesce_from 0)") {
    ingest_queue q(small(100, 100, 0), metrics, clock);
    q.push(state("dev-0001", "a1"));
    q.push(state("dev-0002", "b1"));
    q.push(state("dev-0001", "a2"));
    q.push(state("dev-0001", "a3"));
    CHECK(drain(q) == std::vector<std::string>{"dev-0001/state/a3", "dev-0002/state/b1"});
    auto s = metrics.snapshot();
    CHECK(s.states_coalesced == 2);
    CHECK(s.received == 4);
    CHECK(s.queue_depth == 0);
    // Popped snapshots are gone from the map: the next one is queued, not merged.
    q.push(state("dev-0001", "a4"));
    CHECK(drain(q) == std::vector<std::string>{"dev-0001/state/a4"});
    CHECK(metrics.snapshot().states_coalesced == 2);
  }
  SUBCASE("below coalesce_from every snapshot is kept, from it the newest replaces the newest") {
    ingest_queue q(small(100, 100, 3), metrics, clock);
    q.push(state("dev-0001", "a1"));
    q.push(state("dev-0001", "a2"));  // 1 queued: kept
    q.push(state("dev-0002", "b1"));
    q.push(state("dev-0001", "a3"));  // 3 queued: replaces a2
    CHECK(drain(q) ==
          std::vector<std::string>{"dev-0001/state/a1", "dev-0001/state/a3", "dev-0002/state/b1"});
    CHECK(metrics.snapshot().states_coalesced == 1);
  }
}

TEST_CASE(
    "a snapshot that finds the state lane full is shed at once, counted and logged once a minute") {
  log_capture logs;
  manual_clock clock;
  bridge_metrics metrics;
  ingest_queue q(small(2, 100, 1000), metrics, clock);
  q.push(state("dev-0001", "a1"));
  q.push(state("dev-0002", "b1"));
  {
    pusher p(q, state("dev-0003", "c1"));
    REQUIRE(p.returned());
  }
  q.push(state("dev-0004", "d1"));
  q.push(state("dev-0005", "e1"));
  CHECK(metrics.snapshot().states_shed == 3);
  CHECK(metrics.snapshot().queue_waits == 0);
  // Full, so a device's newer snapshot replaces its queued one although coalesce_from is 1000.
  q.push(state("dev-0001", "a2"));
  CHECK(metrics.snapshot().states_coalesced == 1);
  CHECK(g_lines.size() == 1);
  CHECK(g_lines[0].find("state snapshots shed") != std::string::npos);
  CHECK(g_lines[0].find("shed=1") != std::string::npos);
  clock.advance(59s);
  q.push(state("dev-0006", "f1"));
  CHECK(g_lines.size() == 1);
  clock.advance(1s);
  q.push(state("dev-0007", "g1"));
  REQUIRE(g_lines.size() == 2);
  CHECK(g_lines[1].find("shed=4") != std::string::npos);  // the ones held back and this one
  for (const auto& l : g_lines) CHECK(l.find("c1") == std::string::npos);  // never a payload
  CHECK(drain(q) == std::vector<std::string>{"dev-0001/state/a2", "dev-0002/state/b1"});
  CHECK(metrics.snapshot().received == 8);
}

TEST_CASE(
    "a result pushed into a full state lane is admitted without waiting and delivered first") {
  manual_clock clock;
  bridge_metrics metrics;
  ingest_queue q(small(3, 100, 1000), metrics, clock);
  for (const char* d : {"dev-0001", "dev-0002", "dev-0003"}) q.push(state(d));
  for (const auto kind : {topic_kind::result, topic_kind::presence, topic_kind::event}) {
    pusher p(q, message("dev-0009", kind, "r"));
    REQUIRE(p.returned());
  }
  auto s = metrics.snapshot();
  CHECK(s.queue_waits == 0);
  CHECK(s.states_shed == 0);
  CHECK(s.queue_depth == 6);
  // One batch of snapshots per pop: the urgent messages come first, whatever arrived before.
  CHECK(drain(q, 2) == std::vector<std::string>{"dev-0009/result/r", "dev-0009/presence/r",
                                                "dev-0009/event/r", "dev-0001/state/{}",
                                                "dev-0002/state/{}"});
  q.push(result("dev-0008", "late"));
  CHECK(drain(q, 2) == std::vector<std::string>{"dev-0008/result/late", "dev-0003/state/{}"});
}

TEST_CASE("a device's earlier snapshots go before its own result, presence or event") {
  manual_clock clock;
  bridge_metrics metrics;
  ingest_queue q(small(100, 100, 1000), metrics, clock);
  q.push(state("dev-0001", "a1"));
  q.push(state("dev-0002", "b1"));
  q.push(state("dev-0001", "a2"));
  q.push(message("dev-0001", topic_kind::presence, "offline"));
  q.push(state("dev-0001", "a3"));  // after the presence: stays behind it
  q.push(result("dev-0003", "r"));
  CHECK(metrics.snapshot().queue_depth == 6);
  CHECK(drain(q, 1) == std::vector<std::string>{"dev-0001/state/a1", "dev-0001/state/a2",
                                                "dev-0001/presence/offline", "dev-0003/result/r",
                                                "dev-0002/state/b1"});
  // The moved snapshots left tombstones; pop passes them without counting them.
  CHECK(drain(q, 1) == std::vector<std::string>{"dev-0001/state/a3"});
  CHECK(metrics.snapshot().queue_depth == 0);

  SUBCASE("a snapshot after the move does not merge into the moved one") {
    ingest_queue c(small(100, 100, 0), metrics, clock);
    c.push(state("dev-0001", "a1"));
    c.push(message("dev-0001", topic_kind::event, "e"));
    c.push(state("dev-0001", "a2"));
    CHECK(drain(c) ==
          std::vector<std::string>{"dev-0001/state/a1", "dev-0001/event/e", "dev-0001/state/a2"});
  }
  SUBCASE("a device's snapshots already handed over are not moved again") {
    ingest_queue c(small(100, 100, 1000), metrics, clock);
    c.push(state("dev-0001", "a1"));
    c.push(state("dev-0001", "a2"));
    CHECK(drain(c, 1) == std::vector<std::string>{"dev-0001/state/a1"});
    c.push(message("dev-0001", topic_kind::presence, "p"));
    c.push(state("dev-0001", "a3"));
    CHECK(drain(c) == std::vector<std::string>{"dev-0001/state/a2", "dev-0001/presence/p",
                                               "dev-0001/state/a3"});
  }
}

TEST_CASE("past the hard bound a result waits for room, and the byte bound counts too") {
  manual_clock clock;
  bridge_metrics metrics;
  SUBCASE("messages") {
    ingest_queue q(small(100, 2, 1000), metrics, clock);
    q.push(result("dev-0001"));
    q.push(result("dev-0002"));
    pusher p(q, result("dev-0003"));
    REQUIRE(aterm::test::wait_until([&] { return metrics.snapshot().queue_waits == 1; }));
    CHECK_FALSE(p.done());
    CHECK(drain(q).size() == 2);
    REQUIRE(p.returned());
    CHECK(drain(q).size() == 1);
    CHECK(metrics.snapshot().received == 3);
  }
  SUBCASE("bytes; release_producers lets the waiting producer through") {
    auto limits = small(100, 1000, 1000);
    limits.urgent_bytes = 100;
    ingest_queue q(limits, metrics, clock);
    q.push(result("dev-0001", std::string(200, 'x')));
    pusher p(q, result("dev-0002"));
    REQUIRE(aterm::test::wait_until([&] { return metrics.snapshot().queue_waits == 1; }));
    CHECK_FALSE(p.done());
    q.release_producers();  // shutdown: the producer goes through regardless
    REQUIRE(p.returned());
    CHECK(drain(q).size() == 2);
  }
  SUBCASE("close drops the waiting message") {
    ingest_queue q(small(100, 1, 1000), metrics, clock);
    q.push(result("dev-0001"));
    pusher p(q, result("dev-0002"));
    REQUIRE(aterm::test::wait_until([&] { return metrics.snapshot().queue_waits == 1; }));
    q.close();
    REQUIRE(p.returned());
    CHECK(metrics.snapshot().queue_drops == 1);
    CHECK(drain(q).size() == 1);
  }
}

TEST_CASE("after close pushes are dropped and counted, stop hands over everything queued") {
  manual_clock clock;
  bridge_metrics metrics;
  ingest_queue q(small(10, 10, 1000), metrics, clock);
  q.push(state("dev-0001"));
  q.push(state("dev-0002"));
  q.push(result("dev-0003"));
  q.close();
  q.push(state("dev-0004"));
  q.push(result("dev-0004"));
  CHECK(metrics.snapshot().queue_drops == 2);
  q.request_stop();
  std::deque<raw_message> out;
  CHECK(q.pop(out, 10s, 1));  // stop: every snapshot, whatever max_states says
  CHECK(out.size() == 3);
}

TEST_CASE("a link_lost mark goes behind everything queued before it, snapshots included") {
  manual_clock clock;
  bridge_metrics metrics;
  ingest_queue q(small(100, 100, 1000), metrics, clock);
  q.push(state("dev-0001", "a1"));
  q.push(result("dev-0002", "r"));
  q.push(state("dev-0003", "c1"));
  raw_message lost;
  lost.link_lost = true;
  q.push(std::move(lost));
  q.push(state("dev-0001", "a2"));  // after the reconnect
  std::deque<raw_message> out;
  q.pop(out, 0ms);
  std::vector<std::string> seen;
  for (const auto& m : out) seen.push_back(m.link_lost ? "lost" : m.payload);
  CHECK(seen == std::vector<std::string>{"r", "a1", "c1", "lost", "a2"});
  CHECK(metrics.snapshot().queue_depth == 0);
  // The moved snapshots no longer stand for their devices: a new one queues as usual.
  q.push(state("dev-0003", "c2"));
  CHECK(drain(q) == std::vector<std::string>{"dev-0003/state/c2"});
}
