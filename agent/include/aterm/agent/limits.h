// Every limit of the agent in one place, each with its reason.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aterm/common/limits.h"

namespace aterm::agent::limits {

// Command ids remembered for de-duplication (issue 3): covers every redelivery the bridge makes
// for a command while its deadline is open.
inline constexpr std::size_t k_dedupe_entries = 1000;
// The journal is rewritten (compacted) when it holds this many times the live entries, so flash
// sees one small rewrite per ~1,000 appends instead of a rewrite per command.
inline constexpr std::size_t k_journal_compact_factor = 2;
// One journal line: a result or event payload (64 KiB broker limit) plus framing.
inline constexpr std::size_t k_max_journal_line = 70 * 1024;
// Outbox bounds (issue 3): a router keeps at most this much unsent on flash.
inline constexpr std::size_t k_outbox_entries = 1000;
inline constexpr std::size_t k_outbox_bytes = 1024 * 1024;
// A store kept whole in one JSON file (the sim router, the technician logins): far above what
// either holds (32 logins, a router's config), far below what a router's RAM minds.
inline constexpr std::size_t k_max_store_file = 1024 * 1024;
// Technician credentials held at once: a handful per router is normal, this bounds flash and the
// work of a hostile installer.
inline constexpr std::size_t k_max_logins = 32;
// Login ids a router remembers as used, locked, revoked or failed (the single-use record): each
// lives at most a day (the longest ttl), and refused attempts are bounded by the router-wide limit;
// when full, the entry with fewest failures and no use is forgotten first.
inline constexpr std::size_t k_max_login_records = 256;
// Wrong passwords that invalidate a credential (DESIGN.md section 4).
inline constexpr int k_login_max_failures = 5;
// The technician_login.install bounds (login id, salt, iterations) are the command table's, in
// common/limits.h; the local socket and login-check refuse longer ids with the same bound.
inline constexpr std::size_t k_max_login_id = common::limits::k_max_login_id;
// Longest password accepted (the cloud issues 12 characters).
inline constexpr std::size_t k_max_password = 128;
// Local socket connections open at once: a router's UI and PAM need one or two; more is abuse.
inline constexpr std::size_t k_max_socket_connections = 8;
// One request on the local socket: a login id and a password in JSON.
inline constexpr std::size_t k_max_socket_request = 4096;
// Hook programs answer with JSON on stdout; anything longer is an error, not a config.
inline constexpr std::size_t k_max_hook_output = 64 * 1024;
// Snapshots go out at most once per this period (issue 3).
inline constexpr std::int64_t k_min_snapshot_period_ms = 1000;
// log.tail: the agent keeps its last lines in memory, at most this many bytes in all, so the
// answer fits one result message (64 KiB) with room for JSON escaping.
inline constexpr std::size_t k_log_ring_bytes = 24 * 1024;
inline constexpr std::size_t k_log_ring_lines = 500;
// Simulated routers per process: 1,000 is the target; each holds descriptors (below), so the
// process's RLIMIT_NOFILE bounds the count too.
inline constexpr std::int64_t k_max_simulated = 10000;
// Descriptors a simulated router holds while it runs: its MQTT socket and its client's eventfd.
inline constexpr std::int64_t k_descriptors_per_simulated_router = 2;
// Descriptors of the simulate process itself: stdio, the event loop, signals, the lock, files
// opened for a moment (certificates, journals).
inline constexpr std::int64_t k_simulate_reserved_descriptors = 64;
// simulate.state_interval_ms bounds: below 10 ms a router's snapshots would be paced by the
// event loop, not the setting; above a day the key has no use over state_interval_s.
inline constexpr std::int64_t k_min_simulate_state_interval_ms = 10;
inline constexpr std::int64_t k_max_simulate_state_interval_ms = 86400000;
// Commands waiting for the agent thread; beyond it a flood is dropped and counted.
inline constexpr std::size_t k_max_pending_messages = 10000;

// The MQTT link (src/mqtt_link.cpp).
// Largest packet taken from the broker: its max_packet_size (broker-bridge/mosquitto), so nothing
// longer arrives from a sound broker and a longer one ends the connection before it is buffered.
inline constexpr std::size_t k_max_mqtt_packet = 131072;
// Bytes queued for the link's thread: twice the outbox, so a stalled socket cannot grow memory
// without bound while every legitimate burst still fits.
inline constexpr std::size_t k_max_mqtt_queued_bytes = 2 * k_outbox_bytes;
// Publishes waiting for PUBACK: far above the outbox window plus presence and snapshots, far
// below the 65,535 packet ids MQTT has.
inline constexpr std::size_t k_max_mqtt_unacked = 1000;
// One read from the TLS layer: a small message whole, a large one in a few reads.
inline constexpr std::size_t k_mqtt_read_chunk = 4096;
// The link thread's stack: mbedTLS's handshake needs tens of KiB; a fleet in one process
// (`simulate`, 10,000 links) must not reserve 8 MiB each. Sanitizers grow every frame.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr std::size_t k_mqtt_thread_stack = 4 * 1024 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr std::size_t k_mqtt_thread_stack = 4 * 1024 * 1024;
#else
inline constexpr std::size_t k_mqtt_thread_stack = 256 * 1024;
#endif
#else
inline constexpr std::size_t k_mqtt_thread_stack = 256 * 1024;
#endif

}  // namespace aterm::agent::limits
