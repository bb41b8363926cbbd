// The SQLite engine of backups (jobs/backup_port.h): VACUUM INTO a consistent snapshot,
// PRAGMA integrity_check, the schema compared with a fresh database migrated to the backup's
// version, and SQLite's online backup API for the restore. Backup files are opened read-only and
// immutable (nothing is written next to them), in defensive mode with trusted_schema off, as the
// store runs: a file under check may hold planted triggers or views.
#pragma once

#include <memory>
#include <string>

#include "aterm/cloud/jobs/backup_port.h"

namespace aterm::cloud::sqlite {

// The engine for the store's file `path`.
std::unique_ptr<jobs::backup_engine> make_backup_engine(const std::string& path);

// "file:" URI of a path for sqlite3_open_v2 with SQLITE_OPEN_URI: every byte outside
// [A-Za-z0-9/._~-] percent-encoded, so '?', '#' and '%' in a file name stay part of the name.
std::string file_uri(const std::string& path);

}  // namespace aterm::cloud::sqlite
