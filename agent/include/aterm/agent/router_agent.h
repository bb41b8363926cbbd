// One router's agent: its MQTT session (session.cpp: connection state machine, presence,
// backoff), state publishing (state_publisher.cpp), the command runner with the never-twice
// journal and the outbox (command_runner.cpp, ops dispatched through op_dispatch.h), technician
// logins (logins/) and the device backend.
// Thread: every method, and every object it owns, belongs to the event_loop's thread. The
// MQTT link's callbacks only post to that loop (try_post, so a flood is dropped and counted, not
// queued without bound). Lifetime: the loop must stop running before a router_agent is destroyed,
// and must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aterm/agent/agent_config.h"
#include "aterm/agent/backend.h"
#include "aterm/agent/backoff.h"
#include "aterm/agent/command_journal.h"
#include "aterm/agent/event_loop.h"
#include "aterm/agent/login_store.h"
#include "aterm/agent/mqtt_link.h"
#include "aterm/agent/outbox.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

// The agent version reported in presence and boot events.
const char* agent_version();

// True when the device clock can be trusted for command deadlines: it reads at least
// `trust_floor` and, when `require_sync`, the kernel reports NTP synchronisation.
bool clock_trustworthy(const common::clock& clock, std::int64_t trust_floor, bool require_sync);

// The events a login check produces: (type, fields JSON) in publishing order; a use carries
// `config_rev` (the configuration revision at the use) when known. Pure.
std::vector<std::pair<std::string, std::string>> login_events(
    std::string_view login_id, const login_store::check_result& r,
    std::optional<std::int64_t> config_rev = std::nullopt);
// The technician_login.ended event of `e`, with the revision when it ended (`config_rev`, when
// known). Pure.
std::pair<std::string, std::string> session_end_event(const ended_session& e,
                                                      std::optional<std::int64_t> config_rev);

// Bounds how many routers of one process are in the middle of connecting (TCP + TLS + CONNECT).
// A fleet in one process that starts more TLS handshakes than its cores finish within
// connect_timeout_s only produces timeouts and retries. Owned by the agent thread.
class connect_gate {
 public:
  explicit connect_gate(std::size_t limit) : limit_(limit == 0 ? 1 : limit) {}
  // Runs `go` now or when a slot frees up.
  void acquire(std::function<void()> go);
  void release();

 private:
  std::size_t limit_;
  std::size_t active_ = 0;
  std::deque<std::function<void()>> waiting_;
};

class router_agent {
 public:
  struct counters {
    std::uint64_t commands_run = 0;
    std::uint64_t duplicates_answered = 0;
    std::uint64_t malformed_dropped = 0;  // no readable id: nothing to answer
    std::uint64_t messages_dropped = 0;   // the loop queue was full
    std::uint64_t snapshots = 0;
    std::uint64_t connects = 0;
  };

  // Creates data_dir (0700) and opens the stores there; queues a boot event.
  // Errors: "io", "mqtt", or the backend's.
  static common::result<std::unique_ptr<router_agent>> create(event_loop& loop,
                                                              const common::clock& clock,
                                                              router_settings settings,
                                                              std::unique_ptr<backend> be);
  ~router_agent();

  // Starts connecting after `delay`.
  void start(std::chrono::milliseconds delay = {});
  // Connects only through `gate` (simulate). REQUIRES: called before start(); `gate` outlives
  // this router.
  void use_connect_gate(connect_gate* gate) { gate_ = gate; }
  // Calls `f` on the agent thread after each established connection, once the snapshot and the
  // outbox are under way (run: hands the heap the TLS handshake freed back to the kernel).
  void on_each_connect(std::function<void()> f) { on_each_connect_ = std::move(f); }
  // Publishes the offline presence (waiting up to shutdown_timeout for its acknowledgement),
  // disconnects, then calls `done`.
  void shutdown(std::function<void()> done);

