// Results and events waiting to be sent (issue 3), kept in data_dir/outbox.journal so they
// survive a broker outage and an agent restart, and sent in order after reconnect. Bounded by
// entries and bytes; when full, events are dropped oldest-first (and counted) before any result
// is, then results oldest-first. Entries leave when the broker acknowledged them (ack).
// Owned by the agent thread; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>

#include "aterm/agent/journal_file.h"
#include "aterm/agent/limits.h"
#include "aterm/common/status.h"

namespace aterm::agent {

struct outbox_settings {
  std::size_t max_entries = limits::k_outbox_entries;  // Default: 1,000 (outbox.max_entries).
  std::size_t max_bytes = limits::k_outbox_bytes;      // Default: 1 MiB (outbox.max_bytes).
};

class outbox {
 public:
  enum class kind { result, event };
  struct entry {
    std::uint64_t seq = 0;
    kind k = kind::event;
    std::string payload;
  };

  // Loads (skipping torn lines) and compacts. Errors: "io".
  static common::result<outbox> open(const std::filesystem::path& file, outbox_settings s = {});

  // Queues a payload, dropping per the rule above when full. Errors: "io" (the entry is still
  // queued in memory).
  common::status push(kind k, std::string payload);
  // Removes the entry `seq` (sent and acknowledged). Unknown seq is ignored.
  common::status ack(std::uint64_t seq);

  const std::deque<entry>& entries() const { return entries_; }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t dropped_events() const { return dropped_events_; }
  std::uint64_t dropped_results() const { return dropped_results_; }

 private:
  outbox(std::filesystem::path file, outbox_settings s) : file_(std::move(file)), s_(s) {}
  void drop_one();
  common::status write_line(const std::string& record);
  common::status compact();

  journal_file file_;
  outbox_settings s_;
  std::deque<entry> entries_;
  std::size_t bytes_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_events_ = 0;
  std::uint64_t dropped_results_ = 0;
};

}  // namespace aterm::agent
