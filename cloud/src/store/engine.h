// The engine behind the ports on the store's database (store_options::db): a file path is the
// embedded SQLite engine (store/sqlite), a postgresql:// or postgres:// URI the PostgreSQL
// engine (store/postgres). Opening migrates the schema once and answers the connection pool
// the ports run their transactions on (sql/transactions.h).
#pragma once

#include <memory>
#include <string_view>

#include "aterm/cloud/store.h"
#include "sql/transactions.h"

namespace aterm::cloud::store_sql {

// A port whose pool another port may share: the daemon opens the jobs' lifecycle port on the
// store's pool, so one process holds one pool per database.
class shared_pool {
 public:
  virtual ~shared_pool() = default;
  virtual std::shared_ptr<sql::connection_pool> pool() const = 0;
  // The access log's rule the store was opened with (store_options::audit_chain).
  virtual std::shared_ptr<const audit_chain_port> audit_chain() const = 0;
};

// True when `db` names a PostgreSQL database rather than a file.
bool is_postgres_uri(std::string_view db);

// Opens the database, migrating it to this program's schema, and a pool of its connections
// (SQLite: one; PostgreSQL: options.pool_size). k_store when the engine fails (the message
// names the database, never a password).
result<std::shared_ptr<sql::connection_pool>> open_pool(const store_options& options);

}  // namespace aterm::cloud::store_sql
