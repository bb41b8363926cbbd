// Ingest figures of the bridge alone (the broker is measured by tests/bench/ingest): messages/s
// that the ingest decodes, batches and applies to an in-memory store, first on one thread,
// then through the bounded queue from a producer thread (as Paho's receive thread feeds it) to
// a consumer running the same loop as the bridge's ingest thread. Prints figures only.
//
//   bench_bridge_ingest [MESSAGES]    default 500000
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

// A store that only counts: the figure is the bridge's cost, not the fake's bookkeeping.
class counting_store final : public bridge::store_port {
 public:
  aterm::common::result<bridge::batch_outcome> apply_batch(
      std::span<const bridge::device_message> batch) override {
    stored += batch.size();
    return bridge::batch_outcome{};
  }
  aterm::common::result<std::vector<bridge::outbound_command>> due_commands(const std::string&,
                                                                            std::int64_t,
                                                                            std::size_t) override {
    return std::vector<bridge::outbound_command>{};
  }
  aterm::common::result<std::vector<bridge::outbound_command>> queued_for_online(
      std::int64_t, std::size_t) override {
    return std::vector<bridge::outbound_command>{};
  }
  aterm::common::status mark_sent(std::span<const std::string>, std::int64_t) override {
    return {};
  }
  aterm::common::result<std::size_t> expire_overdue(std::int64_t) override {
    return std::size_t{0};
  }
  std::size_t stored = 0;
};

std::vector<bridge::raw_message> make_input(std::size_t n) {
  std::vector<bridge::raw_message> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string id = "dev-" + std::to_string(100000 + i % 10000);
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
    bridge::ingest_queue queue(bridge::limits::k_ingest_queue_messages,
                               bridge::limits::k_ingest_queue_bytes, metrics);
    auto t0 = std::chrono::steady_clock::now();
    std::thread consumer([&] {
      std::deque<bridge::raw_message> items;
      while (true) {
        const bool stop = queue.pop_all(items, 100ms);
        for (auto& m : items) in.accept(std::move(m));
        items.clear();
        in.tick();
        if (stop) {
          in.flush();
          return;
        }
      }
    });
    for (auto& m : input) queue.push(std::move(m));
    queue.request_stop();
    consumer.join();
    const double s = seconds_since(t0);
    auto snap = metrics.snapshot();
    std::printf(
        "ingest through the queue (producer -> ingest thread): %zu messages, %.0f msg/s, "
        "%llu batches, producer waited for room %llu times\n",
        store.stored, static_cast<double>(n) / s, static_cast<unsigned long long>(snap.batches),
        static_cast<unsigned long long>(snap.queue_waits));
  }
  return 0;
}
