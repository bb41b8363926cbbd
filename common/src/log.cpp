#include "aterm/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "aterm/common/clock.h"
#include "utf8.h"

namespace aterm::common {

namespace {

std::mutex g_write_mu;
log_sink g_sink = nullptr;
// The recent lines (keep_recent_log_lines), guarded by g_write_mu.
std::deque<std::string> g_recent;
std::size_t g_recent_bytes = 0;
std::size_t g_recent_max_lines = 0;
std::size_t g_recent_max_bytes = 0;

void trim_recent() {
  while (!g_recent.empty() &&
         (g_recent.size() > g_recent_max_lines || g_recent_bytes > g_recent_max_bytes)) {
    g_recent_bytes -= g_recent.front().size();
    g_recent.pop_front();
  }
}
std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::atomic<bool> g_level_set{false};
std::once_flag g_env_once;

const char* level_name(log_level l) {
  switch (l) {
    case log_level::debug:
      return "DEBUG";
    case log_level::info:
      return "INFO";
    case log_level::warn:
      return "WARN";
    case log_level::error:
      return "ERROR";
  }
  return "?";
}

void read_env_level() {
  if (g_level_set.load()) return;
  const char* env = std::getenv("ATERM_LOG_LEVEL");
  if (env == nullptr) return;
  if (auto l = parse_log_level(env)) g_level.store(static_cast<int>(*l));
}

// Length of the valid multi-byte UTF-8 sequence at s[i] that is safe in a log line, 0 otherwise.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  std::uint32_t cp = 0;
  const std::size_t n = detail::utf8_sequence(s, i, cp);
  if (n < 2) return 0;
  // C1 controls and the Unicode line/paragraph separators could break a line for some readers.
  if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) return 0;
  return n;
}

// Escapes everything that is not printable ASCII or valid, harmless UTF-8.
void append_escaped(std::string& out, std::string_view v) {
  static constexpr char k_hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence(v, i); n > 0) {
        out.append(v.substr(i, n));
        i += n;
      } else {
        out += "\\x";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xF];
        ++i;
      }
      continue;
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += k_hex[c >> 4];
          out += k_hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

std::string timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const std::int64_t ms = to_unix_ms(now);
  std::string t = format_utc(from_unix_s(ms >= 0 ? ms / 1000 : (ms - 999) / 1000));
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(((ms % 1000) + 1000) % 1000));
  t.pop_back();  // the 'Z'
  t += frac;
  return t;
}

void write_line(const std::string& line) {
  std::lock_guard lock(g_write_mu);
  if (g_recent_max_lines > 0 && line.size() <= g_recent_max_bytes) {
    g_recent.push_back(line);
    g_recent_bytes += line.size();
    trim_recent();
  }
  if (g_sink != nullptr) {
    g_sink(line);
    return;
  }
  const std::string with_newline = line + "\n";
  const char* p = with_newline.data();
  std::size_t left = with_newline.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

log_field::log_field(std::string_view k, double v) : key(k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  value = buf;
}

log_field secret_field(std::string_view key) {
  log_field f(key, std::string_view{});
  f.secret = true;
  return f;
}

void set_log_level(log_level level) {
  g_level_set.store(true);
  g_level.store(static_cast<int>(level));
}

log_level get_log_level() {
  std::call_once(g_env_once, read_env_level);
  return static_cast<log_level>(g_level.load());
}

std::optional<log_level> parse_log_level(std::string_view s) {
  if (s == "debug") return log_level::debug;
  if (s == "info") return log_level::info;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  return std::nullopt;
}

void log(log_level level, std::string_view component, std::string_view message,
         std::initializer_list<log_field> fields) {
  if (static_cast<int>(level) < static_cast<int>(get_log_level())) return;
  std::string line = timestamp_now();
  line += ' ';
  line += level_name(level);
  line += ' ';
  append_escaped(line, component);
  line += ": ";
  append_escaped(line, message);
  for (const log_field& f : fields) {
    line += ' ';
    append_escaped(line, f.key);
    line += '=';
    line += f.secret ? "<redacted>" : escape_log_value(f.value);
  }
  write_line(line);
}

void set_log_sink(log_sink sink) {
  std::lock_guard lock(g_write_mu);
  g_sink = sink;
}

void keep_recent_log_lines(std::size_t max_lines, std::size_t max_bytes) {
  std::lock_guard lock(g_write_mu);
  g_recent_max_lines = max_lines;
  g_recent_max_bytes = max_bytes;
  trim_recent();
}

std::vector<std::string> recent_log_lines() {
  std::lock_guard lock(g_write_mu);
  return {g_recent.begin(), g_recent.end()};
}

std::string escape_log_value(std::string_view v) {
  std::string out;
  append_escaped(out, v);
  if (v.empty() || v.find(' ') != std::string_view::npos) return "\"" + out + "\"";
  return out;
}

}  // namespace aterm::common
