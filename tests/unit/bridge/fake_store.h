// An in-memory store_port for the bridge's tests: the same interface as the cloud's store, with
// the rules the bridge relies on (presence turns devices online, a final result ends a command,
// results for unknown or foreign commands are refused, all-or-nothing batches, a state.refresh
// only for a device without state and without an open or recent one, claims as store_port.h
// describes them). Thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aterm/bridge/store_port.h"
#include "aterm/common/protocol.h"

namespace aterm::bridge::test {

namespace protocol = common::protocol;

enum class command_state { queued, sent, succeeded, failed, expired, timed_out };

struct fake_command {
  std::string id;
  std::string device_id;
  std::string payload;
  std::int64_t deadline_s = 0;
  std::int64_t seq = 0;  // insertion order
  command_state state = command_state::queued;
  int attempts = 0;
  std::string op;
  std::int64_t created_s = 0;  // the store's now_s() when it was added
  std::string created_by;
  std::string claimed_by;
  std::int64_t claimed_at_ms = 0;
  std::int64_t claim_epoch = 0;
};

class fake_store final : public store_port {
 public:
  common::result<batch_outcome> apply_batch(std::span<const device_message> batch) override {
    if (during_commit_) std::exchange(during_commit_, {})();
    std::lock_guard lk(mu_);
    ++apply_calls_;
    if (fail_batches_ > 0) {
      --fail_batches_;
      return common::status::error(fail_code_, "injected failure");
    }
    batch_outcome out;
    std::set<std::string> came;
    for (const auto& m : batch) {
      messages_.push_back(m);
      auto& seen = last_seen_ms_[m.device_id];
      seen = std::max(seen, m.received_ms);
      if (m.kind == protocol::topic_kind::presence) unknown_.erase(m.device_id);
      switch (m.kind) {
        case protocol::topic_kind::presence: {
          const auto& p = std::get<protocol::presence>(m.body);
          bool& online = online_[m.device_id];
          if (p.online && !online && came.insert(m.device_id).second) {
            out.came_online.push_back(m.device_id);
          }
          if (p.online && !online) ++epoch_[m.device_id];
          online = p.online;
          break;
        }
        case protocol::topic_kind::state:
          has_state_.insert(m.device_id);
          state_ms_[m.device_id] = m.received_ms;
          break;
        case protocol::topic_kind::result: {
          const auto& r = std::get<protocol::command_result>(m.body);
          auto it = commands_.find(r.id);
          if (it == commands_.end() || it->second.device_id != m.device_id ||
              final_state(it->second.state)) {
            out.dropped_result_devices.push_back(m.device_id);
            break;
          }
          if (protocol::is_final(r.status)) {
            it->second.state = r.status == protocol::result_status::ok ? command_state::succeeded
                                                                       : command_state::failed;
          }
          break;
        }
        default:
          break;
      }
    }
    batch_sizes_.push_back(batch.size());
    return out;
  }

  common::result<std::vector<outbound_command>> claim_due(const std::string& device_id,
                                                          const claim_request& request,
                                                          std::size_t limit) override {
    std::lock_guard lk(mu_);
    ++due_calls_;
    return claim(request, limit, [&](const fake_command& c) {
      return c.device_id == device_id && due_locked(c, request);
    });
  }

  common::result<std::vector<outbound_command>> claim_for_online(const claim_request& request,
                                                                 std::size_t limit) override {
    std::lock_guard lk(mu_);
    ++claim_for_online_calls_;
    if (request.own) ++own_claim_calls_;
    return claim(request, limit, [&](const fake_command& c) {
      return due_locked(c, request) || (c.state == command_state::sent && online_[c.device_id] &&
                                        c.deadline_s > request.now_ms / 1000 &&
                                        (c.claimed_at_ms <= request.stale_before_ms ||
                                         (request.own && c.claimed_by == request.instance)));
    });
  }

  common::status release_claims(std::span<const std::string> ids,
                                const std::string& instance) override {
    std::lock_guard lk(mu_);
    for (const auto& id : ids) {
      auto it = commands_.find(id);
      if (it == commands_.end() || it->second.state != command_state::sent ||
          it->second.claimed_by != instance) {
        continue;
      }
      if (it->second.attempts <= 1) it->second.state = command_state::queued;
      it->second.attempts = std::max(it->second.attempts - 1, 0);
      it->second.claimed_at_ms = 0;
      it->second.claim_epoch = 0;
    }
    return {};
  }

