// What the parts of router_agent share: the session (session.cpp), state publishing
// (state_publisher.cpp) and the command runner (command_runner.cpp). Agent thread only.
#pragma once

#include <chrono>
#include <cstdint>

#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "aterm/common/status.h"

namespace aterm::agent::detail {

// Tags of publishes that are not outbox entries (outbox sequence numbers start at 1).
inline constexpr std::uint64_t k_untracked_tag = 0;
inline constexpr std::uint64_t k_offline_tag = std::uint64_t{1} << 63;

inline std::chrono::milliseconds ms_between(common::mono_time a, common::mono_time b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

}  // namespace aterm::agent::detail

namespace aterm::agent {

// The names every part of router_agent uses.
namespace proto = common::protocol;
using common::log_level;
using common::status;
using detail::k_offline_tag;
using detail::k_untracked_tag;
using detail::ms_between;

}  // namespace aterm::agent
