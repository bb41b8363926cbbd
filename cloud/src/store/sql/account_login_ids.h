// Schema 9 of both engines (sqlite/migrations.cpp, postgres/pg_migrations.cpp): login ids are
// trimmed and unique without regard to ASCII case within a company, and an account carries
// whether its password must be replaced at the next login (security/password_change_rule.h).
// The statements read the same in both dialects.
#pragma once

#include <string>

#include "sql.h"

namespace aterm::cloud::sql {

// Trims the stored login ids, refuses (db_error naming them) a company holding two that differ
// only in case or surrounding spaces, then adds the case-folded unique index. An administrator
// renames or deletes one of each pair with the previous program and runs the migration again.
inline void fold_account_login_ids(connection& db) {
  auto dup = db.prepare(
      "SELECT company_id, lower(trim(login_id)) FROM accounts "
      "GROUP BY company_id, lower(trim(login_id)) HAVING count(*) > 1 "
      "ORDER BY company_id, lower(trim(login_id))");
  std::string pairs;
  while (dup.step()) {
    pairs += (pairs.empty() ? "" : ", ") + dup.text(0) + "/" + dup.text(1);
  }
  if (!pairs.empty()) {
    throw db_error(
        "schema 9 refused: login ids that differ only in case or spaces (company/login): " + pairs +
            "; rename or delete all but one of each with the previous program first",
        "login_id_duplicates");
  }
  db.exec_script("UPDATE accounts SET login_id = trim(login_id) WHERE login_id <> trim(login_id)");
  db.exec_script(
      "CREATE UNIQUE INDEX accounts_login_id_folded ON accounts(company_id, lower(login_id))");
}

}  // namespace aterm::cloud::sql
