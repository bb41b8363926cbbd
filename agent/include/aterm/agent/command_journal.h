// "Never twice" (issue 3): the last `capacity` command ids and their final results, kept in
// data_dir/commands.journal (a journal_file, so a torn or corrupt line is skipped, not trusted).
// begin() is recorded before a command runs and finish() after it; an id that was begun but never
// finished (the agent died while running it) is answered as an error "interrupted" instead of
// running again. Owned by the agent thread; not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aterm/agent/journal_file.h"
#include "aterm/agent/limits.h"
#include "aterm/common/status.h"

namespace aterm::agent {

class command_journal {
 public:
  // Loads the journal (skipping bad lines) and compacts it. Errors: "io".
  static common::result<command_journal> open(const std::filesystem::path& file,
                                              std::size_t capacity = limits::k_dedupe_entries);

  enum class seen { no, running, finished };
  struct lookup {
    seen state = seen::no;
    std::string result_payload;  // the encoded result when finished
  };
  lookup find(std::string_view id) const;

  // Records that `id` starts running. Errors: "io" (the caller must not run the command then).
  common::status begin(std::string_view id);
  // Records the final encoded result of `id`.
  common::status finish(std::string_view id, std::string_view result_payload);

  std::size_t size() const { return order_.size(); }
  std::size_t skipped_at_load() const { return skipped_; }

 private:
  command_journal(std::filesystem::path file, std::size_t capacity)
      : file_(std::move(file)), capacity_(capacity) {}
  void remember(const std::string& id, std::optional<std::string> payload);
  common::status append(const std::string& id, const std::optional<std::string>& payload);
  common::status compact();

  journal_file file_;
  std::size_t capacity_;
  std::size_t skipped_ = 0;
  std::deque<std::string> order_;  // oldest first
  std::unordered_map<std::string, std::optional<std::string>> entries_;
};

}  // namespace aterm::agent
