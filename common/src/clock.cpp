#include "aterm/common/clock.h"

#include <cstdio>
#include <limits>

namespace aterm::common {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct civil {
  int64_t y;
  int m;
  int d;
};

civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : k_days[m - 1];
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

// "YYYY-MM-DDThh:mm:ss" of unix seconds `s`.
std::string format_civil(int64_t s) {
  const int64_t days = floor_div(s, 86400);
  const int64_t sod = s - days * 86400;
  const civil c = civil_from_days(days);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d", static_cast<long long>(c.y),
                c.m, c.d, static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
                static_cast<int>(sod % 60));
  return buf;
}

// The range of unix seconds that a nanosecond wall_time can hold, with a margin.
constexpr int64_t k_max_s = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;

class cursor {
 public:
  explicit cursor(std::string_view t) : t_(t) {}
  bool done() const { return i_ == t_.size(); }
  bool peek(char c) const { return i_ < t_.size() && t_[i_] == c; }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  // Exactly `n` digits.
  bool digits(int n, int64_t& out) {
    out = 0;
    for (int k = 0; k < n; ++k) {
      if (i_ >= t_.size() || t_[i_] < '0' || t_[i_] > '9') return false;
      out = out * 10 + (t_[i_++] - '0');
    }
    return true;
  }
  // One or more digits as a fraction of a second in nanoseconds (digits past 9 are dropped).
  bool fraction(int64_t& ns) {
    ns = 0;
    int n = 0;
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') {
      if (n < 9) ns = ns * 10 + (t_[i_] - '0');
      ++n;
      ++i_;
    }
    for (int k = n; k < 9; ++k) ns *= 10;
    return n > 0;
  }

 private:
  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

std::int64_t clock::now_s() const {
  return to_unix_s(now());
}
std::int64_t clock::now_ms() const {
  return to_unix_ms(now());
}

system_clock& system_clock::instance() {
  static system_clock c;
  return c;
}

manual_clock::manual_clock(wall_time start)
    : wall_(start), mono_(mono_time{} + std::chrono::hours(1)) {}

wall_time manual_clock::now() const {
  std::lock_guard lock(mu_);
  return wall_;
}

mono_time manual_clock::mono() const {
  std::lock_guard lock(mu_);
  return mono_;
}

void manual_clock::set(wall_time t) {
  std::lock_guard lock(mu_);
  if (t > wall_) mono_ += t - wall_;
  wall_ = t;
}

void manual_clock::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  wall_ += duration_cast<wall_time::duration>(d);
  if (d.count() > 0) mono_ += d;
}

std::int64_t to_unix_s(wall_time t) {
  return std::chrono::floor<seconds>(t.time_since_epoch()).count();
}

std::int64_t to_unix_ms(wall_time t) {
  return std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
}

wall_time from_unix_s(std::int64_t s) {
  if (s > k_max_s) s = k_max_s;
  if (s < -k_max_s) s = -k_max_s;
  return wall_time{duration_cast<wall_time::duration>(seconds(s))};
}

wall_time from_unix_ms(std::int64_t ms) {
  const int64_t k_max_ms = k_max_s * 1000;
  if (ms > k_max_ms) ms = k_max_ms;
  if (ms < -k_max_ms) ms = -k_max_ms;
  return wall_time{duration_cast<wall_time::duration>(milliseconds(ms))};
}

std::string format_jst(wall_time t) {
  return format_civil(to_unix_s(t) + 9 * 3600) + "+09:00";
}

std::string format_utc(wall_time t) {
  return format_civil(to_unix_s(t)) + "Z";
}

result<wall_time> parse_iso8601(std::string_view text) {
  const auto bad = [&](const char* why) {
    return status::error("bad_time",
                         std::string(why) + " in \"" + std::string(text.substr(0, 64)) + "\"");
  };
  cursor c(text);
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ns = 0, off = 0;
  if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, mo) || !c.eat('-') || !c.digits(2, d)) {
    return bad("expected YYYY-MM-DD");
  }
  if (mo < 1 || mo > 12) return bad("month out of range");
  if (d < 1 || d > days_in_month(y, static_cast<int>(mo))) return bad("day out of range");
  if (!c.done()) {
    if (!c.eat('T')) return bad("expected T");
    if (!c.digits(2, h) || !c.eat(':') || !c.digits(2, mi) || !c.eat(':') || !c.digits(2, s)) {
      return bad("expected hh:mm:ss");
    }
    if (h > 23 || mi > 59 || s > 59) return bad("time out of range");
    if (c.eat('.') && !c.fraction(ns)) return bad("expected fraction digits");
    if (c.eat('Z')) {
      off = 0;
    } else {
      const bool plus = c.peek('+');
      if (!c.eat('+') && !c.eat('-')) return bad("expected Z or an offset");
      int64_t oh = 0, om = 0;
      if (!c.digits(2, oh) || !c.eat(':') || !c.digits(2, om)) return bad("expected +hh:mm");
      if (oh > 23 || om > 59) return bad("offset out of range");
      off = (oh * 3600 + om * 60) * (plus ? 1 : -1);
    }
    if (!c.done()) return bad("trailing characters");
  }
  const int64_t unix_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
  if (unix_s > k_max_s || unix_s < -k_max_s) return bad("out of the representable range");
  return wall_time{duration_cast<wall_time::duration>(seconds(unix_s)) +
                   duration_cast<wall_time::duration>(std::chrono::nanoseconds(ns))};
}

}  // namespace aterm::common
