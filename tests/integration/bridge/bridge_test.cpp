#include "aterm/bridge/bridge.h"

#include <doctest/doctest.h>
#include <mqtt/async_client.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"
#include "aterm/common/tcp_nodelay.h"
#include "aterm/test/support.h"
#include "fake_store.h"

namespace {

using namespace std::chrono_literals;
namespace t = aterm::test;
namespace protocol = aterm::common::protocol;
using aterm::bridge::bad_reason;
using aterm::bridge::bridge;
using aterm::bridge::bridge_config;
using aterm::bridge::test::command_state;
using aterm::bridge::test::fake_store;
using protocol::topic_kind;

// Paho refuses to queue more publishes than this; the throughput test queues thousands.
constexpr int k_max_buffered = 100'000;

std::int64_t now_s() {
  return aterm::common::system_clock::instance().now_s();
}

std::string presence_json(bool online) {
  return std::string(R"({"v":1,"online":)") + (online ? "true" : "false") +
         R"(,"agent":"test","ts":)" + std::to_string(now_s()) + "}";
}
std::string state_json(std::int64_t seq) {
  return R"({"v":1,"ts":)" + std::to_string(now_s()) + R"(,"seq":)" + std::to_string(seq) +
         R"(,"model":"WX3600HP","wan":{"ip":"192.0.2.1","up":true}})";
}
std::string result_json(const std::string& id, const char* status = "ok") {
  return R"({"v":1,"id":")" + id + R"(","status":")" + status + R"(","result":{}})";
}

// A router as the broker sees it: its own certificate, its own topics, a Last Will.
class device_client {
 public:
  device_client(const t::broker& b, const t::dev_pki& pki, std::string id)
      : id_(std::move(id)),
        client_(b.uri(), id_, mqtt::create_options(MQTTVERSION_3_1_1, k_max_buffered)) {
    auto [cert, key] = pki.device(id_);
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(pki.ca().string())
                   .key_store(cert.string())
                   .private_key(key.string())
                   .enable_server_cert_auth(true)
                   .finalize();
    mqtt::will_options will(protocol::topic(id_, topic_kind::presence), presence_json(false), 1,
                            true);
    options_ = mqtt::connect_options_builder()
                   .clean_session(true)
                   .mqtt_version(MQTTVERSION_3_1_1)
                   .ssl(std::move(ssl))
                   .will(std::move(will))
                   .finalize();
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lk(mu_);
      cmds_.push_back(m->get_payload_str());
    });
  }
  ~device_client() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }
  const std::string& id() const { return id_; }

  // Connects, subscribes to its cmd topic and announces itself online (retained).
  void come_online() { REQUIRE(try_come_online()); }
  bool try_come_online() {
    try {
      if (!client_.connect(options_)->wait_for(10s)) return false;
      if (!client_.subscribe(protocol::topic(id_, topic_kind::cmd), 1)->wait_for(10s)) {
        return false;
      }
      const auto p = presence_json(true);
      return client_
          .publish(protocol::topic(id_, topic_kind::presence), p.data(), p.size(), 1, true)
          ->wait_for(10s);
    } catch (const mqtt::exception&) {
      return false;
    }
  }
  // Announces itself offline (retained) and disconnects, as the agent does on shutdown.
  void go_offline() {
    publish(topic_kind::presence, presence_json(false), true);
    client_.disconnect()->wait_for(10s);
  }
  void publish(topic_kind kind, const std::string& payload, bool retain = false) {
    publish_raw(protocol::topic(id_, kind), payload, retain);
  }
  void publish_raw(const std::string& topic, const std::string& payload, bool retain = false) {
    REQUIRE(client_.publish(topic, payload.data(), payload.size(), 1, retain)->wait_for(10s));
  }
  mqtt::async_client& paho() { return client_; }

  // How often the command `id` arrived.
  int received(const std::string& id) {
    std::lock_guard lk(mu_);
    int n = 0;
    for (const auto& p : cmds_) {
      auto c = protocol::decode_command(p, id_);
      if (c && c->id == id) ++n;
    }
    return n;
  }

 private:
  std::string id_;
  mqtt::async_client client_;
  mqtt::connect_options options_;
  std::mutex mu_;
  std::vector<std::string> cmds_;
};

