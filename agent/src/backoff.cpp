#include "aterm/agent/backoff.h"

#include <algorithm>
#include <limits>

#include "aterm/common/crypto.h"

namespace aterm::agent {

namespace {
std::uint64_t drbg_uniform(std::uint64_t bound) {
  // Delays are at most a few hundred thousand ms, far below 2^32.
  const auto b = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(bound, std::numeric_limits<std::uint32_t>::max() - 1));
  return common::crypto::random_below(b + 1);
}
}  // namespace

backoff::backoff(backoff_settings s, uniform_fn uniform)
    : s_(s), uniform_(uniform ? std::move(uniform) : uniform_fn(drbg_uniform)) {}

std::chrono::milliseconds backoff::current_ceiling() const {
  const std::int64_t base = std::max<std::int64_t>(1, s_.base.count());
  const std::int64_t cap = std::max<std::int64_t>(base, s_.cap.count());
  std::int64_t ceiling = base;
  // Doubling stops at the cap, so the shift never overflows.
  for (int i = 0; i < attempt_ && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds backoff::next_delay() {
  const auto ceiling = current_ceiling();
  if (attempt_ < 64) ++attempt_;
  const auto d = uniform_(static_cast<std::uint64_t>(ceiling.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(
      std::min<std::uint64_t>(d, static_cast<std::uint64_t>(ceiling.count()))));
}

void backoff::connection_ended(std::chrono::milliseconds up_for) {
  if (up_for >= s_.stable) attempt_ = 0;
}

}  // namespace aterm::agent
