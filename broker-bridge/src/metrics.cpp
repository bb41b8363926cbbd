#include "aterm/bridge/metrics.h"

#include <cassert>

namespace aterm::bridge {

namespace {

constexpr std::array<std::string_view, k_bad_reasons> k_reason_names = {
    "bad_topic",       "too_large",  "bad_json",  "bad_version",
    "missing_field",   "wrong_type", "bad_value", "id_mismatch",
    "unknown_command", "other",      "retained",  "unrecorded_event"};

constexpr std::array<std::string_view, k_ingest_kinds> k_kind_names = {"presence", "state",
                                                                       "result", "event"};

void counter_line(std::string& out, std::string_view name, std::string_view help, std::uint64_t v,
                  std::string_view type = "counter") {
  out += "# HELP aterm_bridge_";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE aterm_bridge_";
  out += name;
  out += ' ';
  out += type;
  out += "\naterm_bridge_";
  out += name;
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

}  // namespace

std::string_view to_string(bad_reason r) {
  return k_reason_names[static_cast<std::size_t>(r)];
}

bad_reason bad_reason_from_code(std::string_view code) {
  for (std::size_t i = 0; i < k_bad_reasons; ++i) {
    if (k_reason_names[i] == code) return static_cast<bad_reason>(i);
  }
  return bad_reason::other;
}

std::size_t ingest_index(common::protocol::topic_kind k) {
  using common::protocol::topic_kind;
  switch (k) {
    case topic_kind::presence:
      return 0;
    case topic_kind::state:
      return 1;
    case topic_kind::result:
      return 2;
    case topic_kind::event:
      return 3;
    case topic_kind::cmd:
      break;
  }
  assert(false && "cmd is never ingested");
  return 0;
}

void bridge_metrics::raise_max(counter& c, std::uint64_t v) {
  std::uint64_t cur = c.load(std::memory_order_relaxed);
  while (v > cur && !c.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

metrics_snapshot bridge_metrics::snapshot() const {
  constexpr auto r = std::memory_order_relaxed;
  metrics_snapshot s;
  for (std::size_t i = 0; i < k_ingest_kinds; ++i) s.ingested[i] = ingested[i].load(r);
  for (std::size_t i = 0; i < k_bad_reasons; ++i) s.bad[i] = bad[i].load(r);
  s.batches = batches.load(r);
  s.batch_messages = batch_messages.load(r);
  s.batch_size_max = batch_size_max.load(r);
  s.batch_commit_us_sum = batch_commit_us_sum.load(r);
  s.batch_commit_us_max = batch_commit_us_max.load(r);
  s.batch_age_us_sum = batch_age_us_sum.load(r);
  s.batch_age_us_max = batch_age_us_max.load(r);
  s.store_failures = store_failures.load(r);
  s.store_lost = store_lost.load(r);
  s.results_dropped = results_dropped.load(r);
  s.commands_published = commands_published.load(r);
  s.publish_failures = publish_failures.load(r);
  s.commands_expired = commands_expired.load(r);
  s.dispatch_errors = dispatch_errors.load(r);
  s.state_refreshes = state_refreshes.load(r);
  s.received = received.load(r);
  s.queue_waits = queue_waits.load(r);
  s.queue_drops = queue_drops.load(r);
  s.states_coalesced = states_coalesced.load(r);
  s.states_shed = states_shed.load(r);
  s.queue_depth = queue_depth.load(r);
  s.connects = connects.load(r);
  s.connection_losses = connection_losses.load(r);
  s.presence_unvouched = presence_unvouched.load(r);
  s.connected = connected.load(r);
  return s;
}

std::string format_prometheus(const metrics_snapshot& s) {
  std::string out;
  out += "# HELP aterm_bridge_ingested_total Device messages stored, by kind.\n";
  out += "# TYPE aterm_bridge_ingested_total counter\n";
  for (std::size_t i = 0; i < k_ingest_kinds; ++i) {
    out += "aterm_bridge_ingested_total{kind=\"";
    out += k_kind_names[i];
    out += "\"} " + std::to_string(s.ingested[i]) + "\n";
  }
  out += "# HELP aterm_bridge_dropped_total Device messages dropped, by reason.\n";
  out += "# TYPE aterm_bridge_dropped_total counter\n";
  for (std::size_t i = 0; i < k_bad_reasons; ++i) {
    out += "aterm_bridge_dropped_total{reason=\"";
    out += k_reason_names[i];
    out += "\"} " + std::to_string(s.bad[i]) + "\n";
  }
  counter_line(out, "batches_total", "Batches committed to the store.", s.batches);
  counter_line(out, "batch_messages_total", "Messages in committed batches.", s.batch_messages);
  counter_line(out, "batch_size_max", "Largest batch.", s.batch_size_max, "gauge");
  counter_line(out, "batch_commit_us_total", "Time inside apply_batch.", s.batch_commit_us_sum);
  counter_line(out, "batch_commit_us_max", "Longest apply_batch.", s.batch_commit_us_max, "gauge");
  counter_line(out, "batch_age_us_total",
               "Sum over batches of first message received to batch committed.",
               s.batch_age_us_sum);
  counter_line(out, "batch_age_us_max", "Oldest message age at commit.", s.batch_age_us_max,
               "gauge");
  counter_line(out, "store_failures_total", "Failed apply_batch attempts.", s.store_failures);
  counter_line(out, "store_lost_messages_total", "Messages dropped after every attempt failed.",
               s.store_lost);
  counter_line(out, "results_dropped_total", "Results the store refused.", s.results_dropped);
  counter_line(out, "commands_published_total", "Commands the broker accepted.",
               s.commands_published);
  counter_line(out, "publish_failures_total", "Command publishes that failed.", s.publish_failures);
  counter_line(out, "commands_expired_total", "Commands moved to expired or timed_out.",
               s.commands_expired);
  counter_line(out, "dispatch_errors_total", "Failed store calls of the dispatcher.",
               s.dispatch_errors);
  counter_line(out, "state_refreshes_total",
               "state.refresh commands queued for online devices without a stored state.",
               s.state_refreshes);
  counter_line(out, "received_total", "Messages delivered by the broker.", s.received);
  counter_line(out, "queue_waits_total",
               "Times the MQTT thread waited for ingest queue room (past the hard bound).",
               s.queue_waits);
  counter_line(out, "queue_drops_total", "Messages received while stopped.", s.queue_drops);
  counter_line(out, "states_coalesced_total",
               "State snapshots that replaced their device's queued one (ingest behind).",
               s.states_coalesced);
  counter_line(out, "states_shed_total",
               "State snapshots dropped because the ingest queue was full.", s.states_shed);
  counter_line(out, "queue_depth", "Messages waiting for ingest.", s.queue_depth, "gauge");
  counter_line(out, "connects_total", "Successful MQTT connects.", s.connects);
  counter_line(out, "connection_losses_total", "MQTT connections lost.", s.connection_losses);
  counter_line(out, "presence_unvouched_total",
               "Online devices made unknown because the broker link was lost.",
               s.presence_unvouched);
  counter_line(out, "connected", "1 while connected and subscribed.", s.connected ? 1 : 0, "gauge");
  return out;
}

}  // namespace aterm::bridge