  common::result<state_refresh_outcome> refresh_missing_state(
      std::span<const std::string> devices, std::int64_t deadline_s, std::int64_t not_before_s,
      std::int64_t stale_before_ms) override {
    std::lock_guard lk(mu_);
    ++refresh_calls_;
    if (fail_refresh_) return common::status::error("store_failed", "injected failure");
    state_refresh_outcome out;
    for (const auto& d : devices) {
      refresh_asked_.push_back(d);
      if (has_state_.contains(d) && state_ms_[d] >= stale_before_ms) {
        out.have_state.push_back(d);
        continue;
      }
      const bool open = std::any_of(commands_.begin(), commands_.end(), [&](const auto& e) {
        const auto& c = e.second;
        return c.device_id == d && c.op == k_state_refresh_op &&
               (!final_state(c.state) || c.created_s > not_before_s);
      });
      if (open) continue;
      const std::string id = "r-" + std::to_string(next_seq_);
      add_locked(d, id, deadline_s, std::string(k_state_refresh_op), std::string(k_system_issuer));
      const auto& c = commands_.at(id);
      out.queued.push_back(outbound_command{c.id, c.device_id, c.payload, c.deadline_s});
    }
    return out;
  }

  common::result<std::size_t> presence_unvouched(std::int64_t heard_before_ms) override {
    std::lock_guard lk(mu_);
    ++unvouched_calls_;
    std::size_t n = 0;
    for (auto& [device, online] : online_) {
      if (!online || last_seen_ms_[device] > heard_before_ms) continue;
      online = false;
      unknown_.insert(device);
      ++n;
    }
    return n;
  }

  common::result<std::size_t> expire_overdue(std::int64_t now_s) override {
    std::lock_guard lk(mu_);
    ++expire_calls_;
    std::size_t n = 0;
    for (auto& [id, c] : commands_) {
      if (final_state(c.state) || c.deadline_s > now_s) continue;
      c.state =
          c.state == command_state::queued ? command_state::expired : command_state::timed_out;
      ++n;
    }
    return n;
  }

  // ---- test controls and inspection ----
  void add_command(const std::string& device_id, const std::string& id, std::int64_t deadline_s,
                   const std::string& op = "ping", const std::string& created_by = "operator") {
    std::lock_guard lk(mu_);
    add_locked(device_id, id, deadline_s, op, created_by);
  }
  // The time commands are created at (for refresh_missing_state's not_before_s). Default 0.
  void set_now(std::int64_t now_s) {
    std::lock_guard lk(mu_);
    now_s_ = now_s;
  }
  void set_has_state(const std::string& device_id) {
    std::lock_guard lk(mu_);
    has_state_.insert(device_id);
  }
  void fail_refresh(bool fail) {
    std::lock_guard lk(mu_);
    fail_refresh_ = fail;
  }
  // Moves a command to a final state, as a device's result would.
  void finish(const std::string& id) {
    std::lock_guard lk(mu_);
    commands_.at(id).state = command_state::succeeded;
  }
  // Commands of `op` (all devices), in insertion order.
  std::vector<fake_command> commands_of(const std::string& op) {
    std::lock_guard lk(mu_);
    std::vector<fake_command> out;
    for (const auto& [id, c] : commands_) {
      if (c.op == op) out.push_back(c);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    return out;
  }
  // Every device refresh_missing_state was asked about, in order.
  std::vector<std::string> refresh_asked() {
    std::lock_guard lk(mu_);
    return refresh_asked_;
  }
  int refresh_calls() {
    std::lock_guard lk(mu_);
    return refresh_calls_;
  }
  // Presence unknown (presence_unvouched) and not confirmed since.
  bool unknown(const std::string& device_id) {
    std::lock_guard lk(mu_);
    return unknown_.contains(device_id);
  }
  int unvouched_calls() {
    std::lock_guard lk(mu_);
    return unvouched_calls_;
  }
  void set_online(const std::string& device_id, bool online) {
    std::lock_guard lk(mu_);
    if (online && !online_[device_id]) ++epoch_[device_id];
    online_[device_id] = online;
  }
  // Runs `f` inside the next apply_batch, as if it happened while that commit ran. Not
  // thread-safe: set it before the ingest runs.
  void during_next_commit(std::function<void()> f) { during_commit_ = std::move(f); }
  // The next n apply_batch calls fail with `code` (k_store_unavailable: the database is down).
  void fail_next_batches(int n, std::string_view code = "store_failed") {
    std::lock_guard lk(mu_);
    fail_batches_ = n;
    fail_code_ = code;
  }
  fake_command command(const std::string& id) {
    std::lock_guard lk(mu_);
    return commands_.at(id);
  }
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard lk(mu_);
    return batch_sizes_;
  }
  std::size_t stored() {
    std::lock_guard lk(mu_);
    return messages_.size();
  }
  std::size_t stored(protocol::topic_kind kind) {
    std::lock_guard lk(mu_);
    return static_cast<std::size_t>(std::count_if(messages_.begin(), messages_.end(),
                                                  [&](const auto& m) { return m.kind == kind; }));
  }
  std::vector<device_message> messages() {
    std::lock_guard lk(mu_);
    return messages_;
  }
  bool online(const std::string& device_id) {
    std::lock_guard lk(mu_);
    return online_[device_id];
  }
  std::vector<std::string> sent_log() {
    std::lock_guard lk(mu_);
    return sent_log_;
  }
  int apply_calls() {
    std::lock_guard lk(mu_);
    return apply_calls_;
  }
  int expire_calls() {
    std::lock_guard lk(mu_);
    return expire_calls_;
  }
  int claim_for_online_calls() {
    std::lock_guard lk(mu_);
    return claim_for_online_calls_;
  }
  int own_claim_calls() {
    std::lock_guard lk(mu_);
    return own_claim_calls_;
  }

