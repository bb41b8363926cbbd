#include "aterm/bridge/bridge.h"

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "aterm/bridge/dispatcher.h"
#include "aterm/bridge/ingest.h"
#include "aterm/bridge/limits.h"
#include "aterm/common/limits.h"
#include "aterm/common/log.h"
#include "ingest_queue.h"
#include "mqtt_link.h"

namespace aterm::bridge {

using namespace std::chrono_literals;

namespace {

// The ingest thread looks at the clock at least this often, so a batch_delay above 0 measured
// on a clock that is not the steady clock still ends.
constexpr auto k_ingest_max_wait = 100ms;

common::status readable(const std::string& path, const char* what) {
  std::ifstream f(path);
  if (path.empty() || !f) {
    return common::status::error("bad_config", std::string("mqtt ") + what + " not readable");
  }
  return {};
}

ingest_queue_limits queue_limits(const bridge_config& c) {
  ingest_queue_limits l;
  if (c.queue_messages != 0) l.state_messages = c.queue_messages;
  return l;
}

}  // namespace

struct bridge::impl {
  impl(bridge_config c, store_port& s, common::clock& k)
      : config(std::move(c)), store(s), clock(k), queue(queue_limits(config), metrics, clock) {}

  void run_ingest();
  void run_dispatch();

