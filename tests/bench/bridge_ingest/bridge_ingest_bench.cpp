// Ingest figures of the bridge alone (the broker is measured by tests/bench/ingest): messages/s
// that the ingest decodes, batches and applies to an in-memory store, first on one thread,
// then through the bounded queue from a producer thread (as Paho's receive thread feeds it) to
// a consumer running the same loop as the bridge's ingest thread. Then the overload case: a
// store that sleeps per batch (SQLite under disk syncs or lock contention) and a broker that
// delivers a backlog of state snapshots with one command result behind it, as in the full-stack
// bench: how long the result takes to reach the store. Prints figures only.
//
//   bench_bridge_ingest [MESSAGES] [BACKLOG] [STORE_MS] [DEVICES]
//     defaults 500000 messages; a backlog of 50000 states; 20 ms per batch; 10000 devices
//     (more devices than the queue's 10,000 snapshots make it shed, fewer make it coalesce)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "aterm/bridge/ingest.h"
#include "aterm/bridge/limits.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"
#include "ingest_queue.h"

namespace {

using namespace std::chrono_literals;
namespace bridge = aterm::bridge;
namespace protocol = aterm::common::protocol;

// The command side of the port, unused by these figures: no commands, nothing to record.
class no_commands_store : public bridge::store_port {
 public:
  aterm::common::result<std::vector<bridge::outbound_command>> claim_due(
      const std::string&, const bridge::claim_request&, std::size_t) override {
    return std::vector<bridge::outbound_command>{};
  }
  aterm::common::result<std::vector<bridge::outbound_command>> claim_for_online(
      const bridge::claim_request&, std::size_t) override {
    return std::vector<bridge::outbound_command>{};
  }
  aterm::common::status release_claims(std::span<const std::string>, const std::string&) override {
    return {};
  }
  aterm::common::result<std::size_t> expire_overdue(std::int64_t) override {
    return std::size_t{0};
  }
  aterm::common::result<std::size_t> presence_unvouched(std::int64_t) override {
    return std::size_t{0};
  }
};

// A store that only counts: the figure is the bridge's cost, not the fake's bookkeeping.
class counting_store final : public no_commands_store {
 public:
  aterm::common::result<bridge::batch_outcome> apply_batch(
      std::span<const bridge::device_message> batch) override {
    stored += batch.size();
    return bridge::batch_outcome{};
  }
  std::size_t stored = 0;
};

// A store that sleeps per batch and notes when the first command result reaches it.
class slow_store final : public no_commands_store {
 public:
  explicit slow_store(std::chrono::milliseconds per_batch) : per_batch_(per_batch) {}
  aterm::common::result<bridge::batch_outcome> apply_batch(
      std::span<const bridge::device_message> batch) override {
    std::this_thread::sleep_for(per_batch_);
    for (const auto& m : batch) {
      if (m.kind == protocol::topic_kind::result && !result_seen.load()) {
        result_at = std::chrono::steady_clock::now();
        result_seen = true;
      }
    }
    stored += batch.size();
    return bridge::batch_outcome{};
  }
  std::atomic<bool> result_seen{false};
  std::chrono::steady_clock::time_point result_at;
  std::size_t stored = 0;

