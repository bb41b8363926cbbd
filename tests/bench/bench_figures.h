// What the benchmarks share to read their options and print their figures.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
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

}  // namespace aterm::bench