struct stack {
  t::temp_dir dir{"aterm-bridge"};
  t::dev_pki pki{dir.path() / "pki"};
  t::broker broker{pki};
  fake_store store;

  bridge_config config(bool shared = false) const {
    bridge_config c;
    c.uri = broker.uri();
    c.ca = pki.ca().string();
    c.cert = pki.cloud_cert().string();
    c.key = pki.cloud_key().string();
    c.shared_subscription = shared;
    c.dispatch_poll = 200ms;
    c.reconnect_min = 100ms;
    c.reconnect_max = 1s;
    return c;
  }
  std::unique_ptr<bridge> start_bridge(bool shared = false) {
    auto b =
        std::make_unique<bridge>(config(shared), store, aterm::common::system_clock::instance());
    REQUIRE(b->start().ok());
    REQUIRE(t::wait_until([&] { return b->metrics().connected; }, 20s));
    return b;
  }
};

// Waits until count() reaches `total`, for as long as it keeps growing (a loaded machine is
// slow, a lost message never comes): false when it stalled for 10 s first.
bool wait_while_progressing(const std::function<std::size_t()>& count, std::size_t total) {
  std::size_t last = 0;
  while (true) {
    if (t::wait_until([&] { return count() >= total; }, 10s)) return true;
    const std::size_t now = count();
    if (now == last) return false;
    last = now;
  }
}

std::uint64_t bad(const aterm::bridge::metrics_snapshot& s, bad_reason r) {
  return s.bad[static_cast<std::size_t>(r)];
}

}  // namespace

TEST_CASE("state, presence, result and event reach the store in batches") {
  stack s;
  // The first commit (the device's presence) is held until the event and the result queued up
  // behind it: the next batch then holds both, however fast the store commits. Batching must not
  // depend on the store being slower than the messages arrive.
  std::promise<void> queued;
  auto release = queued.get_future();
  s.store.during_next_commit([&] { release.wait_for(20s); });
  auto b = s.start_bridge();
  device_client dev(s.broker, s.pki, "dev-batch-01");
  dev.come_online();
  s.store.add_command(dev.id(), "c-1", now_s() + 300);
  dev.publish(topic_kind::event, R"({"v":1,"ts":1800000000,"type":"boot"})");
  dev.publish(topic_kind::result, result_json("c-1"));
  const bool held = t::wait_until([&] { return b->metrics().received >= 3; }, 20s);
  const std::size_t stored_while_held = s.store.stored();
  queued.set_value();
  REQUIRE(held);
  CHECK(stored_while_held == 0);  // the presence's commit was still held
  constexpr int k_states = 200;
  for (int i = 0; i < k_states; ++i) {
    dev.paho().publish(protocol::topic(dev.id(), topic_kind::state), state_json(i), 1, false);
  }
  // A snapshot replaced by its device's newer one while queued is handled, not stored.
  REQUIRE(t::wait_until(
      [&] {
        return s.store.stored(topic_kind::state) + b->metrics().states_coalesced ==
               static_cast<std::size_t>(k_states);
      },
      20s));
  CHECK(s.store.stored(topic_kind::presence) == 1);
  CHECK(s.store.stored(topic_kind::event) == 1);
  CHECK(s.store.command("c-1").state == command_state::succeeded);
  CHECK(s.store.online(dev.id()));
  auto m = b->metrics();
  CHECK(m.batch_messages == s.store.stored());
  CHECK(m.batches < m.batch_messages);  // batched, not one transaction per message
  CHECK(m.batch_size_max > 1);
  // States of one device keep their order, and the newest is stored.
  std::int64_t last = -1;
  for (const auto& msg : s.store.messages()) {
    if (msg.kind != topic_kind::state) continue;
    auto seq = std::get<protocol::state_snapshot>(msg.body).seq;
    CHECK(seq > last);
    last = seq;
  }
  CHECK(last == k_states - 1);
  b->stop();
  CHECK_FALSE(b->metrics().connected);
}

