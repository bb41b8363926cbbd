#include "aterm/bridge/ingest.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "aterm/bridge/limits.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "fake_store.h"
#include "ingest_queue.h"

namespace {

using namespace std::chrono_literals;
namespace protocol = aterm::common::protocol;
using aterm::bridge::bad_reason;
using aterm::bridge::bridge_metrics;
using aterm::bridge::ingest;
using aterm::bridge::ingest_settings;
using aterm::bridge::raw_message;
using aterm::bridge::test::fake_store;
using aterm::common::manual_clock;

const std::string k_dev = "dev-0001";

raw_message msg(const std::string& topic, std::string payload) {
  return raw_message{topic, std::move(payload), 0, {}};
}

std::string state_payload(int seq) {
  return R"({"v":1,"ts":1700000000,"seq":)" + std::to_string(seq) + R"(,"model":"WX3600"})";
}

std::string topic_of(const std::string& device, protocol::topic_kind kind) {
  return protocol::topic(device, kind);
}

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
  std::size_t count(const std::string& needle) const {
    std::size_t n = 0;
    for (const auto& l : g_lines) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
};

}  // namespace

TEST_CASE("a batch is applied when it reaches batch_max") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  ingest in(ingest_settings{3, 20ms, 60s}, store, clock, metrics);
  for (int i = 0; i < 7; ++i)
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(i)));
  CHECK(store.batch_sizes() == std::vector<std::size_t>{3, 3});
  CHECK(in.pending() == 1);
  CHECK(in.tick().has_value());  // not due yet: the clock did not move
  CHECK(store.batch_sizes().size() == 2);
  clock.advance(20ms);
  CHECK_FALSE(in.tick().has_value());
  CHECK(store.batch_sizes() == std::vector<std::size_t>{3, 3, 1});
  auto s = metrics.snapshot();
  CHECK(s.batches == 3);
  CHECK(s.batch_messages == 7);
  CHECK(s.batch_size_max == 3);
  CHECK(s.ingested[aterm::bridge::ingest_index(protocol::topic_kind::state)] == 7);
}

TEST_CASE("group commit: by default a lone result is committed at the next tick, no timer") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  ingest in(ingest_settings{}, store, clock, metrics);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::result),
                R"({"v":1,"id":"c-1","status":"ok","result":{}})"));
  CHECK_FALSE(in.tick().has_value());  // the clock did not move: nothing waits for it
  CHECK(store.batch_sizes() == std::vector<std::size_t>{1});
}

TEST_CASE("group commit: what arrives while a commit runs is the next batch, whole") {
  // The bridge's ingest loop (bridge.cpp run_ingest): pop what is queued, accept it, tick.
  // The store takes a while per commit; the broker keeps delivering meanwhile.
  manual_clock clock;
  bridge_metrics metrics;
  aterm::bridge::ingest_queue queue({}, metrics, clock);
  fake_store store;
  ingest in(ingest_settings{}, store, clock, metrics);
  store.during_next_commit([&] {
    for (int i = 0; i < 250; ++i) {
      queue.push(msg(topic_of("dev-" + std::to_string(1000 + i), protocol::topic_kind::state),
                     state_payload(i)));
    }
  });
  queue.push(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
  std::deque<raw_message> items;
  for (int turn = 0; turn < 3; ++turn) {
    queue.pop(items, 0ms, ingest_settings{}.batch_max);
    for (auto& m : items) in.accept(std::move(m));
    items.clear();
    CHECK_FALSE(in.tick().has_value());
  }
  CHECK(store.batch_sizes() == std::vector<std::size_t>{1, 250});
  CHECK(metrics.snapshot().batch_size_max == 250);
}

TEST_CASE("a batch_delay above 0 holds a batch that long after its first message, not later") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  ingest in(ingest_settings{1000, 20ms, 60s}, store, clock, metrics);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
  clock.advance(15ms);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(2)));
  auto due = in.tick();
  REQUIRE(due.has_value());
  CHECK(*due == clock.mono() + 5ms);  // measured from the first message
  clock.advance(4ms);
  CHECK(in.tick().has_value());
  CHECK(store.apply_calls() == 0);
  clock.advance(1ms);
  CHECK_FALSE(in.tick().has_value());
  CHECK(store.batch_sizes() == std::vector<std::size_t>{2});
  CHECK_FALSE(in.tick().has_value());  // empty: nothing due
  CHECK(store.apply_calls() == 1);
}

