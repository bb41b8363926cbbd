// The one source of "now" (DESIGN.md section 7). Production code takes a `clock&`; tests use
// manual_clock. Wall time is for records and deadlines, monotonic time for timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "aterm/common/status.h"

namespace aterm::common {

using wall_time = std::chrono::system_clock::time_point;
using mono_time = std::chrono::steady_clock::time_point;

// Implementations are thread-safe.
class clock {
 public:
  virtual ~clock() = default;
  virtual wall_time now() const = 0;
  virtual mono_time mono() const = 0;
  // Unix seconds / milliseconds of now().
  std::int64_t now_s() const;
  std::int64_t now_ms() const;
};

class system_clock final : public clock {
 public:
  wall_time now() const override { return std::chrono::system_clock::now(); }
  mono_time mono() const override { return std::chrono::steady_clock::now(); }
  // The process-wide instance.
  static system_clock& instance();
};

// Starts at `start` and moves only when told; mono() moves with it. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(wall_time start = wall_time{});
  wall_time now() const override;
  mono_time mono() const override;
  void set(wall_time t);  // moves mono() by the same amount when t is later
  void advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  wall_time wall_;
  mono_time mono_;
};

std::int64_t to_unix_s(wall_time t);
std::int64_t to_unix_ms(wall_time t);
wall_time from_unix_s(std::int64_t s);
wall_time from_unix_ms(std::int64_t ms);

// "2026-11-27T18:37:33+09:00" (fixed JST, no DST; seconds precision).
std::string format_jst(wall_time t);
// "2026-11-27T09:37:33Z".
std::string format_utc(wall_time t);
// ISO 8601 / RFC 3339 date-time with "Z" or "+hh:mm"/"-hh:mm" ("2026-11-27T09:37:33Z",
// "2026-11-27T18:37:33+09:00", optional fractional seconds) or a date "2026-11-27" (midnight UTC).
// Error "bad_time" otherwise.
result<wall_time> parse_iso8601(std::string_view text);

}  // namespace aterm::common
