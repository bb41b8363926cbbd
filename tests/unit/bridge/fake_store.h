// An in-memory store_port for the bridge's tests: the same interface as the cloud's store, with
// the rules the bridge relies on (presence turns devices online, a final result ends a command,
// results for unknown or foreign commands are refused, all-or-nothing batches). Thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
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
};

class fake_store final : public store_port {
 public:
  common::result<batch_outcome> apply_batch(std::span<const device_message> batch) override {
    std::lock_guard lk(mu_);
    ++apply_calls_;
    if (fail_batches_ > 0) {
      --fail_batches_;
      return common::status::error("store_failed", "injected failure");
    }
    batch_outcome out;
    std::set<std::string> came;
    for (const auto& m : batch) {
      messages_.push_back(m);
      switch (m.kind) {
        case protocol::topic_kind::presence: {
          const auto& p = std::get<protocol::presence>(m.body);
          bool& online = online_[m.device_id];
          if (p.online && !online && came.insert(m.device_id).second) {
            out.came_online.push_back(m.device_id);
          }
          online = p.online;
          break;
        }
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

  common::result<std::vector<outbound_command>> due_commands(const std::string& device_id,
                                                             std::int64_t now_s,
                                                             std::size_t limit) override {
    std::lock_guard lk(mu_);
    ++due_calls_;
    return select(limit, [&](const fake_command& c) {
      return c.device_id == device_id && !final_state(c.state) && c.deadline_s > now_s;
    });
  }

  common::result<std::vector<outbound_command>> queued_for_online(std::int64_t now_s,
                                                                  std::size_t limit) override {
    std::lock_guard lk(mu_);
    return select(limit, [&](const fake_command& c) {
      return c.state == command_state::queued && online_[c.device_id] && c.deadline_s > now_s;
    });
  }

  common::result<std::vector<outbound_command>> due_for_online(std::int64_t now_s,
                                                               std::size_t limit) override {
    std::lock_guard lk(mu_);
    ++due_for_online_calls_;
    return select(limit, [&](const fake_command& c) {
      return !final_state(c.state) && online_[c.device_id] && c.deadline_s > now_s;
    });
  }

  common::status mark_sent(std::span<const std::string> ids, std::int64_t) override {
    std::lock_guard lk(mu_);
    for (const auto& id : ids) {
      auto it = commands_.find(id);
      if (it == commands_.end()) continue;
      if (it->second.state == command_state::queued) it->second.state = command_state::sent;
      ++it->second.attempts;
      sent_log_.push_back(id);
    }
    return {};
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
                   const std::string& op = "ping") {
    std::lock_guard lk(mu_);
    protocol::command cmd;
    cmd.id = id;
    cmd.op = op;
    cmd.deadline = deadline_s;
    commands_[id] = fake_command{id, device_id, protocol::encode(cmd), deadline_s, next_seq_++};
  }
  void set_online(const std::string& device_id, bool online) {
    std::lock_guard lk(mu_);
    online_[device_id] = online;
  }
  void fail_next_batches(int n) {
    std::lock_guard lk(mu_);
    fail_batches_ = n;
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
  int due_for_online_calls() {
    std::lock_guard lk(mu_);
    return due_for_online_calls_;
  }

 private:
  static bool final_state(command_state s) {
    return s != command_state::queued && s != command_state::sent;
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
  std::map<std::string, fake_command> commands_;
  std::vector<device_message> messages_;
  std::vector<std::size_t> batch_sizes_;
  std::vector<std::string> sent_log_;
  std::int64_t next_seq_ = 0;
  int fail_batches_ = 0;
  int apply_calls_ = 0;
  int expire_calls_ = 0;
  int due_calls_ = 0;
  int due_for_online_calls_ = 0;
};

}  // namespace aterm::bridge::test
