// libFuzzer target for what `aterm-cloud restore` reads from a backup: its sidecar, and the
// database file itself through the restore check (check_backup). A real backup of a small
// database is made at start-up; then the first input byte picks:
//   0  the rest is the sidecar (YYYY-MM-DD.db.json) next to the untouched backup, with every
//      "$SHA" replaced by the backup's real SHA-256 (which a fuzzer cannot guess) so that
//      inputs get past the checksum to the rest of the sidecar;
//   1  the rest is SQL run on a copy of the backup (a hostile backup: extra triggers, views,
//      edited or deleted access-log rows, another user_version) before the check; the copy
//      has no sidecar then, so the check reaches the database. A backup the check accepts is
//      restored and the store opened on it, as the daemon's next start would.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "fuzz_support.h"

namespace {

namespace cloud = aterm::cloud;
namespace jobs = aterm::cloud::jobs;
namespace common = aterm::common;
namespace fs = std::filesystem;

// A runaway statement (a recursive CTE) is stopped after this many SQLite VM steps.
constexpr int k_max_sql_steps = 200000;

const common::manual_clock& fixed_clock() {
  static const common::manual_clock c(common::from_unix_s(1'795'000'000));
  return c;
}

struct pristine_backup {
  fs::path dir = aterm::fuzz::scratch_dir() / "backups";
  fs::path file;
  std::string sha256;
  fs::path work = aterm::fuzz::scratch_dir() / "work";

  pristine_backup() {
    common::set_log_sink([](std::string_view) {});
    const fs::path db = aterm::fuzz::scratch_dir() / "live.db";
    {
      cloud::sqlite_options o;
      o.path = db.string();
      o.synchronous_full = false;
      auto s = cloud::open_sqlite_store(o, fixed_clock());
      if (!s.ok()) std::abort();
      if (!(*s)->create_company("acme", "ACME").ok()) std::abort();
      for (int i = 0; i < 5; ++i) {
        cloud::audit_entry e{
            "acme", "alice", "login", "alice", "success", "try " + std::to_string(i), "127.0.0.1"};
        if (!(*s)->append_audit(e).ok()) std::abort();
      }
    }
    auto b = jobs::make_backup(db.string(), dir, fixed_clock().now());
    if (!b.ok()) std::abort();
    file = b->file;
    sha256 = b->sha256;
    fs::create_directories(work);
  }

  // A copy of the backup under the same name in `work`, without a sidecar.
  fs::path fresh_copy() const {
    const fs::path copy = work / file.filename();
    fs::remove(copy.string() + ".json");
    fs::copy_file(file, copy, fs::copy_options::overwrite_existing);
    return copy;
  }
};

void run_sql(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  int steps = 0;
  sqlite3_progress_handler(
      db, 1000, [](void* n) { return ++*static_cast<int*>(n) * 1000 > k_max_sql_steps ? 1 : 0; },
      &steps);
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const pristine_backup pristine;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const fs::path copy = pristine.fresh_copy();
  if (data[0] % 2 == 0) {
    std::string sidecar(rest);
    for (auto at = sidecar.find("$SHA"); at != std::string::npos; at = sidecar.find("$SHA", at))
      sidecar.replace(at, 4, pristine.sha256);
    aterm::fuzz::write_file(copy.string() + ".json", sidecar);
    (void)jobs::check_backup(copy);
    return 0;
  }
  run_sql(copy, std::string(rest));
  const fs::path restored = pristine.work / "restored.db";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    fs::remove(restored.string() + suffix);
  if (!jobs::restore_backup(restored.string(), copy).ok()) return 0;
  cloud::sqlite_options o;
  o.path = restored.string();
  o.synchronous_full = false;
  auto s = cloud::open_sqlite_store(o, fixed_clock());
  if (!s.ok()) return 0;
  (void)(*s)->append_audit({"acme", "alice", "logout", "alice", "success", "", "127.0.0.1"});
  (void)(*s)->get_audit_head();
  return 0;
}
