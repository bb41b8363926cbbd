// Versioned schema of the store on PostgreSQL, the same tables, keys, indexes and access-log
// protections as the SQLite schema (store/sqlite/migrations.cpp) at the same version number.
// Table schema_migrations lists every applied version; each migration runs once, in order, in
// its own transaction. The list is append-only: a schema change adds the next number here and
// in the SQLite list alike, never edits an applied entry.
// Several instances may start at once: migrate() holds a session advisory lock for its whole
// run, so one migrates and the others then find nothing left to do.
#pragma once

#include "sql/sql.h"

namespace aterm::cloud::postgres {

// The session advisory lock of migrate(), apart from the write lock (pg_connection.h) so that a
// migration and the instance's own transactions never wait on each other's key.
inline constexpr std::int64_t k_migration_lock_key = 0x6174'6572'6d6d'6731;  // "atermmg1"

// The version of the newest migration of this program.
int latest_schema_version();

// The last applied version (0 for an empty database). Throws sql::db_error.
int schema_version(sql::connection& db);

// Applies every migration above the database's version. Refuses (sql::db_error) a database
// newer than this program and a connection of another dialect.
void migrate(sql::connection& db);
// migrate() up to version `up_to` only (a restore compares a backup's schema with a fresh
// database migrated to the backup's version). Returns the resulting version.
int migrate(sql::connection& db, int up_to);

}  // namespace aterm::cloud::postgres
