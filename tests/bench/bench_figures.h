// What the benchmarks share to read their options and print their figures.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace aterm::bench {

// A whole non-negative decimal number; false for anything else ("", "12x", "-1").
inline bool parse_size(const char* s, std::size_t& out) {
  if (*s < '0' || *s > '9') return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0') return false;
  out = static_cast<std::size_t>(v);
  return true;
}

// The p-quantile (0..1) of `v` by the nearest rank; 0 for no values.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// A process's CPU time so far and resident memory, from /proc.
struct proc_sample {
  double cpu_s = 0;  // user + system
  long rss_kb = 0;
};

inline std::optional<proc_sample> sample_proc(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  if (f.size() < 13) return std::nullopt;
  proc_sample s;
  // Fields 14 and 15 of proc(5) (utime, stime); f[0] is field 3.
  s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) s.rss_kb = std::strtol(line.c_str() + 6, nullptr, 10);
  return s;
}

// "host load average L on N cores": the host's 1-minute load, which the figures depend on.
inline std::string host_load() {
  std::ifstream load("/proc/loadavg");
  std::string load1;
  load >> load1;
  return "host load average " + load1 + " on " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) +
         " cores";
}

// The machine's CPU time so far (/proc/stat, all cores), and the part the hypervisor gave to
// other guests ("steal"). On a shared host steal took up to half of this machine's CPU for
// minutes at a time and every figure of such a run with it (bench_api --postgres, 2026-12-06):
// a bench prints it for its measured span.
struct cpu_ticks {
  unsigned long long total = 0;
  unsigned long long steal = 0;
};

inline cpu_ticks sample_cpu() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;  // "cpu": user nice system idle iowait irq softirq steal guest guest_nice
  cpu_ticks t;
  unsigned long long v = 0;
  for (int i = 0; i < 8 && stat >> v; ++i) {
    t.total += v;
    if (i == 7) t.steal = v;
  }
  return t;
}

// The percentage of the machine's CPU stolen since `before`.
inline double stolen_percent(const cpu_ticks& before) {
  const cpu_ticks now = sample_cpu();
  const auto total = now.total - before.total;
  return total == 0
             ? 0
             : 100.0 * static_cast<double>(now.steal - before.steal) / static_cast<double>(total);
}

// "CPU stolen by the hypervisor: S% of the span" since `before`.
inline std::string stolen_since(const cpu_ticks& before) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "CPU stolen by the hypervisor: %.1f%% of the span",
                stolen_percent(before));
  return buf;
}

}  // namespace aterm::bench
