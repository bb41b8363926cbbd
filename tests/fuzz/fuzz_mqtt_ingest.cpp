// libFuzzer target for what the bridge does with MQTT messages from devices: topic parsing and
// the overload queue (ingest_queue: which topics name a device, coalescing of state snapshots),
// then ingest's decode against the topic's device id and batching into a store (the in-memory
// fake store of the bridge's tests). The input is messages separated by '\0', each
// "topic\npayload". The queue is made small so coalescing and shedding happen. Property checked
// beyond "no crash": every pushed message comes out of the queue, or is counted as coalesced or
// shed.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "aterm/bridge/ingest.h"
#include "aterm/bridge/metrics.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "fake_store.h"
#include "ingest_queue.h"

namespace {

namespace bridge = aterm::bridge;
namespace common = aterm::common;

bridge::raw_message message_of(std::string_view record, std::int64_t received_ms) {
  bridge::raw_message m;
  const auto nl = record.find('\n');
  m.topic = std::string(record.substr(0, nl));
  if (nl != std::string_view::npos) m.payload = std::string(record.substr(nl + 1));
  m.received_ms = received_ms;
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Log lines about bad input are still formatted (escaping is part of what is fuzzed), then
  // discarded.
  static const bool quiet = [] {
    common::set_log_sink([](std::string_view) {});
    return true;
  }();
  (void)quiet;
  common::manual_clock clock(common::from_unix_s(1'795'000'000));
  bridge::bridge_metrics metrics;
  bridge::ingest_queue_limits lim;
  lim.state_messages = 4;
  lim.state_bytes = 2048;
  lim.coalesce_from = 2;
  // Never reached by one input, so push never waits (this target has one thread).
  lim.urgent_messages = 1 << 20;
  lim.urgent_bytes = std::size_t{1} << 30;
  bridge::ingest_queue queue(lim, metrics, clock);
  bridge::test::fake_store store;
  bridge::ingest_settings is;
  is.batch_max = 3;
  bridge::ingest ing(is, store, clock, metrics);

  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::uint64_t pushed = 0, popped = 0;
  std::deque<bridge::raw_message> out;
  auto drain = [&](std::size_t max_states) {
    out.clear();
    queue.pop(out, std::chrono::nanoseconds(0), max_states);
    for (auto& m : out) {
      (void)common::protocol::parse_topic(m.topic);
      ing.accept(std::move(m));
      ++popped;
    }
  };
  while (!in.empty()) {
    const auto end = in.find('\0');
    queue.push(message_of(in.substr(0, end), common::to_unix_ms(clock.now())));
    ++pushed;
    clock.advance(std::chrono::milliseconds(7));
    if (pushed % 5 == 0) drain(2);
    if (end == std::string_view::npos) break;
    in.remove_prefix(end + 1);
  }
  drain(bridge::ingest_queue::k_all);
  ing.flush();
  if (popped + metrics.states_coalesced.load() + metrics.states_shed.load() != pushed) std::abort();
  return 0;
}
