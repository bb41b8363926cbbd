// One TCP socket towards 127.0.0.1 for the support library's own port checks (free_port binds,
// broker readiness connects). Internal to aterm_test_support. Thread-safe.
#pragma once

#include <sys/socket.h>

namespace aterm::test::detail {

// Opens a TCP socket, applies `op` (::bind or ::connect) with 127.0.0.1:`port` and closes it;
// true when `op` succeeded.
bool on_loopback(int port, int (*op)(int, const sockaddr*, socklen_t));

}  // namespace aterm::test::detail
