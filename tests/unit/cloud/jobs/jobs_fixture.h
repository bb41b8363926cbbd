// A store and the lifecycle port on one fresh database of the suite's engine (a SQLite file or a
// PostgreSQL database, aterm::test::test_db), with a manual clock; backups go to a temp folder.
#pragma once

#include <memory>
#include <string>

#include "aterm/cloud/jobs/lifecycle.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace aterm::cloud::jobs::test {

inline constexpr std::int64_t k_t0 = 1'780'000'000;  // 2026-05-28, a fixed start

inline common::wall_time day(double d) {
  return common::from_unix_s(k_t0 + static_cast<std::int64_t>(d * static_cast<double>(k_day_s)));
}

inline bool on_postgres() {
  return aterm::test::test_engine() == aterm::test::db_engine::postgres;
}

struct fixture {
  aterm::test::temp_dir dir{"unit-jobs"};
  std::string db_uri = aterm::test::test_db("unit_cloud_jobs");
  common::manual_clock clock{common::from_unix_s(k_t0)};
  std::unique_ptr<store> db;
  std::unique_ptr<lifecycle_port> port;
  lifecycle_settings settings;

  fixture() {
    store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = path();
    auto s = open_store(o, clock);
    if (!s.ok()) throw std::runtime_error(s.error().to_string());
    db = std::move(s).value();
    auto p = open_lifecycle_store(o);
    if (!p.ok()) throw std::runtime_error(p.error().to_string());
    port = std::move(p).value();
    settings.db_path = path();
    settings.backup_dir = (dir / "backups").string();
    settings.backup_minute_of_day = 0;
  }

  // The db setting: a file path or a postgresql:// URI.
  const std::string& path() const { return db_uri; }

  // Runs a sweep as of `t` (the store's clock moves there too); returns the action lines.
  std::vector<std::string> sweep(common::wall_time t, bool dry_run = false, bool backups = false) {
    clock.set(t);
    std::vector<std::string> lines;
    sweep_options o;
    o.dry_run = dry_run;
    o.backups = backups;
    run_sweep(*port, settings, t, o, [&](const std::string& l) { lines.push_back(l); });
    return lines;
  }

  // A single integer from SQL on a separate connection (-1 when no row).
  std::int64_t scalar(const std::string& sql) const { return aterm::test::query_int(path(), sql); }

  // Runs SQL on a separate connection; returns "" or the engine's error text.
  std::string raw_exec(const std::string& sql) const { return aterm::test::exec_sql(path(), sql); }

  account make_account(const std::string& company, const std::string& login,
                       const std::string& role, const std::string& email) {
    auto a = db->create_account({company, login, email, role, "pbkdf2-sha256$1$00$00"});
    if (!a.ok()) throw std::runtime_error(a.error().to_string());
    return *a;
  }

  account get(const std::string& company, const std::string& login) {
    auto a = db->find_account(company, login);
    if (!a.ok()) throw std::runtime_error(a.error().to_string());
    return *a;
  }

  bool has_line(const std::vector<std::string>& lines, const std::string& needle) const {
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace aterm::cloud::jobs::test
