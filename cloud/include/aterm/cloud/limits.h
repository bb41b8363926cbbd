// Every limit of cloud/ store, CLI and daemon in one place, each with its reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace aterm::cloud::limits {

// A page of devices is rendered by the dashboard at once; larger pages go through the cursor.
inline constexpr std::size_t k_max_page = 500;
// A substring search of device ids cannot use an index: one page examines at most this many of
// the company's devices in id order (~20 ms in the unit test), so a 100k fleet is searched in
// 5 pages and no request holds the store's one connection for a whole-fleet scan.
inline constexpr std::size_t k_max_device_scan = 20000;
// The fleet filters a page tests on the devices' rows (a second equality, last seen, WAN prefix)
// read each row of the walk, not only the index: one page examines at most this many devices
// (~5 ms on SQLite, bench_device_list), so a page stays within 20 ms at 100k routers.
inline constexpr std::size_t k_max_device_filter_scan = 5000;
// The first part of such a walk (the parts double up to the whole window): small enough that
// PostgreSQL walks the window's index in id order and stops at a full page instead of reading
// and sorting the whole window (bench_api --postgres, destination + online + model).
inline constexpr std::size_t k_first_device_window = 250;
// Firmware versions the fleet summary lists: a dashboard tile, not a report (the CSV export
// has every device's).
inline constexpr std::size_t k_max_summary_firmware = 20;
// Running jobs the fleet summary shows with their progress: a tile, the Jobs page lists them all.
inline constexpr std::size_t k_max_summary_jobs = 5;
// How long a configuration profile's config.set waits in the outbox for its router: a router
// offline longer gets a new one when it connects (its state reports its config_rev then).
inline constexpr std::int64_t k_profile_command_timeout_s = 3600;
// Latest-state history kept per device: enough for a day at the default 5-minute interval
// without letting one chatty device grow the database.
inline constexpr std::size_t k_state_history_per_device = 288;
// One access-log read answers at most this many records; CSV export pages through.
inline constexpr std::size_t k_max_audit_page = 10000;
// The previous passwords an account may not reuse (DESIGN.md section 5: the last 3).
inline constexpr std::size_t k_password_history = 3;
// Commands listed or published per device per call; the rest follow on the next call.
inline constexpr std::size_t k_max_commands_per_call = 1000;
// Unassigned devices listed for the site administrators per call.
inline constexpr std::size_t k_max_unassigned = 1000;
// Random bytes of a generated command id ("c-" + hex): 96 bits, collision-free in practice.
inline constexpr std::size_t k_command_id_bytes = 12;
// Company ids are short identifiers used in URLs and logs.
inline constexpr std::size_t k_max_company_id = 64;
// Names (companies, destinations, roles, logins) are shown in one dashboard line. Counted in
// characters, so a Japanese name gets as many as an English one.
inline constexpr std::size_t k_max_name = 128;
// The bytes such a name may take: a character is at most 4 bytes of UTF-8.
inline constexpr std::size_t k_max_name_bytes = 4 * k_max_name;
// JSON columns written by the store itself (permission lists, allowlists, password history).
inline constexpr std::size_t k_max_json_column = 64 * 1024;
// Generated first passwords (accounts created without one): 16 characters of a 56-letter
// alphabet, about 93 bits, answered once.
inline constexpr std::size_t k_generated_password_length = 16;
// Characters of the technician's name a login is issued to: it is shown in the dashboard and
// the access log, and a person's name fits.
inline constexpr std::size_t k_max_technician_name = 64;
// A technician login lives at most a day; the document's default is 60 minutes.
inline constexpr std::int64_t k_max_technician_login_ttl_minutes = 24 * 60;
// Statements cached per connection (each distinct SQL text is prepared once).
inline constexpr std::size_t k_max_cached_statements = 256;
// SQLite page cache per connection: holds the state-history slot index and the hot device and
// history pages of a 1,000-device fleet (2 MB, SQLite's default, left apply_batch reading most
// pages back from the OS: bench_store_ingest 14 -> 10 us of CPU per state message).
inline constexpr std::size_t k_sqlite_cache_kib = 32 * 1024;
// A transaction the engine failed transiently (PostgreSQL: connection lost, server restarting,
// serialization failure, deadlock; SQLite: busy or locked) runs at most this many times in all.
// With the backoff below the attempts span about 1.5 s: a PostgreSQL restart (`pg_ctl restart
// -m fast`, about a second) or a failover of a client's connection passes unnoticed, while a
// database that stays down answers the caller within two seconds (the bridge keeps its batch
// and tries again: broker-bridge limits.h).
inline constexpr int k_transaction_attempts = 6;
// The wait before the second attempt, doubled before each later one up to the maximum.
inline constexpr std::chrono::milliseconds k_transaction_backoff_first{50};
inline constexpr std::chrono::milliseconds k_transaction_backoff_max{800};

// Tags are short labels shown as chips in one dashboard line; a router carries a handful.
inline constexpr std::size_t k_max_tag_bytes = 64;
inline constexpr std::size_t k_max_tags_per_device = 32;
// A fleet job names at most this many routers by id in its request (a larger fleet is named by
// destination, tag or query); one request body stays under the server's body limit.
inline constexpr std::size_t k_max_job_device_ids = 10000;
// A job's routers resolved from a device-list query: the largest fleet one job takes.
inline constexpr std::size_t k_max_job_devices = 200000;
// Commands one scheduler tick releases over every job: the tick's write transaction stays short
// (about 10 ms of inserts on SQLite), and the next tick continues.
inline constexpr std::size_t k_max_job_release_per_tick = 2000;
// Jobs listed per request, newest first.
inline constexpr std::size_t k_max_jobs_listed = 200;
// The longest a job stays open for routers to come online: a week covers a shop closed over a
// long weekend.
inline constexpr std::int64_t k_max_job_deadline_s = 7 * 86400;

}  // namespace aterm::cloud::limits
