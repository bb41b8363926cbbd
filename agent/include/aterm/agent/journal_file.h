// A crash-safe record file for flash storage: records are appended one per line as
// "<8 hex of SHA-256(record)> <record>\n" and synced; a torn or corrupt line (power cut in the
// middle of a write, a flipped bit) fails its check and is skipped at load, never trusted.
// rewrite() replaces the whole file atomically (write temp, fsync, rename, fsync the folder).
// Records must not contain '\n' (compact JSON never does). Not thread-safe: one owner.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/json.h"
#include "aterm/common/status.h"

namespace aterm::agent {

class journal_file {
 public:
  explicit journal_file(std::filesystem::path path) : path_(std::move(path)) {}

  struct loaded {
    std::vector<std::string> records;
    std::size_t skipped = 0;  // torn or corrupt lines
  };
  // A missing file loads as empty. Errors: "io".
  common::result<loaded> load() const;
  // Appends one record and syncs it. Errors: "io", "bad_value" (newline or too long).
  common::status append(std::string_view record);
  // Replaces the file with exactly `records`. Errors: "io".
  common::status rewrite(const std::vector<std::string>& records);
  // Lines written since the last load or rewrite plus those it wrote.
  std::size_t lines() const { return lines_; }
  const std::filesystem::path& path() const { return path_; }

  // Writes `data` to `path` atomically (temp, fsync, rename, fsync folder) with `mode`.
  static common::status write_atomic(const std::filesystem::path& path, std::string_view data,
                                     unsigned mode = 0600);
  // The JSON document a store keeps whole in `path` (written with write_atomic), at most
  // limits::k_max_store_file bytes; nullptr when the file does not exist. Errors: "io" (it
  // exists but cannot be read), "bad_json" naming the file.
  static common::result<common::json_ptr> read_json(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  mutable std::size_t lines_ = 0;
};

}  // namespace aterm::agent