TEST_CASE(
    "a command is delivered when its device comes online, again on every reconnect "
    "until its final result, and never after") {
  stack s;
  auto b = s.start_bridge();
  device_client dev(s.broker, s.pki, "dev-cmd-0001");
  s.store.add_command(dev.id(), "c-1", now_s() + 300);
  b->notify_command(dev.id());  // offline: nothing goes out

  dev.come_online();
  REQUIRE(t::wait_until([&] { return dev.received("c-1") == 1; }, 10s));
  REQUIRE(t::wait_until([&] { return s.store.command("c-1").state == command_state::sent; }));

  dev.go_offline();
  REQUIRE(t::wait_until([&] { return !s.store.online(dev.id()); }));
  dev.come_online();
  REQUIRE(t::wait_until([&] { return dev.received("c-1") == 2; }, 10s));

  dev.publish(topic_kind::result, result_json("c-1", "progress"));
  dev.publish(topic_kind::result, result_json("c-1", "ok"));
  REQUIRE(t::wait_until([&] { return s.store.command("c-1").state == command_state::succeeded; }));

  dev.go_offline();
  REQUIRE(t::wait_until([&] { return !s.store.online(dev.id()); }));
  dev.come_online();
  // A later command is the barrier: once it arrived, a re-publish of c-1 would have too.
  s.store.add_command(dev.id(), "c-2", now_s() + 300);
  b->notify_command(dev.id());
  REQUIRE(t::wait_until([&] { return dev.received("c-2") == 1; }, 10s));
  CHECK(dev.received("c-1") == 2);
  CHECK(s.store.command("c-1").attempts == 2);
  CHECK(b->metrics().commands_published >= 3);
}

TEST_CASE("stop applies the messages already received, the last partial batch included") {
  stack s;
  auto cfg = s.config();
  cfg.batch_delay = 60s;  // only stop() can apply them
  auto b = std::make_unique<bridge>(cfg, s.store, aterm::common::system_clock::instance());
  REQUIRE(b->start().ok());
  REQUIRE(t::wait_until([&] { return b->metrics().connected; }, 20s));
  device_client dev(s.broker, s.pki, "dev-drain-01");
  dev.come_online();
  for (int i = 0; i < 3; ++i) dev.publish(topic_kind::state, state_json(i));
  REQUIRE(t::wait_until([&] { return b->metrics().received == 4; }));
  CHECK(s.store.stored() == 0);
  b->stop();
  CHECK(s.store.stored() == 4);
  CHECK(s.store.batch_sizes() == std::vector<std::size_t>{4});
  b->stop();  // idempotent
}

TEST_CASE("a command for an online device goes out on notify, without waiting for the poll") {
  stack s;
  auto cfg_bridge = std::make_unique<bridge>(
      [&] {
        auto c = s.config();
        c.dispatch_poll = 60s;  // so only notify_command can explain a prompt delivery
        return c;
      }(),
      s.store, aterm::common::system_clock::instance());
  REQUIRE(cfg_bridge->start().ok());
  REQUIRE(t::wait_until([&] { return cfg_bridge->metrics().connected; }, 20s));
  device_client dev(s.broker, s.pki, "dev-notify-01");
  dev.come_online();
  REQUIRE(t::wait_until([&] { return s.store.online(dev.id()); }));
  auto t0 = std::chrono::steady_clock::now();
  s.store.add_command(dev.id(), "c-now", now_s() + 300);
  cfg_bridge->notify_command(dev.id());
  REQUIRE(t::wait_until([&] { return dev.received("c-now") == 1; }, 10s, 1ms));
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
  MESSAGE("notify -> device received: " << ms.count() << " ms");
}