TEST_CASE("flush applies a partial batch and nothing when empty") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  ingest in(ingest_settings{}, store, clock, metrics);
  in.flush();
  CHECK(store.apply_calls() == 0);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::event),
                R"({"v":1,"ts":1700000000,"type":"boot"})"));
  in.flush();
  CHECK(store.batch_sizes() == std::vector<std::size_t>{1});
}

TEST_CASE("bad input of every kind is counted and dropped without reaching the store") {
  struct row {
    std::string name;
    std::string topic;
    std::string payload;
    bad_reason reason;
  };
  const std::string state_t = topic_of(k_dev, protocol::topic_kind::state);
  const std::string presence_t = topic_of(k_dev, protocol::topic_kind::presence);
  const std::string result_t = topic_of(k_dev, protocol::topic_kind::result);
  const std::string event_t = topic_of(k_dev, protocol::topic_kind::event);
  std::string huge = R"({"v":1,"ts":1,"seq":1,"model":")" + std::string(65 * 1024, 'x') + "\"}";
  const std::vector<row> rows = {
      {"malformed json", state_t, R"({"v":1,"ts":)", bad_reason::bad_json},
      {"not json at all", presence_t, "online", bad_reason::bad_json},
      {"empty payload", event_t, "", bad_reason::bad_json},
      {"trailing garbage", state_t, state_payload(1) + "x", bad_reason::bad_json},
      {"wrong type: online as string", presence_t,
       R"({"v":1,"online":"yes","agent":"1.0","ts":1700000000})", bad_reason::wrong_type},
      {"wrong type: seq as string", state_t, R"({"v":1,"ts":1700000000,"seq":"1"})",
       bad_reason::wrong_type},
      {"payload is an array", state_t, "[1,2]", bad_reason::bad_json},
      {"wrong type: v as string", state_t, R"({"v":"1","ts":1700000000,"seq":1})",
       bad_reason::wrong_type},
      {"unknown version", state_t, R"({"v":2,"ts":1700000000,"seq":1})", bad_reason::bad_version},
      {"missing version", state_t, R"({"ts":1700000000,"seq":1})", bad_reason::missing_field},
      {"version 1.5", state_t, R"({"v":1.5,"ts":1700000000,"seq":1})", bad_reason::wrong_type},
      {"65 KiB", state_t, huge, bad_reason::too_large},
      {"device_id differs from the topic", state_t,
       R"({"v":1,"ts":1700000000,"seq":1,"device_id":"dev-0002"})", bad_reason::id_mismatch},
      {"missing field", presence_t, R"({"v":1,"agent":"1.0","ts":1700000000})",
       bad_reason::missing_field},
      {"bad result status", result_t, R"({"v":1,"id":"c1","status":"great","result":{}})",
       bad_reason::bad_value},
      {"bad event type", event_t, R"({"v":1,"ts":1700000000,"type":"Boot Now"})",
       bad_reason::bad_value},
      {"invalid device id in topic", "aterm/v1/bad id!/state", state_payload(1),
       bad_reason::bad_topic},
      {"too short device id", "aterm/v1/ab/state", state_payload(1), bad_reason::bad_topic},
      {"wildcard device id", "aterm/v1/+/state", state_payload(1), bad_reason::bad_topic},
      {"unknown kind", "aterm/v1/dev-0001/config", state_payload(1), bad_reason::bad_topic},
      {"cmd topic", topic_of(k_dev, protocol::topic_kind::cmd), R"({"v":1,"id":"c1","op":"ping"})",
       bad_reason::bad_topic},
      {"other root", "aterm/v2/dev-0001/state", state_payload(1), bad_reason::bad_topic},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    fake_store store;
    manual_clock clock;
    bridge_metrics metrics;
    log_capture logs;
    ingest in(ingest_settings{}, store, clock, metrics);
    in.accept(msg(r.topic, r.payload));
    in.flush();
    CHECK(store.apply_calls() == 0);
    CHECK(store.stored() == 0);
    auto s = metrics.snapshot();
    CHECK(s.bad[static_cast<std::size_t>(r.reason)] == 1);
    std::uint64_t total = 0;
    for (auto b : s.bad) total += b;
    CHECK(total == 1);
    CHECK(logs.count("bad device message dropped") == 1);
    // The payload itself never reaches the log.
    if (r.payload.size() > 40) CHECK(logs.count(r.payload) == 0);
  }
}

