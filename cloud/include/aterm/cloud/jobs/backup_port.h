// The engine side of backups and restore (backup.h): what differs between the store's engines.
// The jobs (backup.h) own everything else, once for every engine: file names, the signed
// sidecar, the SHA-256, keeping keep_days backups, the anchors and the access-log check.
//
// The engine is chosen from the `db` value as the store is: a file path is SQLite
// (store/sqlite/sqlite_backup.cpp: VACUUM INTO, integrity_check, the online backup API); a
// postgresql:// or postgres:// URI is PostgreSQL (store/postgres/pg_backup.cpp: pg_dump
// --format=custom, pg_restore into a scratch database, a checked swap).
// An engine object is used from one thread at a time; it opens its connections per call.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud::jobs {

// A database to check: a backup file opened by its engine, or the live database. Its access log
// is read, never written.
class backup_copy {
 public:
  virtual ~backup_copy() = default;
  // The access-log head the database holds ({0, 64 zeros} when it has none).
  virtual common::result<audit_head> head() = 0;
  // Hands the access-log records to `sink` in sequence order until it returns false.
  virtual common::status read_audit(const std::function<bool(const audit_record&)>& sink) = 0;
};

class backup_engine {
 public:
  virtual ~backup_engine() = default;

  // The file name ending of this engine's backups, with its dot (".db", ".dump").
  virtual std::string_view suffix() const = 0;

  // Writes a consistent copy of the live database into the new file `file`, checks that the
  // engine can read it back, and returns the access-log head the copy holds. Error "backup"
  // naming the failing step; no secret (a password of `db`) appears in it.
  virtual common::result<audit_head> write_backup(const std::filesystem::path& file) = 0;

  // Opens the backup `file` for the restore's checks, which it makes first: the engine's own
  // integrity check, a schema version this program restores, and a schema identical to a
  // freshly migrated one (every difference named: a planted trigger, function or view would run
  // inside the restored database). `name` is the backup's name for messages. Runs SQL from the
  // file only into a scratch database, never the live one. Error "bad_backup", or "backup" when
  // the engine itself fails.
  virtual common::result<std::unique_ptr<backup_copy>> open_backup(
      const std::filesystem::path& file, const std::string& name) = 0;

  // Ok when restore() could swap a copy in now. Refuses early ("restore_refused") what restore()
  // would refuse (PostgreSQL: other sessions use the database), so nobody waits for the checks of
  // a large backup only to be refused; restore() decides again.
  virtual common::status ready_for_restore() = 0;

  // Makes the checked copy of open_backup (of this engine) the live database. Error "backup",
  // or "restore_refused" while other sessions use the database (PostgreSQL): stop every
  // aterm-cloud instance on it first.
  virtual common::status restore(backup_copy& checked) = 0;

  // The live database, for the check after a restore and for verify_audit_file.
  virtual common::result<std::unique_ptr<backup_copy>> open_live() = 0;
};

struct backup_engine_options {
  std::string db;  // db: a file path (SQLite) or a postgresql:// URI (PostgreSQL)
  // backup.pg_bin_dir: where pg_dump and pg_restore are (Debian's postgresql-client-15).
  std::filesystem::path pg_bin_dir = "/usr/lib/postgresql/15/bin";
};

// The engine of `options.db`. Opens nothing yet. Error "backup" for a db value no engine takes.
common::result<std::unique_ptr<backup_engine>> open_backup_engine(
    const backup_engine_options& options);

}  // namespace aterm::cloud::jobs
