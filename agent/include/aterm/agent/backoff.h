// Reconnect delays: capped exponential backoff with full jitter (AWS "Exponential Backoff And
// Jitter"): attempt n waits uniform [0, min(cap, base * 2^n)]. A connection that stayed up for
// `stable` resets the attempt count. Pure; owned by one thread (the agent thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace aterm::agent {

struct backoff_settings {
  std::chrono::milliseconds base{1000};     // Default: 1 s (reconnect.base_ms).
  std::chrono::milliseconds cap{300000};    // Default: 300 s (reconnect.cap_s).
  std::chrono::milliseconds stable{60000};  // Default: 60 s (reconnect.stable_s).
};

class backoff {
 public:
  // `uniform(bound)` returns a value uniform in [0, bound]; defaults to the crypto DRBG.
  using uniform_fn = std::function<std::uint64_t(std::uint64_t bound)>;
  explicit backoff(backoff_settings s, uniform_fn uniform = {});

  // The delay before the next attempt; advances the attempt count.
  std::chrono::milliseconds next_delay();
  // The upper bound next_delay() would draw from now.
  std::chrono::milliseconds current_ceiling() const;
  // A connection ended after being up for `up_for`: resets when it was stable.
  void connection_ended(std::chrono::milliseconds up_for);
  void reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  backoff_settings s_;
  uniform_fn uniform_;
  int attempt_ = 0;
};

}  // namespace aterm::agent