TEST_CASE("hostile payloads are counted and change nothing") {
  stack s;
  auto b = s.start_bridge();
  device_client dev(s.broker, s.pki, "dev-hostile-1");
  device_client other(s.broker, s.pki, "dev-victim-01");
  other.come_online();
  dev.come_online();
  s.store.add_command(other.id(), "c-victim", now_s() + 300);
  REQUIRE(t::wait_until([&] { return other.received("c-victim") == 1; }, 10s));
  REQUIRE(t::wait_until([&] { return s.store.stored() == 2; }));

  dev.publish(topic_kind::state, "{\"v\":1,");
  dev.publish(topic_kind::state, R"({"v":1,"ts":"now","seq":1})");
  dev.publish(topic_kind::state, R"({"v":7,"ts":1,"seq":1})");
  dev.publish(topic_kind::state, R"({"v":1,"ts":1,"seq":1,"device_id":"dev-victim-01"})");
  dev.publish(topic_kind::presence, R"({"v":1,"online":1,"agent":"x","ts":1})");
  dev.publish(topic_kind::result, result_json("c-victim"));  // another device's command
  dev.publish(topic_kind::result, result_json("c-none"));    // no such command
  dev.publish(topic_kind::event, R"({"v":1,"ts":1,"type":"boot","n":)" + std::string(1000, '[') +
                                     std::string(1000, ']') + "}");
  // Through the broker's ACL: another device's topics and the cmd topic get nothing through.
  dev.publish_raw(protocol::topic(other.id(), topic_kind::state), state_json(99));
  dev.publish_raw(protocol::topic(other.id(), topic_kind::result), result_json("c-victim"));
  // Over the broker's 64 KiB limit.
  dev.publish(topic_kind::state,
              R"({"v":1,"ts":1,"seq":1,"model":")" + std::string(70 * 1024, 'x') + "\"}");
  // The barrier: a good message after all of them.
  dev.publish(topic_kind::state, state_json(1));
  REQUIRE(t::wait_until([&] { return s.store.stored(topic_kind::state) == 1; }));
  REQUIRE(t::wait_until([&] { return b->metrics().results_dropped == 2; }));

  auto m = b->metrics();
  CHECK(bad(m, bad_reason::bad_json) == 2);  // truncated, and nested past the depth bound
  CHECK(bad(m, bad_reason::wrong_type) == 2);
  CHECK(bad(m, bad_reason::bad_version) == 1);
  CHECK(bad(m, bad_reason::id_mismatch) == 1);
  CHECK(bad(m, bad_reason::unknown_command) == 2);
  CHECK(s.store.command("c-victim").state == command_state::sent);
  for (const auto& msg : s.store.messages()) {
    if (msg.kind == topic_kind::state) CHECK(msg.device_id == dev.id());
    if (msg.kind == topic_kind::state) CHECK(std::get<protocol::state_snapshot>(msg.body).seq == 1);
  }
  CHECK(s.store.stored() == 2 + 1 + 2);  // the presences, the good state, the refused results
  CHECK(m.connected);
}

TEST_CASE("the bridge reconnects after a broker restart and re-publishes unfinished commands") {
  stack s;
  auto b = s.start_bridge();
  device_client dev(s.broker, s.pki, "dev-restart-1");
  dev.come_online();
  s.store.add_command(dev.id(), "c-1", now_s() + 300);
  b->notify_command(dev.id());
  REQUIRE(t::wait_until([&] { return dev.received("c-1") == 1; }, 10s));

  s.broker.stop();
  REQUIRE(t::wait_until([&] { return !b->metrics().connected; }, 20s));
  s.broker.start();
  REQUIRE(t::wait_until([&] { return b->metrics().connected; }, 20s));
  CHECK(b->metrics().connects == 2);
  CHECK(b->metrics().connection_losses == 1);
  // The device reconnects on its own schedule; once it is back, c-1 comes again.
  REQUIRE(t::wait_until([&] { return dev.try_come_online(); }, 10s, 100ms));
  REQUIRE(t::wait_until([&] { return dev.received("c-1") >= 2; }, 10s));
  dev.publish(topic_kind::state, state_json(5));
  REQUIRE(t::wait_until([&] { return s.store.stored(topic_kind::state) == 1; }));
}