  bridge_config config;
  store_port& store;
  common::clock& clock;
  bridge_metrics metrics;
  ingest_queue queue;
  std::unique_ptr<mqtt_link> link;
  std::unique_ptr<ingest> ingest_;
  std::unique_ptr<dispatcher> dispatcher_;
  std::thread ingest_thread;
  std::thread dispatch_thread;
  std::atomic<bool> stopping{false};
  bool started = false;
  // Topics of retained device messages to clear at the broker: Paho's callback adds, the
  // dispatch thread publishes (bridge.h).
  std::mutex clear_mutex;
  std::vector<std::string> to_clear;
};

void bridge::impl::run_ingest() {
  std::deque<raw_message> items;
  while (true) {
    auto wait = std::chrono::nanoseconds(k_ingest_max_wait);
    if (auto due = ingest_->tick()) {
      wait = std::clamp<std::chrono::nanoseconds>(*due - clock.mono(), 0ns, wait);
    }
    // Group commit: everything queued while the previous commit ran goes into the next one, at
    // most one batch of snapshots per pop: results, presence and events that arrive meanwhile
    // go first into the next batch (ingest_queue.h). The next turn's tick() commits it.
    const bool stop = queue.pop(items, wait, config.batch_max);
    for (auto& m : items) ingest_->accept(std::move(m));
    items.clear();
    if (stop) {
      ingest_->flush();
      return;
    }
  }
}

void bridge::impl::run_dispatch() {
  while (!stopping.load()) {
    if (link->maintain()) dispatcher_->post_reconnected(link->unsubscribed_since());
    std::vector<std::string> clear;
    {
      std::lock_guard lock(clear_mutex);
      clear.swap(to_clear);
    }
    if (!clear.empty()) link->clear_retained(clear);
    dispatcher_->step();
    auto until_poll =
        std::chrono::ceil<std::chrono::milliseconds>(dispatcher_->next_poll() - clock.mono());
    auto wait = std::clamp<std::chrono::milliseconds>(until_poll, 1ms, config.dispatch_poll);
    dispatcher_->wait(std::min(wait, link->idle_for()));
  }
}

bridge::bridge(bridge_config config, store_port& store, common::clock& clock)
    : impl_(std::make_unique<impl>(std::move(config), store, clock)) {}

bridge::~bridge() {
  stop();
}

common::status bridge::start() {
  auto& s = *impl_;
  assert(!s.started);
  for (auto st : {readable(s.config.ca, "ca"), readable(s.config.cert, "cert"),
                  readable(s.config.key, "key")}) {
    if (!st.ok()) return st;
  }
  if (s.config.batch_max == 0 || s.config.batch_max > limits::k_max_batch ||
      s.config.batch_delay < 0ms || s.config.dispatch_poll <= 0ms ||
      s.config.reconnect_min <= 0ms || s.config.reconnect_max < s.config.reconnect_min ||
      s.config.result_timeout <= 0s || s.config.client_id.empty()) {
    return common::status::error("bad_config", "bridge batch, poll or reconnect settings");
  }
  s.link = std::make_unique<mqtt_link>(
      s.config, s.clock, s.metrics,
      [&s](mqtt::const_message_ptr m) {
        raw_message raw;
        raw.topic = m->get_topic();
        const auto& payload = m->get_payload_ref();
        // Anything longer is refused by the decoder as too_large; keep only what proves it.
        raw.payload.assign(payload.data(),
                           std::min(payload.size(), common::limits::k_max_payload_bytes + 1));
        raw.received_ms = s.clock.now_ms();
        raw.received_mono = s.clock.mono();
        raw.retained = m->is_retained();
        if (raw.retained && !m->get_payload_ref().empty()) {
          auto t = common::protocol::parse_topic(raw.topic);
          if (t && t->kind != common::protocol::topic_kind::presence) {
            {
              std::lock_guard lock(s.clear_mutex);
              // Bounded: past it the rest are dropped by ingest all the same and cleared when
              // they are replayed again.
              if (s.to_clear.size() < limits::k_max_pending_clears) {
                s.to_clear.push_back(raw.topic);
              }
            }
            if (s.dispatcher_) s.dispatcher_->wake();
          }
        }
        s.queue.push(std::move(raw));
      },
      [&s] {
        if (s.dispatcher_) s.dispatcher_->wake();
      },
      [&s] {
        raw_message lost;
        lost.received_ms = s.clock.now_ms();
        lost.received_mono = s.clock.mono();
        lost.link_lost = true;
        s.queue.push(std::move(lost));
      });
  if (auto st = s.link->create(); !st.ok()) {
    s.link.reset();
    return st;
  }
  dispatch_settings dispatch;
  dispatch.poll = s.config.dispatch_poll;
  dispatch.instance = s.config.client_id;
  dispatch.result_timeout = s.config.result_timeout;
  s.dispatcher_ =
      std::make_unique<dispatcher>(std::move(dispatch), s.store, *s.link, s.clock, s.metrics);
  s.ingest_ = std::make_unique<ingest>(
      ingest_settings{s.config.batch_max, s.config.batch_delay, s.config.bad_input_log_interval},
      s.store, s.clock, s.metrics,
      [&s](std::vector<std::string> devices) { s.dispatcher_->post_online(std::move(devices)); },
      [&s](std::vector<std::string> devices) {
        s.dispatcher_->post_state_unknown(std::move(devices));
      });
  s.stopping.store(false);
  s.started = true;
  s.ingest_thread = std::thread([&s] { s.run_ingest(); });
  s.dispatch_thread = std::thread([&s] { s.run_dispatch(); });
  return {};
}

void bridge::stop() {
  auto& s = *impl_;
  if (!s.started) return;
  s.started = false;
  s.stopping.store(true);
  s.dispatcher_->wake();
  s.dispatch_thread.join();
  // Paho's thread must not wait for room while the disconnect waits for Paho.
  s.queue.release_producers();
  s.link->disconnect();
  s.queue.close();
  s.queue.request_stop();
  // A batch waiting for an unreachable database would hold the stop for as long as it is down.
  s.ingest_->abandon_waits();
  s.ingest_thread.join();
  common::log(common::log_level::info, "bridge", "stopped",
              {{"batches", s.metrics.batches.load()}});
}

void bridge::notify_command(const std::string& device_id) {
  if (impl_->dispatcher_) impl_->dispatcher_->post_command(device_id);
}

metrics_snapshot bridge::metrics() const {
  return impl_->metrics.snapshot();
}

}  // namespace aterm::bridge
