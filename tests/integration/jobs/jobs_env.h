// One aterm-cloud configuration in a folder of its own, the CLI run against it, and reads of its
// SQLite file.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/json.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace aterm::test::jobs {

inline constexpr std::int64_t k_day_s = 86400;

inline void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string iso(std::int64_t unix_s) {
  return common::format_utc(common::from_unix_s(unix_s));
}

struct jobs_env {
  temp_dir dir{"integration-jobs"};
  fs::path config = dir / "cloud.json";

  fs::path db() const { return dir / "cloud.db"; }
  fs::path backups() const { return dir / "backups"; }

  // Writes the configuration: `extra` is more JSON members ("\"mail\": {...}," style, each
  // ending with a comma).
  void configure(const std::string& extra = {}) {
    write_file(config, "{" + extra + R"(
  "db": ")" + db().string() +
                           R"(",
  "backup": {"dir": ")" + backups().string() +
                           R"(", "time": "00:00"},
  "security": {"password_iterations": 1000}
})");
  }

  run_result cli(const std::vector<std::string>& args) const { return cloud_cli(config, args); }

  void must(const std::vector<std::string>& args) const {
    auto r = cli(args);
    if (r.exit_code != 0) throw std::runtime_error(args[0] + ": " + r.err);
  }

  // `admin init`, the company acme, its operator gina and its administrator adam (with e-mails).
  void seed_acme() const {
    must({"admin", "init"});
    must({"admin", "company", "create", "--id", "acme", "--name", "Acme"});
    must({"admin", "account", "create", "--company", "acme", "--login", "gina", "--role",
          "operator", "--email", "gina@example.com"});
    must({"admin", "account", "create", "--company", "acme", "--login", "adam", "--role",
          "administrator", "--email", "adam@example.com"});
  }

  // One integer from SQL on the database file (-1 when no row).
  std::int64_t scalar(const std::string& sql) const { return query_int(db(), sql); }

  std::int64_t created_at(const std::string& company, const std::string& login) const {
    return scalar("SELECT created_at_s FROM accounts WHERE company_id = '" + company +
                  "' AND login_id = '" + login + "'");
  }
};

inline bool has_line(const std::string& out, const std::string& line) {
  std::size_t start = 0;
  while (start < out.size()) {
    auto end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (out.compare(start, end - start, line) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace aterm::test::jobs