TEST_CASE("shared subscriptions: several instances can split device traffic") {
  stack s;
  auto b = s.start_bridge(true);
  device_client dev(s.broker, s.pki, "dev-shared-01");
  dev.come_online();
  dev.publish(topic_kind::state, state_json(1));
  REQUIRE(t::wait_until([&] { return s.store.stored(topic_kind::state) == 1; }));
  s.store.add_command(dev.id(), "c-1", now_s() + 300);
  b->notify_command(dev.id());
  REQUIRE(t::wait_until([&] { return dev.received("c-1") == 1; }, 10s));
}

TEST_CASE("a shared instance learns the retained presence of devices that came online before it") {
  // A broker gives retained messages to no $share subscription: presence is not shared.
  stack s;
  device_client dev(s.broker, s.pki, "dev-shared-early");
  dev.come_online();
  auto b = s.start_bridge(true);
  CHECK(t::wait_until([&] { return s.store.online(dev.id()); }, 10s));
}

TEST_CASE(
    "two bridges with their own cloud identities share the load without disconnecting each "
    "other and each message is stored once") {
  stack s;
  // A second instance's identity (DESIGN.md section 8); the broker learns it at its next start.
  auto [cert_b, key_b] = s.pki.cloud("aterm-cloud-b");
  s.broker.stop();
  s.broker.start();
  auto a = s.start_bridge(true);
  auto cfg_b = s.config(true);
  cfg_b.cert = cert_b.string();
  cfg_b.key = key_b.string();
  REQUIRE(cfg_b.client_id == "aterm-cloud");  // both send the same id; the broker uses the CN
  auto b = std::make_unique<bridge>(cfg_b, s.store, aterm::common::system_clock::instance());
  REQUIRE(b->start().ok());
  REQUIRE(t::wait_until([&] { return b->metrics().connected; }, 20s));

  constexpr int k_devices = 8;
  constexpr int k_per_device = 50;
  std::vector<std::unique_ptr<device_client>> devices;
  for (int i = 0; i < k_devices; ++i) {
    devices.push_back(
        std::make_unique<device_client>(s.broker, s.pki, "dev-share-" + std::to_string(i)));
    devices.back()->come_online();
  }
  for (int n = 0; n < k_per_device; ++n) {
    for (auto& d : devices) {
      d->paho().publish(protocol::topic(d->id(), topic_kind::state), state_json(n), 1, false);
    }
  }
  const std::size_t total = k_devices * k_per_device;
  REQUIRE(wait_while_progressing([&] { return s.store.stored(topic_kind::state); }, total));
  const auto ma = a->metrics();
  const auto mb = b->metrics();
  // Neither took the other's session over.
  for (const auto& m : {ma, mb}) {
    CHECK(m.connected);
    CHECK(m.connects == 1);
    CHECK(m.connection_losses == 0);
  }
  // stop() stores everything each instance received: a copy delivered to both would be here.
  a->stop();
  b->stop();
  std::set<std::pair<std::string, std::int64_t>> unique;
  for (const auto& msg : s.store.messages()) {
    if (msg.kind != topic_kind::state) continue;
    unique.emplace(msg.device_id, std::get<protocol::state_snapshot>(msg.body).seq);
  }
  CHECK(s.store.stored(topic_kind::state) == total);
  CHECK(unique.size() == total);
  const auto state = aterm::bridge::ingest_index(topic_kind::state);
  const auto na = a->metrics().ingested[state];
  const auto nb = b->metrics().ingested[state];
  MESSAGE("states ingested: instance a " << na << ", instance b " << nb);
  CHECK(na + nb == total);
  CHECK(na > 0);
  CHECK(nb > 0);
}

