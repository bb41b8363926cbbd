// The backup engine of a `db` value (jobs/backup_port.h), chosen as the store is.
#include "aterm/cloud/jobs/backup_port.h"
#include "sqlite/sqlite_backup.h"

namespace aterm::cloud::jobs {

common::result<std::unique_ptr<backup_engine>> open_backup_engine(
    const backup_engine_options& options) {
  if (options.db.empty()) return common::status::error("backup", "no database configured (db)");
  return sqlite::make_backup_engine(options.db);
}

}  // namespace aterm::cloud::jobs
