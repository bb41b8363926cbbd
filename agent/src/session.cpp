// router_agent's session: the connection state machine (connect gate, backoff, reconnect),
// presence, the simulated reboot and the clean shutdown.
#include <sys/stat.h>
#include <sys/timex.h>

#include <filesystem>

#include "aterm/agent/limits.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/log.h"
#include "router_agent_internal.h"

#ifndef ATERM_AGENT_VERSION
#define ATERM_AGENT_VERSION "0.0.0"
#endif

namespace aterm::agent {

const char* agent_version() {
  return ATERM_AGENT_VERSION;
}

void connect_gate::acquire(std::function<void()> go) {
  if (active_ < limit_) {
    ++active_;
    go();
    return;
  }
  waiting_.push_back(std::move(go));
}

void connect_gate::release() {
  if (active_ > 0) --active_;
  while (active_ < limit_ && !waiting_.empty()) {
    auto go = std::move(waiting_.front());
    waiting_.pop_front();
    ++active_;
    go();
  }
}

bool clock_trustworthy(const common::clock& clock, std::int64_t trust_floor, bool require_sync) {
  if (clock.now_s() < trust_floor) return false;
  if (!require_sync) return true;
  timex tx{};
  const int state = ::adjtimex(&tx);
  return state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

common::result<std::unique_ptr<router_agent>> router_agent::create(event_loop& loop,
                                                                   const common::clock& clock,
                                                                   router_settings s,
                                                                   std::unique_ptr<backend> be) {
  if (!proto::valid_device_id(s.device_id))
    return status::error("config_bad_value", "device_id \"" + s.device_id + "\" is not valid");
  // log.tail answers from the lines kept in memory.
  common::keep_recent_log_lines(limits::k_log_ring_lines, limits::k_log_ring_bytes);
  std::error_code ec;
  std::filesystem::create_directories(s.data_dir, ec);
  if (ec)
    return common::commands::op_failure(
        common::commands::op_error::io,
        "cannot create " + s.data_dir.string() + ": " + ec.message());
  ::chmod(s.data_dir.c_str(), 0700);
  auto journal = command_journal::open(s.data_dir / "commands.journal", s.dedupe_entries);
  if (!journal.ok()) return journal.error();
  if (journal->skipped_at_load() > 0)
    common::log(log_level::warn, "agent", "command journal had damaged lines; skipped",
                {{"device", s.device_id},
                 {"skipped", static_cast<std::uint64_t>(journal->skipped_at_load())}});
  auto box = outbox::open(s.data_dir / "outbox.journal", s.outbox);
  if (!box.ok()) return box.error();
  auto logins =
      login_store::open(s.data_dir / "logins.json", clock, read_boot_id(), technician_rules(s));
  if (!logins.ok()) return logins.error();
  std::unique_ptr<router_agent> a(new router_agent(loop, clock, std::move(s), std::move(be),
                                                   std::move(*journal), std::move(*box),
                                                   std::move(*logins)));
  a->queue_boot_event();
  a->report_ended_sessions();  // those a reboot or a stop ended
  return a;
}

router_agent::router_agent(event_loop& loop, const common::clock& clock, router_settings s,
                           std::unique_ptr<backend> be, command_journal journal, outbox box,
                           login_store logins)
    : loop_(loop),
      clock_(clock),
      s_(std::move(s)),
      backend_(std::move(be)),
      journal_(std::move(journal)),
      outbox_(std::move(box)),
      logins_(std::move(logins)),
      backoff_(s_.reconnect),
      self_(std::make_shared<router_agent*>(this)) {}

router_agent::~router_agent() {
  *self_ = nullptr;
  link_.reset();
}

event_loop::timer_id router_agent::schedule_self(std::chrono::milliseconds delay,
                                                 void (router_agent::*method)()) {
  std::weak_ptr<router_agent*> weak = self_;
  return loop_.schedule(delay, [weak, method] {
    if (auto p = weak.lock(); p && *p) ((*p)->*method)();
  });
}

void router_agent::start(std::chrono::milliseconds delay) {
  reconnect_timer_ = schedule_self(delay, &router_agent::on_reconnect_timer);
  poll_timer_ = schedule_self(std::chrono::duration_cast<std::chrono::milliseconds>(s_.state_poll),
                              &router_agent::poll_state);
}

void router_agent::on_reconnect_timer() {
  reconnect_timer_.reset();
  connect_now();
}

void router_agent::connect_now() {
  if (stopping_ || connected_ || connecting_ || waiting_gate_) return;
  if (gate_ && !holding_gate_) {
    waiting_gate_ = true;
    std::weak_ptr<router_agent*> weak = self_;
    gate_->acquire([weak, gate = gate_] {
      auto p = weak.lock();
      if (!p || !*p) {
        gate->release();  // the router is gone: pass the slot on
        return;
      }
      (*p)->waiting_gate_ = false;
      (*p)->holding_gate_ = true;
      (*p)->begin_connect();
    });
    return;
  }
  begin_connect();
}

void router_agent::release_gate() {
  if (gate_ && holding_gate_) {
    holding_gate_ = false;
    gate_->release();
  }
}

void router_agent::begin_connect() {
  if (stopping_ || connected_ || connecting_) {
    release_gate();
    return;
  }
  if (!link_) {
    mqtt_link_settings ls;
    ls.uri = s_.broker_uri;
    ls.client_id = s_.device_id;
    ls.ca = s_.ca;
    ls.cert = s_.cert;
    ls.key = s_.key;
    ls.keepalive_s = s_.keepalive_s;
    ls.connect_timeout_s = s_.connect_timeout_s;
    ls.will_topic = proto::topic(s_.device_id, proto::topic_kind::presence);
    ls.will_payload = proto::encode(proto::presence{false, agent_version(), clock_.now_s()});
    // Every handler only enqueues to the agent thread.
    std::weak_ptr<router_agent*> weak = self_;
    event_loop* loop = &loop_;
    using k = link_event::kind;
    mqtt_link_handlers h;
    h.connected = [weak, loop] { post_link_event(weak, *loop, {k::connected, {}, {}}); };
    h.connect_failed = [weak, loop](std::string cause) {
      post_link_event(weak, *loop, {k::connect_failed, std::move(cause), {}});
    };
    h.lost = [weak, loop](std::string cause) {
      post_link_event(weak, *loop, {k::lost, std::move(cause), {}});
    };
    h.message = [weak, loop](std::string topic, std::string payload) {
      post_link_event(weak, *loop, {k::message, std::move(topic), std::move(payload)});
    };
    h.published = [weak, loop](std::uint64_t tag, bool ok) {
      post_link_event(weak, *loop, {k::published, {}, {}, tag, ok});
    };
    auto link = mqtt_link::create(std::move(ls), std::move(h));
    if (!link.ok()) {
      common::log(log_level::error, "agent", "cannot create MQTT client",
                  {{"device", s_.device_id}, {"error", link.error().to_string()}});
      release_gate();
      schedule_reconnect("client");
      return;
    }
    link_ = std::move(*link);
  }
  connecting_ = true;
  auto st = link_->connect();
  if (!st.ok()) {
    connecting_ = false;
    release_gate();
    schedule_reconnect(st.message());
  }
}

void router_agent::post_link_event(const std::weak_ptr<router_agent*>& weak, event_loop& loop,
                                   link_event e) {
  const bool queued = loop.try_post([weak, e = std::move(e)] {
    if (auto p = weak.lock(); p && *p) (*p)->on_link_event(e);
  });
  if (!queued) {
    loop.post([weak] {
      if (auto p = weak.lock(); p && *p) ++(*p)->stats_.messages_dropped;
    });
  }
}

void router_agent::on_link_event(const link_event& e) {
  switch (e.k) {
    case link_event::kind::connected:
      on_connected();
      return;
    case link_event::kind::connect_failed:
      on_connect_failed(e.text);
      return;
    case link_event::kind::lost:
      on_lost(e.text);
      return;
    case link_event::kind::message:
      on_message(e.text, e.payload);
      return;
    case link_event::kind::published:
      on_published(e.tag, e.ok);
      return;
  }
}

void router_agent::schedule_reconnect(const std::string& why) {
  if (stopping_ || reconnect_timer_) return;
  const auto delay = backoff_.next_delay();
  common::log(log_level::info, "agent", "reconnect scheduled",
              {{"device", s_.device_id},
               {"delay_ms", static_cast<std::int64_t>(delay.count())},
               {"attempt", backoff_.attempt()},
               {"cause", why}});
  reconnect_timer_ = schedule_self(delay, &router_agent::on_reconnect_timer);
}

void router_agent::on_connected() {
  // A connect is reported once; a late report after a reboot or shutdown is ignored.
  if (!connecting_ || connected_) return;
  connecting_ = false;
  release_gate();
  if (stopping_) return;
  connected_ = true;
  connected_at_ = clock_.mono();
  ++stats_.connects;
  common::log(log_level::info, "agent", "connected", {{"device", s_.device_id}});
  auto st = link_->subscribe(proto::topic(s_.device_id, proto::topic_kind::cmd));
  if (!st.ok())
    common::log(log_level::warn, "agent", "subscribe failed",
                {{"device", s_.device_id}, {"error", st.to_string()}});
  publish_presence(true, k_untracked_tag);
  last_snapshot_at_.reset();
  publish_snapshot();
  arm_interval();
  flush_outbox();
  if (on_each_connect_) on_each_connect_();
}

void router_agent::on_connect_failed(const std::string& cause) {
  if (!connecting_) return;
  connecting_ = false;
  release_gate();
  common::log(log_level::warn, "agent", "connect failed",
              {{"device", s_.device_id}, {"cause", cause}});
  schedule_reconnect(cause);
}

void router_agent::on_lost(const std::string& cause) {
  if (!connected_) return;
  connected_ = false;
  inflight_.clear();
  backoff_.connection_ended(ms_between(connected_at_, clock_.mono()));
  common::log(log_level::warn, "agent", "connection lost",
              {{"device", s_.device_id}, {"cause", cause}});
  if (interval_timer_) loop_.cancel(*interval_timer_);
  interval_timer_.reset();
  if (!rebooting_) schedule_reconnect("lost");
}

void router_agent::publish_presence(bool online, std::uint64_t tag) {
  if (!link_) return;
  const auto payload = proto::encode(proto::presence{online, agent_version(), clock_.now_s()});
  auto st =
      link_->publish(proto::topic(s_.device_id, proto::topic_kind::presence), payload, true, tag);
  if (!st.ok())
    common::log(log_level::warn, "agent", "presence publish failed",
                {{"device", s_.device_id}, {"error", st.to_string()}});
}

void router_agent::do_reboot() {
  common::log(log_level::info, "agent", "reboot starts", {{"device", s_.device_id}});
  auto st = backend_->reboot();
  if (!st.ok()) {
    common::log(log_level::error, "agent", "reboot failed",
                {{"device", s_.device_id}, {"error", st.to_string()}});
    return;
  }
  if (!backend_->simulated_reboot()) return;  // the system takes the process down
  // A simulated reboot: the session drops (offline presence, as the Last Will would say), the
  // router is away for sim.reboot_s, then boots and reconnects with a new client.
  // Unacknowledged outbox entries go again then.
  rebooting_ = true;
  release_gate();
  if (connected_) publish_presence(false, k_untracked_tag);
  link_->disconnect(std::chrono::milliseconds(500));
  link_.reset();
  connected_ = false;
  connecting_ = false;
  inflight_.clear();
  if (interval_timer_) loop_.cancel(*interval_timer_);
  interval_timer_.reset();
  if (reconnect_timer_) loop_.cancel(*reconnect_timer_);
  reconnect_timer_.reset();
  reconnect_timer_ = schedule_self(s_.sim_reboot, &router_agent::on_reboot_over);
}

void router_agent::on_reboot_over() {
  reconnect_timer_.reset();
  rebooting_ = false;
  backoff_.reset();
  queue_boot_event();
  connect_now();
}

void router_agent::shutdown(std::function<void()> done) {
  stopping_ = true;
  release_gate();
  if (reconnect_timer_) loop_.cancel(*reconnect_timer_);
  if (interval_timer_) loop_.cancel(*interval_timer_);
  if (snapshot_timer_) loop_.cancel(*snapshot_timer_);
  if (poll_timer_) loop_.cancel(*poll_timer_);
  reconnect_timer_.reset();
  interval_timer_.reset();
  snapshot_timer_.reset();
  poll_timer_.reset();
  if (!connected_ || !link_) {
    if (link_) link_->disconnect(std::chrono::milliseconds(0));
    done();
    return;
  }
  shutdown_done_ = std::move(done);
  publish_presence(false, k_offline_tag);
  shutdown_timer_ = schedule_self(s_.shutdown_timeout, &router_agent::on_shutdown_timer);
}

void router_agent::on_shutdown_timer() {
  shutdown_timer_.reset();
  on_published(k_offline_tag, false);
}

void router_agent::queue_boot_event() {
  queue_event(std::string(to_string(common::commands::event_type::boot)),
              "{\"agent\":\"" + std::string(agent_version()) + "\"}");
}

void router_agent::finish_shutdown() {
  if (!shutdown_done_) return;
  if (shutdown_timer_) loop_.cancel(*shutdown_timer_);
  shutdown_timer_.reset();
  link_->disconnect(std::chrono::milliseconds(500));
  connected_ = false;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

}  // namespace aterm::agent
