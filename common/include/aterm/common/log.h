// One line per event on stderr: "2026-11-27T09:37:33.123Z INFO bridge: message key=value ...".
// Values are escaped (control characters, quotes) so text from devices or users cannot forge
// lines. A field made with secret_field() prints as key=<redacted>: passwords, one-time
// passwords, private keys and session tokens are only ever logged that way. Thread-safe.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aterm::common {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

// Lives only in the argument list of one log call: the key is a view (keys are string literals,
// or strings that outlive the call's full expression).
struct log_field {
  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(v) {}
  log_field(std::string_view k, const std::string& v) : key(k), value(v) {}
  // Every integer type (size_t and long differ between 32- and 64-bit router targets).
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) log_field(std::string_view k, T v)
      : key(k), value(std::to_string(v)) {}
  // Also takes unscoped enums (promoted to int).
  log_field(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  log_field(std::string_view k, double v);  // shortest form: 1.5, not 1.500000
  log_field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  std::string_view key;
  std::string value;
  bool secret = false;
};

// A field whose value is never printed.
log_field secret_field(std::string_view key);

// Default: info. Also read once from the environment variable ATERM_LOG_LEVEL
// (debug|info|warn|error) by the first log call when set_log_level was not called.
void set_log_level(log_level level);
log_level get_log_level();
std::optional<log_level> parse_log_level(std::string_view s);

void log(log_level level, std::string_view component, std::string_view message,
         std::initializer_list<log_field> fields = {});

// For tests: where lines go instead of stderr (nullptr restores stderr). Not thread-safe with
// concurrent logging.
using log_sink = void (*)(std::string_view line);
void set_log_sink(log_sink sink);

// Keeps the last `max_lines` lines written (at most `max_bytes` of them in all) in memory, for
// recent_log_lines (the agent's log.tail). Off (0) by default; lines written before it was turned
// on are not kept. Lines hold only what was logged: secret_field values are never in them.
void keep_recent_log_lines(std::size_t max_lines, std::size_t max_bytes);
// The kept lines, oldest first, without the newline.
std::vector<std::string> recent_log_lines();

// Escapes a value for a log line: printable ASCII and UTF-8 kept, quotes, backslashes and
// control characters escaped, quoted when it holds spaces.
std::string escape_log_value(std::string_view v);

}  // namespace aterm::common
