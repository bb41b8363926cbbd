// router_agent's state publishing: the snapshot on connect, on change (polled), on request and
// every state_interval, paced to at most one per limits::k_min_snapshot_period_ms.
#include <algorithm>

#include "aterm/agent/limits.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/log.h"
#include "router_agent_internal.h"

namespace aterm::agent {

namespace {

// The fields whose change triggers a snapshot (not uptime, load or free memory, which move all
// the time and go out with the periodic snapshot).
std::string significant(const proto::state_snapshot& s) {
  proto::state_snapshot k;
  k.model = s.model;
  k.fw = s.fw;
  k.wan_ip = s.wan_ip;
  k.wan_up = s.wan_up;
  k.lan_clients = s.lan_clients;
  k.config_rev = s.config_rev;
  return proto::encode(k);
}

}  // namespace

void router_agent::arm_interval() {
  if (interval_timer_) loop_.cancel(*interval_timer_);
  interval_timer_ = schedule_self(s_.state_interval, &router_agent::on_interval_timer);
}

void router_agent::on_interval_timer() {
  interval_timer_.reset();
  snapshot_requested();
  if (connected_) arm_interval();
}

void router_agent::snapshot_requested() {
  if (!connected_) return;      // a snapshot goes out on the next connect anyway
  if (snapshot_timer_) return;  // one is already due
  const auto now = clock_.mono();
  // A state interval shorter than the limit (simulate's load setting) is the operator's explicit
  // pace, so it bounds on-change snapshots too.
  const auto min_period =
      std::min(std::chrono::milliseconds(limits::k_min_snapshot_period_ms), s_.state_interval);
  if (last_snapshot_at_ && now - *last_snapshot_at_ < min_period) {
    const auto wait = ms_between(now, *last_snapshot_at_ + min_period);
    snapshot_timer_ = schedule_self(wait, &router_agent::on_snapshot_timer);
    return;
  }
  publish_snapshot();
}

void router_agent::on_snapshot_timer() {
  snapshot_timer_.reset();
  publish_snapshot();
}

void router_agent::publish_snapshot() {
  if (!connected_ || !link_) return;
  auto snap = backend_->read_state();
  snap.ts = clock_.now_s();
  snap.seq = ++seq_;
  last_significant_ = significant(snap);
  last_snapshot_at_ = clock_.mono();
  ++stats_.snapshots;
  auto st = link_->publish(proto::topic(s_.device_id, proto::topic_kind::state),
                           proto::encode(snap), false, k_untracked_tag);
  if (!st.ok())
    common::log(log_level::warn, "agent", "state publish failed",
                {{"device", s_.device_id}, {"error", st.to_string()}});
}

void router_agent::poll_state() {
  poll_timer_ = schedule_self(std::chrono::duration_cast<std::chrono::milliseconds>(s_.state_poll),
                              &router_agent::poll_state);
  report_ended_sessions();
  logins_.expire();
  if (!connected_) return;
  if (significant(backend_->read_state()) != last_significant_) snapshot_requested();
}

}  // namespace aterm::agent