TEST_CASE(
    "a device whose snapshot went out before the bridge's first subscription gets one "
    "state.refresh") {
  stack s;
  device_client dev(s.broker, s.pki, "dev-early-01");
  // The router was up first: its retained presence waits in the broker, its snapshot is gone.
  dev.come_online();
  dev.publish(topic_kind::state, state_json(1));
  auto b = s.start_bridge();
  REQUIRE(t::wait_until([&] { return s.store.online(dev.id()); }));
  REQUIRE(t::wait_until([&] { return s.store.commands_of("state.refresh").size() == 1; }));
  const auto refresh = s.store.commands_of("state.refresh")[0];
  CHECK(refresh.device_id == dev.id());
  CHECK(refresh.created_by == "system");
  REQUIRE(t::wait_until([&] { return dev.received(refresh.id) == 1; }, 10s));
  // The device may see the command before the bridge has its PUBACK and marks it sent.
  CHECK(t::wait_until([&] { return s.store.command(refresh.id).state == command_state::sent; }));
  CHECK(b->metrics().state_refreshes == 1);
  // The agent answers with a snapshot and the result.
  dev.publish(topic_kind::state, state_json(2));
  dev.publish(topic_kind::result, result_json(refresh.id));
  REQUIRE(t::wait_until([&] { return s.store.stored(topic_kind::state) == 1; }));
  REQUIRE(
      t::wait_until([&] { return s.store.command(refresh.id).state == command_state::succeeded; }));
  // Reconnects of a device with state ask for nothing; a later command is the barrier.
  dev.go_offline();
  REQUIRE(t::wait_until([&] { return !s.store.online(dev.id()); }));
  dev.come_online();
  REQUIRE(t::wait_until([&] { return s.store.online(dev.id()); }));
  s.store.add_command(dev.id(), "c-after", now_s() + 300);
  b->notify_command(dev.id());
  REQUIRE(t::wait_until([&] { return dev.received("c-after") == 1; }, 10s));
  CHECK(s.store.commands_of("state.refresh").size() == 1);
  CHECK(dev.received(refresh.id) == 1);
  CHECK(b->metrics().state_refreshes == 1);
}