TEST_CASE("bad input between good messages leaves the good ones and the batch intact") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  log_capture logs;
  ingest in(ingest_settings{}, store, clock, metrics);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), "{"));
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(2)));
  in.flush();
  CHECK(store.batch_sizes() == std::vector<std::size_t>{2});
  auto stored = store.messages();
  REQUIRE(stored.size() == 2);
  CHECK(std::get<protocol::state_snapshot>(stored[0].body).seq == 1);
  CHECK(std::get<protocol::state_snapshot>(stored[1].body).seq == 2);
  CHECK(stored[0].device_id == k_dev);
  CHECK(stored[0].payload == state_payload(1));
}

TEST_CASE("results for unknown or foreign commands are counted as dropped") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  log_capture logs;
  store.add_command("dev-0002", "c-foreign", 2'000'000'000);
  ingest in(ingest_settings{}, store, clock, metrics);
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::result),
                R"({"v":1,"id":"c-missing","status":"ok","result":{}})"));
  in.accept(msg(topic_of(k_dev, protocol::topic_kind::result),
                R"({"v":1,"id":"c-foreign","status":"ok","result":{}})"));
  in.flush();
  auto s = metrics.snapshot();
  CHECK(s.results_dropped == 2);
  CHECK(s.bad[static_cast<std::size_t>(bad_reason::unknown_command)] == 2);
  CHECK(s.ingested[aterm::bridge::ingest_index(protocol::topic_kind::result)] == 0);
  CHECK(store.command("c-foreign").state == aterm::bridge::test::command_state::queued);
}

TEST_CASE("bad input is logged at most once per device per interval") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  log_capture logs;
  ingest in(ingest_settings{1000, 20ms, 60s}, store, clock, metrics);
  const auto bad_a = msg(topic_of("dev-aaaa", protocol::topic_kind::state), "{");
  const auto bad_b = msg(topic_of("dev-bbbb", protocol::topic_kind::state), "{");
  for (int i = 0; i < 5; ++i) in.accept(bad_a);
  CHECK(logs.count("device=dev-aaaa") == 1);
  in.accept(bad_b);
  CHECK(logs.count("device=dev-bbbb") == 1);
  clock.advance(59s);
  in.accept(bad_a);
  CHECK(logs.count("device=dev-aaaa") == 1);
  clock.advance(1s);
  in.accept(bad_a);
  REQUIRE(logs.count("device=dev-aaaa") == 2);
  CHECK(g_lines.back().find("suppressed=5") != std::string::npos);
  CHECK(metrics.snapshot().bad[static_cast<std::size_t>(bad_reason::bad_json)] == 8);
}