 private:
  static bool final_state(command_state s) {
    return s != command_state::queued && s != command_state::sent;
  }
  void add_locked(const std::string& device_id, const std::string& id, std::int64_t deadline_s,
                  const std::string& op, const std::string& created_by) {
    protocol::command cmd;
    cmd.id = id;
    cmd.op = op;
    cmd.deadline = deadline_s;
    fake_command c;
    c.id = id;
    c.device_id = device_id;
    c.payload = protocol::encode(cmd);
    c.deadline_s = deadline_s;
    c.seq = next_seq_++;
    c.op = op;
    c.created_s = now_s_;
    c.created_by = created_by;
    commands_[id] = std::move(c);
  }
  // Queued, or sent in an earlier connection of its online device, deadline ahead.
  bool due_locked(const fake_command& c, const claim_request& request) {
    return online_[c.device_id] && c.deadline_s > request.now_ms / 1000 &&
           (c.state == command_state::queued ||
            (c.state == command_state::sent && c.claim_epoch < epoch_[c.device_id]));
  }
  template <typename Pred>
  std::vector<outbound_command> claim(const claim_request& request, std::size_t limit, Pred pred) {
    auto out = select(limit, pred);
    for (const auto& o : out) {
      auto& c = commands_.at(o.id);
      c.state = command_state::sent;
      c.claimed_by = request.instance;
      c.claimed_at_ms = request.now_ms;
      c.claim_epoch = epoch_[c.device_id];
      ++c.attempts;
      sent_log_.push_back(o.id);
    }
    return out;
  }
  template <typename Pred>
  std::vector<outbound_command> select(std::size_t limit, Pred pred) {
    std::vector<const fake_command*> hits;
    for (const auto& [id, c] : commands_) {
      if (pred(c)) hits.push_back(&c);
    }
    std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    std::vector<outbound_command> out;
    for (const auto* c : hits) {
      if (out.size() >= limit) break;
      out.push_back(outbound_command{c->id, c->device_id, c->payload, c->deadline_s});
    }
    return out;
  }

  std::mutex mu_;
  std::map<std::string, bool> online_;
  std::map<std::string, std::int64_t> epoch_;  // the device's online_epoch
  std::set<std::string> has_state_;
  std::vector<std::string> refresh_asked_;
  std::int64_t now_s_ = 0;
  bool fail_refresh_ = false;
  int refresh_calls_ = 0;
  std::map<std::string, fake_command> commands_;
  std::vector<device_message> messages_;
  std::vector<std::size_t> batch_sizes_;
  std::vector<std::string> sent_log_;
  std::int64_t next_seq_ = 0;
  int fail_batches_ = 0;
  std::map<std::string, std::int64_t> last_seen_ms_;
  std::map<std::string, std::int64_t> state_ms_;  // received_ms of the device's latest state
  std::set<std::string> unknown_;
  int unvouched_calls_ = 0;
  std::function<void()> during_commit_;
  std::string fail_code_ = "store_failed";
  int apply_calls_ = 0;
  int expire_calls_ = 0;
  int due_calls_ = 0;
  int claim_for_online_calls_ = 0;
  int own_claim_calls_ = 0;
};

}  // namespace aterm::bridge::test
