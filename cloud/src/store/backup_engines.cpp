// The backup engine of a `db` value (jobs/backup_port.h), chosen as the store is: a
// postgresql:// or postgres:// URI is PostgreSQL, anything else a SQLite file path.
#include <string_view>

#include "aterm/cloud/jobs/backup_port.h"
#include "postgres/pg_backup.h"
#include "sqlite/sqlite_backup.h"

namespace aterm::cloud::jobs {

namespace {

bool is_postgres_uri(std::string_view db) {
  return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

}  // namespace

common::result<std::unique_ptr<backup_engine>> open_backup_engine(
    const backup_engine_options& options) {
  if (options.db.empty()) return common::status::error("backup", "no database configured (db)");
  if (is_postgres_uri(options.db)) {
    return postgres::make_backup_engine(options.db, options.pg_bin_dir);
  }
  return sqlite::make_backup_engine(options.db);
}

}  // namespace aterm::cloud::jobs