TEST_CASE("a failing store is retried, then the batch is dropped and counted") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  log_capture logs;
  ingest in(ingest_settings{}, store, clock, metrics);
  SUBCASE("one failure: the retry stores it") {
    store.fail_next_batches(1);
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
    in.flush();
    CHECK(store.stored() == 1);
    CHECK(metrics.snapshot().store_failures == 1);
    CHECK(metrics.snapshot().store_lost == 0);
  }
  SUBCASE("every attempt fails: dropped, and the next batch is stored") {
    store.fail_next_batches(100);
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
    in.flush();
    CHECK(store.stored() == 0);
    CHECK(metrics.snapshot().store_lost == 1);
    store.fail_next_batches(0);
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(2)));
    in.flush();
    CHECK(store.stored() == 1);
  }
  SUBCASE("an unavailable store: the batch is kept past the attempts until it is stored") {
    // One more failure than a refused batch gets (real waits: 0.1 + 0.2 + 0.4 + 0.8 s).
    const int failures = aterm::bridge::limits::k_store_attempts + 1;
    store.fail_next_batches(failures, aterm::bridge::k_store_unavailable);
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
    in.flush();
    CHECK(store.stored() == 1);
    CHECK(metrics.snapshot().store_failures == static_cast<std::uint64_t>(failures));
    CHECK(metrics.snapshot().store_lost == 0);
    CHECK(logs.count("store unavailable, batch kept") == static_cast<std::size_t>(failures));
  }
  SUBCASE("an unavailable store when the bridge stops: the batch in hand is dropped") {
    store.fail_next_batches(100, aterm::bridge::k_store_unavailable);
    in.abandon_waits();
    in.accept(msg(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
    in.flush();
    CHECK(store.stored() == 0);
    CHECK(metrics.snapshot().store_failures == 1);
    CHECK(metrics.snapshot().store_lost == 1);
  }
}

TEST_CASE("devices that came online in a batch are handed to the dispatcher") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  std::vector<std::vector<std::string>> calls;
  ingest in(ingest_settings{}, store, clock, metrics,
            [&](std::vector<std::string> d) { calls.push_back(std::move(d)); });
  const auto online = [](bool on) {
    return std::string(R"({"v":1,"online":)") + (on ? "true" : "false") +
           R"(,"agent":"1.0","ts":1700000000})";
  };
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::presence), online(true)));
  in.accept(msg(topic_of("dev-bbbb", protocol::topic_kind::state), state_payload(1)));
  in.flush();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0] == std::vector<std::string>{"dev-aaaa"});
  // Already online in the store (no transition), but it reconnected: still handed over.
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::presence), online(true)));
  in.flush();
  REQUIRE(calls.size() == 2);
  CHECK(calls[1] == std::vector<std::string>{"dev-aaaa"});
  // Offline: nothing to publish.
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::presence), online(false)));
  in.flush();
  CHECK(calls.size() == 2);
  CHECK_FALSE(store.online("dev-aaaa"));
}

TEST_CASE("devices seen online whose state ingest has not seen are handed over for a refresh") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  std::vector<std::vector<std::string>> calls;
  ingest in(ingest_settings{}, store, clock, metrics, {},
            [&](std::vector<std::string> d) { calls.push_back(std::move(d)); });
  const auto presence = [](bool on) {
    return std::string(R"({"v":1,"online":)") + (on ? "true" : "false") +
           R"(,"agent":"1.0","ts":1700000000})";
  };
  const auto event = R"({"v":1,"ts":1700000000,"type":"boot"})";
  const auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  // Presence online, any other message, and a state: only the state's device is known.
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::presence), presence(true)));
  in.accept(msg(topic_of("dev-bbbb", protocol::topic_kind::event), event));
  in.accept(msg(topic_of("dev-cccc", protocol::topic_kind::state), state_payload(1)));
  // Online then offline within the batch: gone again, nothing to ask.
  in.accept(msg(topic_of("dev-dddd", protocol::topic_kind::event), event));
  in.accept(msg(topic_of("dev-dddd", protocol::topic_kind::presence), presence(false)));
  in.flush();
  REQUIRE(calls.size() == 1);
  CHECK(sorted(calls[0]) == std::vector<std::string>{"dev-aaaa", "dev-bbbb"});
  // Once a device's state went through a batch, it is not handed over again.
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::state), state_payload(2)));
  in.flush();
  in.accept(msg(topic_of("dev-aaaa", protocol::topic_kind::presence), presence(true)));
  in.accept(msg(topic_of("dev-cccc", protocol::topic_kind::event), event));
  in.flush();
  CHECK(calls.size() == 1);
  in.accept(msg(topic_of("dev-bbbb", protocol::topic_kind::presence), presence(true)));
  in.flush();
  REQUIRE(calls.size() == 2);
  CHECK(calls[1] == std::vector<std::string>{"dev-bbbb"});
  // Bad input proves nothing and a failed batch hands nothing over.
  in.accept(msg(topic_of("dev-eeee", protocol::topic_kind::presence), "{bad"));
  in.flush();
  store.fail_next_batches(3);
  in.accept(msg(topic_of("dev-ffff", protocol::topic_kind::presence), presence(true)));
  in.flush();
  CHECK(calls.size() == 2);
}

