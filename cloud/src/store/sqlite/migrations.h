// Versioned schema of the SQLite store. PRAGMA user_version holds the last applied version;
// each migration runs once, in order, in its own transaction. The list is append-only: to
// change the schema add a new numbered entry at the end of k_migrations (migrations.cpp), never
// edit an applied one.
#pragma once

#include <span>
#include <string>

#include "sqlite_db.h"

namespace aterm::cloud::sqlite {

struct migration {
  int version;              // 1, 2, 3, ... in order
  const char* description;  // one line, why
  const char* sql;          // statements run with sqlite3_exec
  // Optional data step after the SQL, in the same transaction.
  void (*after)(sql::connection& db) = nullptr;
};

std::span<const migration> migrations();

// Applies every migration above the database's user_version on a connection of the SQLite
// engine (sqlite_db.h). Refuses (db_error) a database newer than this program. Returns the
// resulting version.
int migrate(sql::connection& db);
// migrate() up to version `up_to` only (restore compares a backup's schema with a fresh database
// migrated to the backup's version).
int migrate(sql::connection& db, int up_to);

}  // namespace aterm::cloud::sqlite
