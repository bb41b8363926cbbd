// The backup engine of a `db` value (jobs/backup_port.h), chosen as the store is (engine.h): a
// postgresql:// or postgres:// URI is PostgreSQL, anything else a SQLite file path.
#include "aterm/cloud/jobs/backup_port.h"
#include "engine.h"
#include "postgres/pg_backup.h"
#include "sqlite/sqlite_backup.h"

namespace aterm::cloud::jobs {

common::result<std::unique_ptr<backup_engine>> open_backup_engine(
    const backup_engine_options& options) {
  if (options.db.empty()) return common::status::error("backup", "no database configured (db)");
  if (store_sql::is_postgres_uri(options.db)) {
    return postgres::make_backup_engine(options.db, options.pg_bin_dir);
  }
  return sqlite::make_backup_engine(options.db);
}

}  // namespace aterm::cloud::jobs
