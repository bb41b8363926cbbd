// Paho C 1.3.12 has no option for TCP_NODELAY, and Nagle's algorithm with delayed ACKs adds
// ~40 ms per hop (MEASURED.md). After a connection is up, this finds the process's TCP sockets
// whose peer is `peer_port` (by scanning /proc/self/fd and getpeername) and sets TCP_NODELAY on
// them. It does no I/O on the sockets; setting the option from another thread is safe.
#pragma once

namespace aterm::common {

// Returns how many sockets were changed (0 when none matched or /proc is unavailable).
int set_tcp_nodelay_for_peer_port(int peer_port);

}  // namespace aterm::common
