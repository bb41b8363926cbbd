#include "aterm/agent/router_agent.h"

#include <sys/stat.h>
#include <sys/timex.h>

#include <algorithm>
#include <filesystem>

#include "aterm/agent/limits.h"
#include "aterm/common/json.h"
#include "aterm/common/log.h"
#include "aterm/common/tcp_nodelay.h"

#ifndef ATERM_AGENT_VERSION
#define ATERM_AGENT_VERSION "0.0.0"
#endif

namespace aterm::agent {

namespace proto = common::protocol;
using common::log_level;
using common::status;
using proto::result_status;

namespace {

// Tags of publishes that are not outbox entries (outbox sequence numbers start at 1).
constexpr std::uint64_t k_untracked_tag = 0;
constexpr std::uint64_t k_offline_tag = std::uint64_t{1} << 63;
// Outbox entries in flight at once: keeps order on one connection without holding them all.
constexpr std::size_t k_outbox_window = 16;

std::chrono::milliseconds ms_between(common::mono_time a, common::mono_time b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

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
  std::error_code ec;
  std::filesystem::create_directories(s.data_dir, ec);
  if (ec) return status::error("io", "cannot create " + s.data_dir.string() + ": " + ec.message());
  ::chmod(s.data_dir.c_str(), 0700);
  auto journal = command_journal::open(s.data_dir / "commands.journal", s.dedupe_entries);
  if (!journal.ok()) return journal.error();
  if (journal->skipped_at_load() > 0)
    common::log(log_level::warn, "agent", "command journal had damaged lines; skipped",
                {{"device", s.device_id},
                 {"skipped", static_cast<std::uint64_t>(journal->skipped_at_load())}});
  auto box = outbox::open(s.data_dir / "outbox.journal", s.outbox);
  if (!box.ok()) return box.error();
  auto logins = login_store::open(s.data_dir / "logins.json", clock, read_boot_id());
  if (!logins.ok()) return logins.error();
  std::unique_ptr<router_agent> a(new router_agent(loop, clock, std::move(s), std::move(be),
                                                   std::move(*journal), std::move(*box),
                                                   std::move(*logins)));
  a->queue_event("boot", "{\"agent\":\"" + std::string(agent_version()) + "\"}");
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

void router_agent::start(std::chrono::milliseconds delay) {
  std::weak_ptr<router_agent*> weak = self_;
  reconnect_timer_ = loop_.schedule(delay, [weak] {
    if (auto p = weak.lock(); p && *p) {
      (*p)->reconnect_timer_.reset();
      (*p)->connect_now();
    }
  });
  poll_timer_ =
      loop_.schedule(std::chrono::duration_cast<std::chrono::milliseconds>(s_.state_poll), [weak] {
        if (auto p = weak.lock(); p && *p) (*p)->poll_state();
      });
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
    auto post = [weak, loop](auto fn) {
      const bool queued = loop->try_post([weak, fn = std::move(fn)]() mutable {
        if (auto p = weak.lock(); p && *p) fn(**p);
      });
      if (!queued) {
        loop->post([weak] {
          if (auto p = weak.lock(); p && *p) ++(*p)->stats_.messages_dropped;
        });
      }
    };
    mqtt_link_handlers h;
    h.connected = [post] { post([](router_agent& a) { a.on_connected(); }); };
    h.connect_failed = [post](std::string cause) {
      post([cause = std::move(cause)](router_agent& a) { a.on_connect_failed(cause); });
    };
    h.lost = [post](std::string cause) {
      post([cause = std::move(cause)](router_agent& a) { a.on_lost(cause); });
    };
    h.message = [post](std::string topic, std::string payload) {
      post([topic = std::move(topic), payload = std::move(payload)](router_agent& a) {
        a.on_message(topic, payload);
      });
    };
    h.published = [post](std::uint64_t tag, bool ok) {
      post([tag, ok](router_agent& a) { a.on_published(tag, ok); });
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

void router_agent::schedule_reconnect(const std::string& why) {
  if (stopping_ || reconnect_timer_) return;
  const auto delay = backoff_.next_delay();
  common::log(log_level::info, "agent", "reconnect scheduled",
              {{"device", s_.device_id},
               {"delay_ms", static_cast<std::int64_t>(delay.count())},
               {"attempt", backoff_.attempt()},
               {"cause", why}});
  std::weak_ptr<router_agent*> weak = self_;
  reconnect_timer_ = loop_.schedule(delay, [weak] {
    if (auto p = weak.lock(); p && *p) {
      (*p)->reconnect_timer_.reset();
      (*p)->connect_now();
    }
  });
}

void router_agent::on_connected() {
  // Paho may report one connect twice (token listener and client callback): act once.
  if (!connecting_ || connected_) return;
  connecting_ = false;
  release_gate();
  if (stopping_) return;
  connected_ = true;
  connected_at_ = clock_.mono();
  ++stats_.connects;
  common::log(log_level::info, "agent", "connected", {{"device", s_.device_id}});
  common::set_tcp_nodelay_for_peer_port(link_->port());
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

void router_agent::arm_interval() {
  if (interval_timer_) loop_.cancel(*interval_timer_);
  std::weak_ptr<router_agent*> weak = self_;
  interval_timer_ = loop_.schedule(s_.state_interval, [weak] {
    if (auto p = weak.lock(); p && *p) {
      (*p)->interval_timer_.reset();
      (*p)->snapshot_requested();
      if ((*p)->connected_) (*p)->arm_interval();
    }
  });
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
    std::weak_ptr<router_agent*> weak = self_;
    snapshot_timer_ = loop_.schedule(wait, [weak] {
      if (auto p = weak.lock(); p && *p) {
        (*p)->snapshot_timer_.reset();
        (*p)->publish_snapshot();
      }
    });
    return;
  }
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
  std::weak_ptr<router_agent*> weak = self_;
  poll_timer_ =
      loop_.schedule(std::chrono::duration_cast<std::chrono::milliseconds>(s_.state_poll), [weak] {
        if (auto p = weak.lock(); p && *p) (*p)->poll_state();
      });
  logins_.expire();
  if (!connected_) return;
  if (significant(backend_->read_state()) != last_significant_) snapshot_requested();
}

void router_agent::on_message(const std::string& topic, const std::string& payload) {
  if (topic != proto::topic(s_.device_id, proto::topic_kind::cmd)) return;
  auto cmd = proto::decode_command(payload, s_.device_id);
  if (!cmd.ok()) {
    if (auto id = proto::peek_command_id(payload)) {
      const auto seen = journal_.find(*id);
      if (seen.state == command_journal::seen::finished) {
        ++stats_.duplicates_answered;
        enqueue(outbox::kind::result, seen.result_payload);
        return;
      }
      answer(*id, result_status::rejected, "{}", "malformed command: " + cmd.error().message());
      return;
    }
    ++stats_.malformed_dropped;
    common::log(log_level::warn, "agent", "malformed command dropped",
                {{"device", s_.device_id},
                 {"error", cmd.error().code()},
                 {"dropped", stats_.malformed_dropped}});
    return;
  }
  handle_command(*cmd);
}

void router_agent::handle_command(const proto::command& cmd) {
  const auto seen = journal_.find(cmd.id);
  if (seen.state == command_journal::seen::finished) {
    ++stats_.duplicates_answered;
    common::log(log_level::info, "agent", "repeated command answered from the journal",
                {{"device", s_.device_id}, {"id", cmd.id}});
    enqueue(outbox::kind::result, seen.result_payload);
    return;
  }
  if (seen.state == command_journal::seen::running) {
    answer(cmd.id, result_status::error, "{}",
           "interrupted: the agent stopped while running this command; not run again");
    return;
  }
  if (cmd.deadline > 0 && cmd.deadline < clock_.now_s() &&
      clock_trustworthy(clock_, s_.clock_trust_floor, s_.clock_require_sync)) {
    answer(cmd.id, result_status::expired, "{}", "deadline passed");
    return;
  }
  if (auto st = journal_.begin(cmd.id); !st.ok()) {
    // Without the record the command could run twice after a crash: refuse it instead.
    common::log(log_level::error, "agent", "cannot record command; not running it",
                {{"device", s_.device_id}, {"id", cmd.id}, {"error", st.to_string()}});
    auto r = proto::encode(proto::command_result{cmd.id, result_status::error, "{}",
                                                 "cannot record the command on the router"});
    enqueue(outbox::kind::result, r);
    return;
  }
  ++stats_.commands_run;
  auto r = run_op(cmd);
  answer(cmd.id, r.status, r.result_json, r.error);
  if (cmd.op == "reboot" && r.status == result_status::ok) {
    std::int64_t delay_s = 2;
    if (auto args = common::parse_json(cmd.args_json); args.ok())
      delay_s = common::json_int(args->get(), "delay_s").value_or(2);
    std::weak_ptr<router_agent*> weak = self_;
    loop_.schedule(std::chrono::seconds(delay_s), [weak] {
      if (auto p = weak.lock(); p && *p) (*p)->do_reboot();
    });
  }
}

proto::command_result router_agent::run_op(const proto::command& cmd) {
  proto::command_result r;
  r.id = cmd.id;
  auto args_parsed = common::parse_json(cmd.args_json);
  if (!args_parsed.ok() || !cJSON_IsObject(args_parsed->get())) {
    r.status = result_status::rejected;
    r.error = "args must be an object";
    return r;
  }
  const cJSON* args = args_parsed->get();
  auto fail = [&](const status& st) {
    if (st.code() == "stale_rev" || st.code() == "bad_args")
      r.status = result_status::rejected;
    else if (st.code() == "unsupported")
      r.status = result_status::unsupported;
    else
      r.status = result_status::error;
    r.error = st.message();
    return r;
  };
  auto reject = [&](std::string why) {
    r.status = result_status::rejected;
    r.error = std::move(why);
    return r;
  };

  if (cmd.op == "ping") {
    r.result_json = "{\"pong\":true}";
    return r;
  }
  if (cmd.op == "state.refresh") {
    snapshot_requested();
    return r;
  }
  if (cmd.op == "reboot") {
    const cJSON* d = cJSON_GetObjectItemCaseSensitive(args, "delay_s");
    if (d && (!common::json_is_integer(d) || d->valuedouble < 0 ||
              d->valuedouble > static_cast<double>(limits::k_max_reboot_delay_s)))
      return reject("delay_s must be an integer in 0..3600");
    if (!backend_->reboot_supported())
      return fail(status::error("unsupported", "reboot is not configured on this router"));
    return r;
  }
  if (cmd.op == "config.get") {
    std::vector<std::string> keys;
    if (const cJSON* k = cJSON_GetObjectItemCaseSensitive(args, "keys")) {
      if (!cJSON_IsArray(k)) return reject("keys must be an array of strings");
      const cJSON* item = nullptr;
      cJSON_ArrayForEach(item, k) {
        if (!cJSON_IsString(item)) return reject("keys must be an array of strings");
        keys.emplace_back(item->valuestring);
      }
    }
    auto got = backend_->config_get(keys);
    if (!got.ok()) return fail(got.error());
    r.result_json = *got;
    return r;
  }
  if (cmd.op == "config.set") {
    auto rev = common::json_int(args, "rev");
    const cJSON* values = cJSON_GetObjectItemCaseSensitive(args, "values");
    if (!rev) return reject("rev must be an integer");
    if (!cJSON_IsObject(values)) return reject("values must be an object");
    auto set = backend_->config_set(*rev, common::print_json(values));
    if (!set.ok()) return fail(set.error());
    r.result_json = "{\"rev\":" + std::to_string(*set) + "}";
    common::json_ptr ev(cJSON_CreateObject());
    cJSON_AddNumberToObject(ev.get(), "rev", static_cast<double>(*set));
    cJSON* keys = cJSON_AddArrayToObject(ev.get(), "keys");
    const cJSON* item = nullptr;
    cJSON_ArrayForEach(item, values) cJSON_AddItemToArray(keys, cJSON_CreateString(item->string));
    queue_event("config.changed", common::print_json(ev.get()));
    snapshot_requested();
    return r;
  }
  if (cmd.op == "diag.ping") {
    auto host = common::json_string(args, "host");
    if (!host || !valid_diag_host(*host)) return reject("host must be a host name or IP address");
    std::int64_t count = 3;
    if (cJSON_GetObjectItemCaseSensitive(args, "count")) {
      auto c = common::json_int(args, "count");
      if (!c || *c < limits::k_diag_min_count || *c > limits::k_diag_max_count)
        return reject("count must be an integer in 1..10");
      count = *c;
    }
    auto out = backend_->diag_ping(*host, static_cast<int>(count));
    if (!out.ok()) return fail(out.error());
    r.result_json = *out;
    return r;
  }
  if (cmd.op == "technician_login.install") {
    auto st = logins_.install(cmd.args_json);
    if (!st.ok()) {
      if (st.code() == "io") return fail(st);
      return reject(st.message());
    }
    return r;
  }
  if (cmd.op == "technician_login.revoke") {
    auto id = common::json_string(args, "login_id");
    if (!id) return reject("login_id must be a string");
    auto done = logins_.revoke(*id);
    if (!done.ok()) return fail(done.error());
    return r;
  }
  r.status = result_status::unsupported;
  r.error = "unknown op \"" + cmd.op + "\"";
  return r;
}

void router_agent::answer(const std::string& id, result_status st, std::string result_json,
                          std::string error) {
  const auto payload =
      proto::encode(proto::command_result{id, st, std::move(result_json), std::move(error)});
  if (proto::is_final(st)) {
    auto js = journal_.finish(id, payload);
    if (!js.ok())
      common::log(log_level::error, "agent", "cannot record command result",
                  {{"device", s_.device_id}, {"id", id}, {"error", js.to_string()}});
  }
  enqueue(outbox::kind::result, payload);
}

void router_agent::queue_event(const std::string& type, std::string fields_json) {
  enqueue(outbox::kind::event,
          proto::encode(proto::event{clock_.now_s(), type, std::move(fields_json)}));
}

void router_agent::enqueue(outbox::kind k, std::string payload) {
  const auto events_before = outbox_.dropped_events();
  const auto results_before = outbox_.dropped_results();
  auto st = outbox_.push(k, std::move(payload));
  if (!st.ok())
    common::log(log_level::error, "agent", "outbox write failed",
                {{"device", s_.device_id}, {"error", st.to_string()}});
  if (outbox_.dropped_events() != events_before || outbox_.dropped_results() != results_before)
    common::log(log_level::warn, "agent", "outbox full; dropped",
                {{"device", s_.device_id},
                 {"dropped_events", outbox_.dropped_events()},
                 {"dropped_results", outbox_.dropped_results()}});
  flush_outbox();
}

void router_agent::flush_outbox() {
  if (!connected_ || !link_) return;
  for (const auto& e : outbox_.entries()) {
    if (inflight_.size() >= k_outbox_window) break;
    if (inflight_.count(e.seq)) continue;
    const auto kind =
        e.k == outbox::kind::result ? proto::topic_kind::result : proto::topic_kind::event;
    auto st = link_->publish(proto::topic(s_.device_id, kind), e.payload, false, e.seq);
    if (!st.ok()) break;  // not connected after all; the next connect flushes
    inflight_.insert(e.seq);
  }
}

void router_agent::on_published(std::uint64_t tag, bool ok) {
  if (tag == k_offline_tag) {
    if (shutdown_done_) {
      if (shutdown_timer_) loop_.cancel(*shutdown_timer_);
      shutdown_timer_.reset();
      link_->disconnect(std::chrono::milliseconds(500));
      connected_ = false;
      auto done = std::move(shutdown_done_);
      shutdown_done_ = nullptr;
      done();
    }
    return;
  }
  if (tag == k_untracked_tag) return;
  inflight_.erase(tag);
  if (ok) {
    auto st = outbox_.ack(tag);
    if (!st.ok())
      common::log(log_level::warn, "agent", "outbox ack not recorded",
                  {{"device", s_.device_id}, {"error", st.to_string()}});
    flush_outbox();
  }
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
  // Unacknowledged outbox entries go again then. (Reusing the Paho client right after a
  // disconnect with a publish in flight sometimes left the next connect without an answer.)
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
  std::weak_ptr<router_agent*> weak = self_;
  reconnect_timer_ = loop_.schedule(s_.sim_reboot, [weak] {
    if (auto p = weak.lock(); p && *p) {
      router_agent& a = **p;
      a.reconnect_timer_.reset();
      a.rebooting_ = false;
      a.backoff_.reset();
      a.queue_event("boot", "{\"agent\":\"" + std::string(agent_version()) + "\"}");
      a.connect_now();
    }
  });
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
  std::weak_ptr<router_agent*> weak = self_;
  shutdown_timer_ = loop_.schedule(s_.shutdown_timeout, [weak] {
    if (auto p = weak.lock(); p && *p) {
      router_agent& a = **p;
      a.shutdown_timer_.reset();
      a.on_published(k_offline_tag, false);
    }
  });
}

std::vector<std::pair<std::string, std::string>> login_events(std::string_view login_id,
                                                              const login_store::check_result& r) {
  std::vector<std::pair<std::string, std::string>> out;
  auto fields = [&](const char* reason, bool with_failures) {
    common::json_ptr f(cJSON_CreateObject());
    cJSON_AddStringToObject(f.get(), "login_id", std::string(login_id).c_str());
    if (reason) cJSON_AddStringToObject(f.get(), "reason", reason);
    if (with_failures) cJSON_AddNumberToObject(f.get(), "failures", r.failures);
    return common::print_json(f.get());
  };
  switch (r.result) {
    case login_store::outcome::accepted:
      out.emplace_back("technician_login.used", fields(nullptr, false));
      break;
    case login_store::outcome::wrong_password:
      out.emplace_back("technician_login.failed", fields("wrong_password", true));
      break;
    case login_store::outcome::locked:
      out.emplace_back("technician_login.failed", fields("wrong_password", true));
      out.emplace_back("technician_login.locked", fields(nullptr, true));
      break;
    case login_store::outcome::expired:
      out.emplace_back("technician_login.failed", fields("expired", false));
      break;
    case login_store::outcome::unknown:
      break;  // nothing to attribute the attempt to; logged by the caller
  }
  return out;
}

bool router_agent::check_login(std::string_view login_id, std::string_view password) {
  const auto r = logins_.check(login_id, password);
  if (r.result == login_store::outcome::unknown)
    common::log(log_level::info, "agent", "login check for an unknown login id",
                {{"device", s_.device_id}});
  for (auto& [type, fields] : login_events(login_id, r)) queue_event(type, std::move(fields));
  return r.result == login_store::outcome::accepted;
}

}  // namespace aterm::agent