TEST_CASE("ingest throughput with a fake store (figure, not a pass/fail timing)") {
  fake_store store;
  bridge_metrics metrics;
  auto& clock = aterm::common::system_clock::instance();
  ingest in(ingest_settings{}, store, clock, metrics);
  constexpr int k_n = 200'000;
  std::vector<raw_message> input;
  input.reserve(k_n);
  for (int i = 0; i < k_n; ++i) {
    input.push_back(
        msg(topic_of("dev-" + std::to_string(10000 + i % 1000), protocol::topic_kind::state),
            state_payload(i)));
  }
  auto t0 = std::chrono::steady_clock::now();
  for (auto& m : input) in.accept(std::move(m));
  in.flush();
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(store.stored() == static_cast<std::size_t>(k_n));
  CHECK(metrics.snapshot().batches == k_n / 1000);
  MESSAGE("ingest (decode + batch + fake store): " << static_cast<long>(k_n / secs) << " msg/s");
}

TEST_CASE("retained state, result and event are dropped, a retained presence is applied") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  ingest in(ingest_settings{}, store, clock, metrics);
  auto retained = [](const std::string& topic, std::string payload) {
    auto m = msg(topic, std::move(payload));
    m.retained = true;
    return m;
  };
  in.accept(retained(topic_of(k_dev, protocol::topic_kind::state), state_payload(1)));
  in.accept(retained(topic_of(k_dev, protocol::topic_kind::result),
                     R"({"v":1,"id":"c-1","status":"ok","result":{}})"));
  in.accept(retained(topic_of(k_dev, protocol::topic_kind::event),
                     R"({"v":1,"ts":1700000000,"type":"boot"})"));
  in.accept(retained(topic_of(k_dev, protocol::topic_kind::presence),
                     R"({"v":1,"online":true,"agent":"1.0","ts":1700000000})"));
  CHECK(in.pending() == 1);
  in.flush();
  auto s = metrics.snapshot();
  CHECK(s.bad[static_cast<std::size_t>(bad_reason::retained)] == 3);
  CHECK(s.ingested[aterm::bridge::ingest_index(protocol::topic_kind::presence)] == 1);
  CHECK(aterm::bridge::to_string(bad_reason::retained) == "retained");
}

TEST_CASE("a lost broker link: the batch goes first, then online devices become unknown") {
  fake_store store;
  manual_clock clock;
  bridge_metrics metrics;
  std::vector<std::string> state_unknown;
  ingest in(ingest_settings{1000, 20ms, 60s}, store, clock, metrics, {},
            [&](std::vector<std::string> d) {
              state_unknown.insert(state_unknown.end(), d.begin(), d.end());
            });
  const std::string presence_t = topic_of(k_dev, protocol::topic_kind::presence);
  const std::string online = R"({"v":1,"online":true,"agent":"1.0","ts":1700000000})";
  in.accept(raw_message{presence_t, online, 1'000, {}});
  in.accept(raw_message{topic_of(k_dev, protocol::topic_kind::state), state_payload(1), 1'000, {}});
  in.accept(raw_message{topic_of("dev-0002", protocol::topic_kind::presence), online, 1'000, {}});
  raw_message lost;
  lost.link_lost = true;
  lost.received_ms = 2'000;
  in.accept(std::move(lost));
  // The batch received before the loss was applied first, then the presence was unvouched.
  CHECK(store.batch_sizes() == std::vector<std::size_t>{3});
  CHECK(store.unvouched_calls() == 1);
  CHECK(store.unknown(k_dev));
  CHECK(store.unknown("dev-0002"));
  CHECK_FALSE(store.online(k_dev));
  CHECK(metrics.snapshot().presence_unvouched == 2);
  // The broker replays the retained presence after the reconnect: online again, and the state
  // seen before the loss no longer counts, so the dispatcher is asked about it.
  state_unknown.clear();
  in.accept(raw_message{presence_t, online, 3'000, {}, true});
  in.flush();
  CHECK(store.online(k_dev));
  CHECK_FALSE(store.unknown(k_dev));
  CHECK(state_unknown == std::vector<std::string>{k_dev});
}
