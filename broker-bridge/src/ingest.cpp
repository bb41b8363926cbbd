#include "aterm/bridge/ingest.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "aterm/bridge/limits.h"
#include "aterm/common/log.h"

namespace aterm::bridge {

namespace protocol = common::protocol;
using common::log_level;

namespace {

constexpr std::string_view k_component = "bridge";
// The rate-limit key of messages whose topic names no valid device.
const std::string k_invalid_topic_key = "<invalid-topic>";
// Topics come from the broker and are short; a longer one is cut in the log line.
constexpr std::size_t k_max_logged_topic = 200;

std::uint64_t micros(std::chrono::nanoseconds d) {
  return d.count() <= 0 ? 0
                        : static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// Decodes `payload` as `kind` into a device_message body; the error status when it is bad.
common::status decode_body(protocol::topic_kind kind, std::string_view payload,
                           std::string_view device_id, device_message& out) {
  switch (kind) {
    case protocol::topic_kind::presence: {
      auto r = protocol::decode_presence(payload, device_id);
      if (!r) return r.error();
      out.body = std::move(r).value();
      return {};
    }
    case protocol::topic_kind::state: {
      auto r = protocol::decode_state(payload, device_id);
      if (!r) return r.error();
      out.body = std::move(r).value();
      return {};
    }
    case protocol::topic_kind::result: {
      auto r = protocol::decode_result(payload, device_id);
      if (!r) return r.error();
      out.body = std::move(r).value();
      return {};
    }
    case protocol::topic_kind::event: {
      auto r = protocol::decode_event(payload, device_id);
      if (!r) return r.error();
      out.body = std::move(r).value();
      return {};
    }
    case protocol::topic_kind::cmd:
      break;
  }
  return common::status::error("bad_topic", "cmd is cloud to device");
}

}  // namespace

std::optional<std::uint64_t> rate_limited_log::admit(const std::string& key,
                                                     common::mono_time now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= limits::k_max_log_limiter_devices) {
      std::erase_if(entries_, [&](const auto& e) { return now - e.second.last >= interval_; });
      if (entries_.size() >= limits::k_max_log_limiter_devices) entries_.clear();
    }
    entries_.emplace(key, entry{now, 0});
    return 0;
  }
  if (now - it->second.last >= interval_) {
    std::uint64_t suppressed = it->second.suppressed;
    it->second = entry{now, 0};
    return suppressed;
  }
  ++it->second.suppressed;
  return std::nullopt;
}

ingest::ingest(ingest_settings settings, store_port& store, common::clock& clock,
               bridge_metrics& metrics, online_sink on_online, device_sink on_state_unknown)
    : settings_(settings),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      on_online_(std::move(on_online)),
      on_state_unknown_(std::move(on_state_unknown)),
      log_(settings.bad_input_log_interval) {
  settings_.batch_max = std::clamp<std::size_t>(settings_.batch_max, 1, limits::k_max_batch);
  batch_.reserve(settings_.batch_max);
}

void ingest::accept(raw_message m) {
  if (m.link_lost) {
    link_lost(m.received_ms);
    return;
  }
  auto topic = protocol::parse_topic(m.topic);
  if (!topic) {
    drop(k_invalid_topic_key, m.topic, bad_reason::bad_topic, topic.error().message());
    return;
  }
  if (m.retained && topic->kind != protocol::topic_kind::presence) {
    drop(topic->device_id, m.topic, bad_reason::retained,
         "retained messages are applied only on presence");
    return;
  }
  device_message msg;
  msg.device_id = std::move(topic->device_id);
  msg.kind = topic->kind;
  msg.received_ms = m.received_ms;
  if (auto st = decode_body(msg.kind, m.payload, msg.device_id, msg); !st.ok()) {
    drop(msg.device_id, m.topic, bad_reason_from_code(st.code()), st.message());
    return;
  }
  msg.payload = std::move(m.payload);
  if (batch_.empty()) {
    batch_started_ = clock_.mono();
    oldest_received_ = m.received_mono == common::mono_time{} ? batch_started_ : m.received_mono;
  }
  batch_.push_back(std::move(msg));
  if (batch_.size() >= settings_.batch_max) flush();
}

std::optional<common::mono_time> ingest::tick() {
  if (batch_.empty()) return std::nullopt;
  auto due = batch_started_ + settings_.batch_delay;
  if (clock_.mono() < due) return due;
  flush();
  return std::nullopt;
}

void ingest::abandon_waits() {
  {
    std::lock_guard lock(pause_mu_);
    abandoned_ = true;
  }
  pause_cv_.notify_all();
}

bool ingest::pause(std::chrono::milliseconds wait) {
  std::unique_lock lock(pause_mu_);
  return !pause_cv_.wait_for(lock, wait, [&] { return abandoned_; });
}