 private:
  std::chrono::milliseconds per_batch_;
};

// The bridge's ingest loop (bridge.cpp run_ingest) until stop is requested.
void run_ingest(bridge::ingest_queue& queue, bridge::ingest& in) {
  std::deque<bridge::raw_message> items;
  while (true) {
    const bool stop = queue.pop(items, 100ms, bridge::ingest_settings{}.batch_max);
    for (auto& m : items) in.accept(std::move(m));
    items.clear();
    in.tick();
    if (stop) {
      in.flush();
      return;
    }
  }
}

std::vector<bridge::raw_message> make_input(std::size_t n, std::size_t devices = 10'000) {
  std::vector<bridge::raw_message> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string id = "dev-" + std::to_string(100000 + i % devices);
    out.push_back(bridge::raw_message{
        protocol::topic(id, protocol::topic_kind::state),
        R"({"v":1,"ts":1800000000,"seq":)" + std::to_string(i) +
            R"(,"model":"WX3600HP","fw":"1.2.3","uptime_s":12345,"wan":{"ip":"192.0.2.1",)"
            R"("up":true},"lan":{"clients":7},"cpu":{"load1":0.25},"mem":{"total_kb":)"
            R"(524288,"free_kb":262144},"config_rev":3})",
        0,
        {}});
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500'000;
  auto& clock = aterm::common::system_clock::instance();

  {
    auto input = make_input(n);
    const std::size_t bytes = input.empty() ? 0 : input[0].payload.size();
    counting_store store;
    bridge::bridge_metrics metrics;
    bridge::ingest in(bridge::ingest_settings{}, store, clock, metrics);
    auto t0 = std::chrono::steady_clock::now();
    for (auto& m : input) in.accept(std::move(m));
    in.flush();
    const double s = seconds_since(t0);
    std::printf("ingest, one thread: %zu messages (%zu B each), %.0f msg/s\n", store.stored, bytes,
                static_cast<double>(n) / s);
  }
  {
    auto input = make_input(n);
    counting_store store;
    bridge::bridge_metrics metrics;
    bridge::ingest in(bridge::ingest_settings{}, store, clock, metrics);
    bridge::ingest_queue queue(bridge::ingest_queue_limits{}, metrics, clock);
    auto t0 = std::chrono::steady_clock::now();
    std::thread consumer([&] { run_ingest(queue, in); });
    for (auto& m : input) queue.push(std::move(m));
    queue.request_stop();
    consumer.join();
    const double s = seconds_since(t0);
    auto snap = metrics.snapshot();
    // A producer faster than the ingest makes snapshots coalesce or shed instead of waiting.
    std::printf(
        "ingest through the queue (producer -> ingest thread): %zu messages in %.0f msg/s, "
        "%zu stored (%.0f msg/s), %llu coalesced, %llu shed, %llu batches, producer waited for "
        "room %llu times\n",
        n, static_cast<double>(n) / s, store.stored, static_cast<double>(store.stored) / s,
        static_cast<unsigned long long>(snap.states_coalesced),
        static_cast<unsigned long long>(snap.states_shed),
        static_cast<unsigned long long>(snap.batches),
        static_cast<unsigned long long>(snap.queue_waits));
  }
  {
    // The broker's backlog for the bridge: states of every device, one result, more states.
    const std::size_t backlog = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 50'000;
    const auto per_batch = std::chrono::milliseconds(argc > 3 ? std::atol(argv[3]) : 20);
    const std::size_t devices = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 10'000;
    auto input = make_input(backlog, devices);
    input.push_back(bridge::raw_message{protocol::topic("dev-100001", protocol::topic_kind::result),
                                        R"({"v":1,"id":"c-1","status":"ok","result":{}})",
                                        0,
                                        {}});
    const std::size_t result_index = input.size() - 1;
    for (auto& m : make_input(backlog, devices)) input.push_back(std::move(m));
    slow_store store(per_batch);
    bridge::bridge_metrics metrics;
    bridge::ingest in(bridge::ingest_settings{}, store, clock, metrics);
    bridge::ingest_queue queue(bridge::ingest_queue_limits{}, metrics, clock);
    std::thread consumer([&] { run_ingest(queue, in); });
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point pushed;
    std::chrono::steady_clock::time_point push_called;
    for (std::size_t i = 0; i < input.size(); ++i) {
      if (i == result_index) push_called = std::chrono::steady_clock::now();
      queue.push(std::move(input[i]));
      if (i == result_index) pushed = std::chrono::steady_clock::now();
    }
    const auto producer_done = std::chrono::steady_clock::now();
    queue.request_stop();
    consumer.join();
    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    auto snap = metrics.snapshot();
    std::printf(
        "overload (store sleeps %lld ms per batch; %zu devices: %zu states, 1 result, %zu "
        "states): result "
        "stored %.0f ms after the backlog began, %.0f ms after the producer reached it "
        "(its push took %.0f ms); producer done after %.0f ms; %zu messages stored, %llu "
        "coalesced, %llu shed, producer waited for room %llu times\n",
        static_cast<long long>(per_batch.count()), devices, backlog, backlog,
        ms(store.result_at - t0), ms(store.result_at - push_called), ms(pushed - push_called),
        ms(producer_done - t0), store.stored,
        static_cast<unsigned long long>(snap.states_coalesced),
        static_cast<unsigned long long>(snap.states_shed),
        static_cast<unsigned long long>(snap.queue_waits));
  }
  return 0;
}
