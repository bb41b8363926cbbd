// SQL on a store's database from a test, through a connection of its own, so a test can read or
// tamper with what a daemon wrote: a SQLite file (busy timeout 5 s) or a postgresql:// URI
// (aterm::test::test_db on PostgreSQL). Thread-safe (each call opens its own handle).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace aterm::test {

// Runs `sql` (one or more statements); returns "" or the engine's error text.
std::string exec_sql(const std::filesystem::path& db, const std::string& sql);
// The first column of the first row of `sql` as an integer (read-only); -1 on error or no row.
std::int64_t query_int(const std::filesystem::path& db, const std::string& sql);
// "" when the progress counters the store keeps for fleet job `job_id` (fleet_job_counts) equal a
// count of its routers by status, else each status that differs with both figures.
std::string job_counts_differ(const std::filesystem::path& db, std::int64_t job_id);
// Every byte someone holding a SQLite store's files reads: the file, its write-ahead log and its
// rollback journal (those that exist), concatenated.
std::string sqlite_file_bytes(const std::filesystem::path& db);

}  // namespace aterm::test
