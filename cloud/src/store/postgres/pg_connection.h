// The PostgreSQL engine of the SQL seam (sql/sql.h) over libpq 15: one server connection per
// sql::connection. Statements keep the seam's `?` parameters in their text and are sent as
// $1..$n; each is prepared on the server at its first use with the types bound then, and cached
// by text and types. Results travel as text: i64() reads an integer strictly (a boolean as 0 or
// 1) and throws db_error on anything else, so a wrong column type is an error, not a silent 0.
// Errors carry the server's SQLSTATE; lost connections, serialization failures, deadlocks and
// shutdowns are transient. No message names the URI's password.
// Not thread-safe: one connection belongs to one transaction at a time (the runner's pool).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sql/sql.h"

namespace aterm::cloud::postgres {

// The transaction-scoped advisory lock that every write transaction takes right after BEGIN:
// write transactions of all instances on one database run one at a time, as SQLite's BEGIN
// IMMEDIATE makes them, so the store's read-modify-write rules stay exact. The value is arbitrary
// but fixed: every program version must use the same one.
inline constexpr std::int64_t k_write_lock_key = 0x6174'6572'6d77'7231;  // "atermwr1"

// Connects to `uri` (postgresql:// or postgres://; libpq's own parameters such as sslmode,
// connect_timeout or application_name may follow `?`). Throws sql::db_error (SQLSTATE "08001"
// when the server cannot be reached; transient) without the password in its message.
std::unique_ptr<sql::connection> open_connection(const std::string& uri);

// `sql` with each `?` outside quoted literals, quoted identifiers, comments and dollar-quoted
// strings replaced by $1, $2, ... in order, and each `?NNN` by $NNN (as SQLite numbers them: a
// bare `?` takes the number after the largest so far); `count` receives the largest number.
std::string number_parameters(std::string_view sql, int& count);

}  // namespace aterm::cloud::postgres
