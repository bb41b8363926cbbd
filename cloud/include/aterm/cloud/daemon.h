// `aterm-cloud serve` (DESIGN.md section 7): the bridge, the HTTPS API and dashboard and the
// scheduler in one process, over one store.
//
// Threads: the caller's thread waits for SIGTERM/SIGINT (blocked in every thread, taken with
// sigwait); the bridge, the HTTPS server and the scheduler run their own threads. On the signal
// the HTTPS server stops accepting and finishes in-flight requests, the bridge disconnects and
// stores every message already received, the scheduler stops, then the store closes.
#pragma once

#include <ostream>

#include "aterm/common/config.h"

namespace aterm::cloud {

// Runs until SIGTERM or SIGINT; returns the process exit code (0 after a clean stop, 1 when
// something could not start — the message goes to the log).
int serve(const common::config& config);

}  // namespace aterm::cloud