TEST_CASE("throughput through the broker: bridge with fake store vs a plain subscriber") {
  // Few devices, many messages each: every device's certificate costs a `dev-pki device` run
  // (about 1.5 s on a loaded CI machine), the messages are what is measured.
  constexpr int k_devices = 10;
  constexpr int k_per_device = 1000;
  constexpr int k_total = k_devices * k_per_device;
  // Publishes in flight per device. Mosquitto drops QoS 1 messages past a subscriber's
  // max_queued_messages (100,000 here), so the fleet as a whole stays well below it.
  constexpr std::size_t k_window = 100;
  constexpr std::int64_t k_backlog = 4000;
  stack s;
  std::vector<std::unique_ptr<device_client>> devices;
  for (int i = 0; i < k_devices; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "dev-load-%04d", i);
    devices.push_back(std::make_unique<device_client>(s.broker, s.pki, id));
  }
  std::atomic<int> publish_errors{0};
  std::atomic<std::int64_t> published{0};
  // Every device publishes as fast as the subscriber keeps up: Mosquitto acknowledges a
  // publish on receipt and drops QoS 1 messages past a subscriber's max_queued_messages
  // (10,000 here), so the fleet keeps at most k_backlog messages ahead of `received`.
  auto blast = [&](std::int64_t base, const std::function<std::int64_t()>& received) {
    published.store(0);
    std::vector<std::thread> threads;
    for (auto& d : devices) {
      threads.emplace_back([&, base] {
        std::deque<mqtt::delivery_token_ptr> window;
        const auto topic = protocol::topic(d->id(), topic_kind::state);
        try {
          for (int i = 0; i < k_per_device; ++i) {
            while (published.load() - received() > k_backlog) {
              std::this_thread::sleep_for(200us);  // pacing the load, not synchronising
            }
            if (window.size() >= k_window) {
              window.front()->wait_for(60s);
              window.pop_front();
            }
            window.push_back(d->paho().publish(topic, state_json(base + i), 1, false));
            published.fetch_add(1);
          }
          for (auto& tok : window) tok->wait_for(60s);
        } catch (const mqtt::exception&) {
          publish_errors.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
  };
  for (auto& d : devices) d->come_online();

  // 1. A plain Paho subscriber with the cloud's identity that only counts.
  double plain_rate = 0;
  {
    std::atomic<int> seen{0};
    std::chrono::steady_clock::time_point last;
    std::mutex mu;
    mqtt::async_client sub(s.broker.uri(), "aterm-cloud");
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(s.pki.ca().string())
                   .key_store(s.pki.cloud_cert().string())
                   .private_key(s.pki.cloud_key().string())
                   .finalize();
    auto opts = mqtt::connect_options_builder().clean_session(true).ssl(std::move(ssl)).finalize();
    sub.set_message_callback([&](mqtt::const_message_ptr) {
      auto now = std::chrono::steady_clock::now();
      std::lock_guard lk(mu);
      seen.fetch_add(1);
      last = now;
    });
    sub.connect(opts)->wait();
    // As the bridge does: without TCP_NODELAY every PUBACK waits for Nagle (MEASURED.md).
    aterm::common::set_tcp_nodelay_for_peer_port(s.broker.port());
    sub.subscribe(protocol::topic_filter(topic_kind::state), 1)->wait();
    auto t0 = std::chrono::steady_clock::now();
    blast(0, [&] { return static_cast<std::int64_t>(seen.load()); });
    CHECK(wait_while_progressing([&] { return static_cast<std::size_t>(seen.load()); }, k_total));
    std::lock_guard lk(mu);
    plain_rate = seen.load() / std::chrono::duration<double>(last - t0).count();
    MESSAGE("plain subscriber: " << seen.load() << "/" << k_total << " messages, "
                                 << static_cast<long>(plain_rate) << " msg/s");
    sub.disconnect()->wait();
  }

  // 2. The bridge with the fake store. A snapshot is handled when it is stored or replaced by
  // its device's newer one in the ingest queue (ingest behind, ingest_queue.h); none is shed,
  // since the fleet keeps at most k_backlog (below the queue's bound) ahead.
  auto b = s.start_bridge();
  auto before = s.store.stored(topic_kind::state);
  auto handled = [&] {
    auto m = b->metrics();
    return s.store.stored(topic_kind::state) - before + m.states_coalesced + m.states_shed;
  };
  auto t0 = std::chrono::steady_clock::now();
  blast(k_per_device, [&] { return static_cast<std::int64_t>(handled()); });
  wait_while_progressing(handled, k_total);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto stored = s.store.stored(topic_kind::state) - before;
  auto m = b->metrics();
  double bridge_rate = static_cast<double>(handled()) / secs;
  MESSAGE("bridge + fake store: " << handled() << "/" << k_total << " handled, "
                                  << static_cast<long>(bridge_rate) << " msg/s ("
                                  << static_cast<int>(100 * bridge_rate / plain_rate)
                                  << "% of plain), " << stored << " stored, " << m.states_coalesced
                                  << " coalesced, " << m.batches << " batches, max batch "
                                  << m.batch_size_max << ", mean batch age "
                                  << (m.batches ? m.batch_age_us_sum / m.batches : 0)
                                  << " us, queue waits " << m.queue_waits << ", connects "
                                  << m.connects);
  CHECK(publish_errors.load() == 0);
  CHECK(handled() == static_cast<std::size_t>(k_total));
  CHECK(m.states_shed == 0);
  // The newest snapshot of every device is stored, whatever was replaced on the way.
  std::map<std::string, std::int64_t> newest;
  for (const auto& msg : s.store.messages()) {
    if (msg.kind != topic_kind::state) continue;
    auto& seq = newest.try_emplace(msg.device_id, -1).first->second;
    seq = std::max(seq, std::get<protocol::state_snapshot>(msg.body).seq);
  }
  for (const auto& d : devices) CHECK(newest[d->id()] == 2 * k_per_device - 1);
  if (handled() != static_cast<std::size_t>(k_total)) {
    std::string lines;
    std::istringstream log(s.broker.log());
    for (std::string line; std::getline(log, line);) {
      if (line.find("aterm-cloud") != std::string::npos) lines += line + "\n";
    }
    MESSAGE("broker log about aterm-cloud:\n" << lines);
  }
  CHECK(m.bad == decltype(m.bad){});
}