  // login.check from the local socket or login-check: verifies, updates the store, queues the
  // technician_login.used / .failed / .locked event. True when accepted.
  bool check_login(std::string_view login_id, std::string_view password);
  // login.logout from the local socket or login-logout: ends the technician's local session and
  // queues technician_login.ended. False when `login_id` has no open session.
  bool logout_login(std::string_view login_id);

  const std::string& device_id() const { return s_.device_id; }
  bool connected() const { return connected_; }
  const counters& stats() const { return stats_; }

 private:
  router_agent(event_loop& loop, const common::clock& clock, router_settings s,
               std::unique_ptr<backend> be, command_journal journal, outbox box,
               login_store logins);

  // What the MQTT link reports, carried to the agent thread as one kind of task (one posted
  // callable for every link callback keeps the router build small).
  struct link_event {
    enum class kind { connected, connect_failed, lost, message, published };
    kind k;
    std::string text;       // connect_failed, lost: the cause; message: the topic
    std::string payload;    // message
    std::uint64_t tag = 0;  // published
    bool ok = false;        // published
  };
  // From the link's thread: queues `e` for the router behind `weak` (try_post: a flood is dropped
  // and counted).
  static void post_link_event(const std::weak_ptr<router_agent*>& weak, event_loop& loop,
                              link_event e);
  void on_link_event(const link_event& e);
  // Runs `method` on the agent thread after `delay` unless the router is gone by then.
  event_loop::timer_id schedule_self(std::chrono::milliseconds delay,
                                     void (router_agent::*method)());
  // The timers' work.
  void on_reconnect_timer();
  void on_interval_timer();
  void on_snapshot_timer();
  void on_reboot_over();
  void on_shutdown_timer();

  void connect_now();
  void begin_connect();
  void release_gate();
  void schedule_reconnect(const std::string& why);
  void on_connected();
  void on_connect_failed(const std::string& cause);
  void on_lost(const std::string& cause);
  void on_message(const std::string& topic, const std::string& payload);
  void on_published(std::uint64_t tag, bool ok);

  void handle_command(const common::protocol::command& cmd);
  void answer(const std::string& id, common::protocol::result_status st,
              std::string result_json = "{}", std::string error = {});
  void queue_event(const std::string& type, std::string fields_json);
  // Queues in the outbox (logging drops) and sends what the window allows.
  void enqueue(outbox::kind k, std::string payload);
  void flush_outbox();
  void publish_presence(bool online, std::uint64_t tag);
  void publish_snapshot();
  void snapshot_requested();
  void poll_state();
  void arm_interval();
  void do_reboot();

  void queue_boot_event();
  // Queues technician_login.ended for every local session that ended (login_store::end_sessions).
  void report_ended_sessions();
  // Ends a shutdown once the offline presence is acknowledged or its wait ran out.
  void finish_shutdown();

  event_loop& loop_;
  const common::clock& clock_;
  router_settings s_;
  std::unique_ptr<backend> backend_;
  command_journal journal_;
  outbox outbox_;
  login_store logins_;
  backoff backoff_;
  std::unique_ptr<mqtt_link> link_;
  // Shared with callbacks that may outlive a reconnect; cleared in the destructor.
  std::shared_ptr<router_agent*> self_;

  connect_gate* gate_ = nullptr;
  std::function<void()> on_each_connect_;
  bool holding_gate_ = false;
  bool waiting_gate_ = false;
  bool connected_ = false;
  bool connecting_ = false;
  bool stopping_ = false;
  bool rebooting_ = false;
  common::mono_time connected_at_{};
  std::set<std::uint64_t> inflight_;
  std::optional<event_loop::timer_id> reconnect_timer_;
  std::optional<event_loop::timer_id> interval_timer_;
  std::optional<event_loop::timer_id> snapshot_timer_;
  std::optional<event_loop::timer_id> poll_timer_;
  std::optional<common::mono_time> last_snapshot_at_;
  std::int64_t seq_ = 0;
  std::string last_significant_;
  std::function<void()> shutdown_done_;
  std::optional<event_loop::timer_id> shutdown_timer_;
  counters stats_;
};

}  // namespace aterm::agent
