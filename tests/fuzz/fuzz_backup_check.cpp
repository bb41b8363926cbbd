// libFuzzer target for what `aterm-cloud restore` reads from a backup: its sidecar, and the
// database file itself through the restore check. A real backup of a small database is made at
// start-up under fixed keys; then the first input byte picks:
//   even  the rest is the sidecar (YYYY-MM-DD.db.json): parsed alone (parse_backup_sidecar), then
//         put next to the untouched backup, with every "$SHA" replaced by the backup's real
//         SHA-256 (which a fuzzer cannot guess), and checked (check_backup);
//   odd   the rest is SQL run on a copy of the live database (a hostile backup: extra triggers,
//         views, edited or deleted access-log rows, another user_version), which is then backed
//         up and signed with the real backup key, as an insider holding it could; the restore's
//         schema and chain checks must refuse it or restore a database the store opens.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/security/rules_for_store.h"
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

// Fixed keys: the target checks what a backup holds, not how keys are stored.
jobs::backup_keys fixed_keys() {
  jobs::backup_keys k;
  k.backup_key = {"00112233445566aa", std::string(32, 'b')};
  k.audit_ring = {{"00112233445566cc", std::string(32, 'a')}};
  return k;
}

// The backup engine of a database file.
std::unique_ptr<jobs::backup_engine> engine_of(const fs::path& db) {
  jobs::backup_engine_options o;
  o.db = db.string();
  auto e = jobs::open_backup_engine(o);
  if (!e.ok()) std::abort();
  return std::move(e).value();
}

struct pristine_backup {
  jobs::backup_keys keys = fixed_keys();
  fs::path live = aterm::fuzz::scratch_dir() / "live.db";
  fs::path dir = aterm::fuzz::scratch_dir() / "backups";
  fs::path file;
  std::string sha256;
  fs::path work = aterm::fuzz::scratch_dir() / "work";

  pristine_backup() {
    common::set_log_sink([](std::string_view) {});
    const fs::path& db = live;
    {
      cloud::store_options o;
      o.rules = aterm::cloud::security::rules_for_store();
      o.db = db.string();
      o.audit_key = keys.audit_ring.back();
      o.synchronous_full = false;
      auto s = cloud::open_store(o, fixed_clock());
      if (!s.ok()) std::abort();
      if (!(*s)->create_company("acme", "ACME").ok()) std::abort();
      for (int i = 0; i < 5; ++i) {
        cloud::audit_entry e{
            "acme", "alice", "login", "alice", "success", "try " + std::to_string(i), "127.0.0.1"};
        if (!(*s)->append_audit(e).ok()) std::abort();
      }
    }
    auto b = jobs::make_backup(*engine_of(db), dir, fixed_clock().now(), keys);
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
    // The sidecar parser alone, then the whole check with the fuzzed sidecar in place.
    (void)jobs::parse_backup_sidecar(rest);
    std::string sidecar(rest);
    for (auto at = sidecar.find("$SHA"); at != std::string::npos; at = sidecar.find("$SHA", at))
      sidecar.replace(at, 4, pristine.sha256);
    aterm::fuzz::write_file(copy.string() + ".json", sidecar);
    (void)jobs::check_backup(*engine_of(pristine.live), copy, pristine.keys);
    return 0;
  }
  // A hostile database, correctly signed (as by someone holding the backup key), must still be
  // refused by the schema check or restored into a store that works.
  const fs::path edited = pristine.work / "edited.db";
  fs::copy_file(pristine.live, edited, fs::copy_options::overwrite_existing);
  run_sql(edited, std::string(rest));
  const fs::path signed_dir = pristine.work / "signed";
  fs::remove_all(signed_dir);
  auto hostile =
      jobs::make_backup(*engine_of(edited), signed_dir, fixed_clock().now(), pristine.keys);
  if (!hostile.ok()) return 0;
  const fs::path restored = pristine.work / "restored.db";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    fs::remove(restored.string() + suffix);
  if (!jobs::restore_backup(*engine_of(restored), hostile->file, pristine.keys).ok()) return 0;
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = restored.string();
  o.synchronous_full = false;
  o.audit_key = pristine.keys.audit_ring.back();
  auto s = cloud::open_store(o, fixed_clock());
  if (!s.ok()) return 0;
  (void)(*s)->append_audit({"acme", "alice", "logout", "alice", "success", "", "127.0.0.1"});
  (void)(*s)->get_audit_head();
  return 0;
}
