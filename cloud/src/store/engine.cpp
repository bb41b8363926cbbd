#include "engine.h"

#include "postgres/pg_connection.h"
#include "postgres/pg_migrations.h"
#include "sqlite/migrations.h"
#include "sqlite/sqlite_db.h"

namespace aterm::cloud::store_sql {

namespace {

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

result<std::shared_ptr<sql::connection_pool>> open_sqlite(const store_options& options) {
  const sqlite::options o{options.synchronous_full, options.busy_timeout_ms};
  const std::string path = options.db;
  try {
    auto first = sqlite::open_connection(path, o);
    sqlite::migrate(*first);
    // One connection, whatever store.pool_size says. In WAL mode a connection drops its whole
    // page cache when another connection wrote since its last transaction, and nearly every API
    // call writes an access-log record: with four connections every read began with a cold
    // cache (bench_api, 100,000 routers: a device's detail 4.7 ms at p50 instead of 0.4 ms).
    // With one, the bridge's back-to-back batches and the API's calls take turns in the order
    // they came (connection_pool::acquire); bench_ingest at 5,000 msg/s is as fast either way.
    return std::make_shared<sql::connection_pool>(
        [path, o] { return sqlite::open_connection(path, o); }, 1, std::move(first));
  } catch (const sql::db_error& e) {
    return fail(k_store, "open " + path + ": " + e.what());
  }
}

result<std::shared_ptr<sql::connection_pool>> open_postgres(const store_options& options) {
  const std::string uri = options.db;
  try {
    auto first = postgres::open_connection(uri);
    postgres::migrate(*first);
    return std::make_shared<sql::connection_pool>([uri] { return postgres::open_connection(uri); },
                                                  options.pool_size, std::move(first));
  } catch (const sql::db_error& e) {
    return fail(k_store, "open " + printable_db(uri) + ": " + e.what());
  }
}

}  // namespace

bool is_postgres_uri(std::string_view db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

result<std::shared_ptr<sql::connection_pool>> open_pool(const store_options& options) {
  return is_postgres_uri(options.db) ? open_postgres(options) : open_sqlite(options);
}

}  // namespace aterm::cloud::store_sql

namespace aterm::cloud {

bool db_is_server(const std::string& db) {
  return store_sql::is_postgres_uri(db);
}

std::string printable_db(const std::string& db) {
  if (!store_sql::is_postgres_uri(db)) return db;
  const std::size_t rest = db.find("://") + 3;
  std::string out = db.substr(0, db.find('?'));
  const std::size_t at = out.find('@', rest);
  if (at == std::string::npos) return out;
  const std::size_t colon = out.find(':', rest);
  if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
  return out;
}

int sqlite_schema_version() {
  return sqlite::migrations().back().version;
}

}  // namespace aterm::cloud
