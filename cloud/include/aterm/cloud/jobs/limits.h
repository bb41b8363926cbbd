// Every limit of the lifecycle jobs, backups and restore, each with its reason.
#pragma once

#include <cstddef>

namespace aterm::cloud::jobs::limits {

// Backups, restores and the CLI wait this long for the daemon's write transactions (which are
// short: batches of at most a few milliseconds, MEASURED.md).
inline constexpr int k_busy_timeout_ms = 5000;
// Read size when hashing a backup file: large enough for disk throughput, small in memory.
inline constexpr std::size_t k_hash_chunk = 1 << 20;
// A backup's sidecar is one small JSON object (~500 bytes); anything far larger is not one.
inline constexpr std::size_t k_max_sidecar_bytes = 64 * 1024;
// What a refusal quotes of pg_dump's or pg_restore's own messages: enough for the error, bounded
// whatever the tool prints.
inline constexpr std::size_t k_max_tool_message = 4096;
// Access-log records read per query when a PostgreSQL copy is checked: a year of records never
// sits in memory at once.
inline constexpr std::size_t k_audit_page = 5000;

}  // namespace aterm::cloud::jobs::limits