void ingest::flush() {
  if (batch_.empty()) return;
  // A store whose database is unreachable for now (a restart, a failover) is waited for with
  // the batch kept: its results and events exist nowhere else once the broker handed them over.
  // Other refusals count, so one poisoned batch cannot stop ingest for good.
  int refusals = 0;
  auto wait = limits::k_store_unavailable_first_wait;
  while (refusals < limits::k_store_attempts) {
    auto started = clock_.mono();
    auto outcome = store_.apply_batch(batch_);
    auto done = clock_.mono();
    if (!outcome) {
      metrics_.add(metrics_.store_failures);
      const bool unavailable = outcome.error().code() == k_store_unavailable;
      if (!unavailable) ++refusals;
      common::log(log_level::error, k_component,
                  unavailable ? "store unavailable, batch kept" : "store refused a batch",
                  {{"refusals", refusals},
                   {"messages", static_cast<std::uint64_t>(batch_.size())},
                   {"error", outcome.error().to_string()}});
      if (unavailable) {
        if (!pause(wait)) break;
        wait = std::min(wait * 2, limits::k_store_unavailable_max_wait);
      }
      continue;
    }
    std::array<std::uint64_t, k_ingest_kinds> per_kind{};
    // The last presence of each device in the batch decides whether it is online now; any
    // other message after it shows it online too (a device publishes only while connected).
    // online_last is kept only for devices without a seen state, the only ones it is read for
    // (a device whose state comes later in the batch is filtered out below): the common batch,
    // states of known devices, costs one look-up per message and no allocation.
    std::unordered_map<std::string_view, bool> last_presence;
    std::unordered_map<std::string_view, bool> online_last;
    const bool track_unknown = static_cast<bool>(on_state_unknown_);
    for (const auto& msg : batch_) {
      ++per_kind[ingest_index(msg.kind)];
      if (msg.kind == protocol::topic_kind::state) {
        if (!state_seen_.contains(msg.device_id)) {
          if (state_seen_.size() >= limits::k_max_state_known_devices) state_seen_.clear();
          state_seen_.emplace(msg.device_id);
        }
        continue;
      }
      bool on = true;
      if (msg.kind == protocol::topic_kind::presence) {
        on = std::get<protocol::presence>(msg.body).online;
        last_presence[msg.device_id] = on;
      }
      if (track_unknown && !state_seen_.contains(msg.device_id)) online_last[msg.device_id] = on;
    }
    const auto dropped = static_cast<std::uint64_t>(outcome->dropped_result_devices.size());
    per_kind[ingest_index(protocol::topic_kind::result)] -=
        std::min(dropped, per_kind[ingest_index(protocol::topic_kind::result)]);
    const auto unrecorded = static_cast<std::uint64_t>(outcome->unrecorded_event_devices.size());
    per_kind[ingest_index(protocol::topic_kind::event)] -=
        std::min(unrecorded, per_kind[ingest_index(protocol::topic_kind::event)]);
    for (std::size_t i = 0; i < k_ingest_kinds; ++i) {
      if (per_kind[i] != 0) metrics_.add(metrics_.ingested[i], per_kind[i]);
    }
    const auto size = static_cast<std::uint64_t>(batch_.size());
    metrics_.add(metrics_.batches);
    metrics_.add(metrics_.batch_messages, size);
    bridge_metrics::raise_max(metrics_.batch_size_max, size);
    const auto commit_us = micros(done - started);
    metrics_.add(metrics_.batch_commit_us_sum, commit_us);
    bridge_metrics::raise_max(metrics_.batch_commit_us_max, commit_us);
    const auto age_us = micros(done - oldest_received_);
    metrics_.add(metrics_.batch_age_us_sum, age_us);
    bridge_metrics::raise_max(metrics_.batch_age_us_max, age_us);

    for (const auto& device : outcome->dropped_result_devices) {
      metrics_.add(metrics_.results_dropped);
      drop(device, protocol::topic(device, protocol::topic_kind::result),
           bad_reason::unknown_command,
           "result for a command that is unknown, another "
           "device's or already final");
    }
    for (const auto& device : outcome->unrecorded_event_devices) {
      drop(device, protocol::topic(device, protocol::topic_kind::event),
           bad_reason::unrecorded_event,
           "technician-login event for a login the device does not hold, or past its rate");
    }
    std::vector<std::string> online = std::move(outcome->came_online);
    std::unordered_set<std::string> seen(online.begin(), online.end());
    for (const auto& [device, is_online] : last_presence) {
      if (is_online && seen.emplace(device).second) online.emplace_back(device);
    }
    std::vector<std::string> state_unknown;
    for (const auto& [device, on] : online_last) {
      if (on && !state_seen_.contains(device)) state_unknown.emplace_back(device);
    }
    batch_.clear();
    if (on_online_ && !online.empty()) on_online_(std::move(online));
    if (!state_unknown.empty()) on_state_unknown_(std::move(state_unknown));
    return;
  }
  metrics_.add(metrics_.store_lost, static_cast<std::uint64_t>(batch_.size()));
  common::log(log_level::error, k_component, "batch dropped after every store attempt failed",
              {{"messages", static_cast<std::uint64_t>(batch_.size())}});
  batch_.clear();
}

void ingest::link_lost(std::int64_t at_ms) {
  flush();
  state_seen_.clear();
  for (int attempt = 1; attempt <= limits::k_store_attempts; ++attempt) {
    auto changed = store_.presence_unvouched(at_ms);
    if (!changed) {
      metrics_.add(metrics_.store_failures);
      common::log(log_level::error, k_component, "store refused to mark presence unknown",
                  {{"attempt", attempt}, {"error", changed.error().to_string()}});
      continue;
    }
    const auto n = static_cast<std::uint64_t>(*changed);
    metrics_.add(metrics_.presence_unvouched, n);
    common::log(log_level::warn, k_component,
                "broker link lost: online devices are unknown until the broker confirms them",
                {{"devices", n}});
    return;
  }
}

void ingest::drop(const std::string& device_key, const std::string& topic, bad_reason reason,
                  const std::string& detail) {
  // Bad results the store refuses are counted in results_dropped and in bad[]; others here.
  metrics_.add(metrics_.bad[static_cast<std::size_t>(reason)]);
  auto suppressed = log_.admit(device_key, clock_.mono());
  if (!suppressed) return;
  common::log(log_level::warn, k_component, "bad device message dropped",
              {{"device", device_key},
               {"topic", topic.substr(0, k_max_logged_topic)},
               {"reason", to_string(reason)},
               {"detail", detail},
               {"suppressed", *suppressed}});
}

}  // namespace aterm::bridge
