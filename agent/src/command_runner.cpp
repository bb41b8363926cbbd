// router_agent's command runner: decodes commands, answers repeats from the journal, refuses
// expired ones, records each before running it (never twice), runs the op through the command
// table (op_dispatch.h) and queues results and events in the outbox.
#include "aterm/agent/op_dispatch.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/log.h"
#include "router_agent_internal.h"

namespace aterm::agent {

using proto::result_status;

namespace {

// Outbox entries in flight at once: keeps order on one connection without holding them all.
constexpr std::size_t k_outbox_window = 16;

}  // namespace

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
  op_context ctx{*backend_, logins_, s_.device_id, [this] { snapshot_requested(); },
                 [this](common::commands::event_type t, std::string fields) {
                   queue_event(std::string(to_string(t)), std::move(fields));
                 }};
  auto r = run_op(ctx, cmd.op, cmd.args_json);
  answer(cmd.id, r.status, std::move(r.result_json), std::move(r.error));
  if (r.reboot_after) schedule_self(*r.reboot_after, &router_agent::do_reboot);
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
    finish_shutdown();
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

}  // namespace aterm::agent
