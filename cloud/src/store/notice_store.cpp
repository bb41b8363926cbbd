// The store's notices (store.h: post_notice, update_incident, get_notice, list_notices), written
// once against the SQL seam on the store's connection pool: the notice, its updates and the
// announcement mails to every company administrator commit in one transaction.
#include <memory>

#include "aterm/cloud/notices/limits.h"
#include "aterm/cloud/store.h"
#include "engine.h"
#include "sql/sql.h"
#include "sql/transactions.h"

namespace aterm::cloud {

namespace {

using sql::query;

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

const std::string k_notice_select =
    "SELECT id, kind, status, urgent, starts_at_s, ends_at_s, text_ja, text_en, created_by, "
    "created_at_s, updated_at_s FROM notices ";

notice read_notice(const query& q) {
  notice n;
  n.id = q.i64(0);
  n.kind = parse_notice_kind(q.text(1)).value_or(notice_kind::maintenance);
  n.status = parse_incident_status(q.text(2)).value_or(incident_status::investigating);
  n.urgent = q.i64(3) != 0;
  n.starts_at_s = q.i64(4);
  n.ends_at_s = q.i64(5);
  n.text = {q.text(6), q.text(7)};
  n.created_by = q.text(8);
  n.created_at_s = q.i64(9);
  n.updated_at_s = q.i64(10);
  return n;
}

// One transaction runner per call on the pool the store shares (engine.h).
class notice_rows {
 public:
  explicit notice_rows(std::shared_ptr<sql::connection_pool> pool)
      : tx_(std::move(pool), "store") {}
  // db_ refers to this object's tx_.
  notice_rows(const notice_rows&) = delete;
  notice_rows& operator=(const notice_rows&) = delete;

  sql::transactions& tx() { return tx_; }

  std::int64_t insert_id(query& q) {
    if (!q.step()) throw sql::db_error("insert returned no id", "");
    const std::int64_t id = q.i64(0);
    while (q.step()) {
    }
    return id;
  }

  void add_update(std::int64_t notice_id, const notice_update& u) {
    db_->prepare(
           "INSERT INTO notice_updates(notice_id, status, text_ja, text_en, at_s) "
           "VALUES(?, ?, ?, ?, ?)")
        .bind(notice_id)
        .bind(to_string(u.status))
        .bind(u.text.ja)
        .bind(u.text.en)
        .bind(u.at_s)
        .exec();
  }

  // One copy of `m` per company administrator address; returns how many.
  std::int64_t announce(const mail_message& m, std::int64_t at_s) {
    return db_
        ->prepare(
            "INSERT INTO mail_outbox(recipient, subject, body, created_at_s, "
            "next_attempt_s) "
            "SELECT DISTINCT a.email, ?, ?, ?, ? FROM accounts a "
            "JOIN roles r ON r.id = a.role_id "
            "WHERE r.name = ? AND r.built_in = 1 AND a.company_id <> ? AND a.email <> ''")
        .bind(m.subject)
        .bind(m.body)
        .bind(at_s)
        .bind(at_s)
        .bind(k_role_administrator)
        .bind(k_platform_company)
        .exec();
  }

  result<notice> notice_locked(std::int64_t id) {
    auto q = db_->prepare(k_notice_select + "WHERE id = ?");
    q.bind(id);
    if (!q.step()) return fail(k_not_found, "no such notice");
    notice n = read_notice(q);
    auto u = db_->prepare(
        "SELECT status, text_ja, text_en, at_s FROM notice_updates WHERE notice_id = ? "
        "ORDER BY id LIMIT ?");
    u.bind(id).bind(notices::limits::k_max_incident_updates);
    while (u.step()) {
      n.updates.push_back(
          {u.i64(3),
           parse_incident_status(u.text(0)).value_or(incident_status::investigating),
           {u.text(1), u.text(2)}});
    }
    return n;
  }

 private:
  sql::transactions tx_;
  sql::current_connection db_{tx_};
};

result<std::shared_ptr<sql::connection_pool>> pool_of(const store& s) {
  const auto* shared = dynamic_cast<const store_sql::shared_pool*>(&s);
  if (shared == nullptr) return fail(k_store, "notices: the store shares no connection pool");
  return shared->pool();
}

}  // namespace

result<notice_posted> store::post_notice(const notice& n, const notice_announcement& announce) {
  if (n.kind == notice_kind::incident && n.updates.size() != 1) {
    return fail(k_invalid, "an incident is posted with its first update");
  }
  auto pool = pool_of(*this);
  if (!pool.ok()) return pool.error();
  auto rows = std::make_unique<notice_rows>(std::move(*pool));
  return rows->tx().write<notice_posted>("post_notice", [&]() -> result<notice_posted> {
    auto& db = rows->tx().db();
    auto q = db.prepare(
        "INSERT INTO notices(kind, status, urgent, starts_at_s, ends_at_s, text_ja, text_en, "
        "created_by, created_at_s, updated_at_s) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id");
    q.bind(to_string(n.kind))
        .bind(n.kind == notice_kind::incident ? to_string(n.status) : "scheduled")
        .bind(std::int64_t{n.urgent ? 1 : 0})
        .bind(n.starts_at_s)
        .bind(n.ends_at_s)
        .bind(n.text.ja)
        .bind(n.text.en)
        .bind(n.created_by)
        .bind(n.created_at_s)
        .bind(n.created_at_s);
    const std::int64_t id = rows->insert_id(q);
    for (const auto& u : n.updates) rows->add_update(id, u);
    auto stored = rows->notice_locked(id);
    if (!stored.ok()) return stored.error();
    notice_posted out;
    out.mails_queued = rows->announce(announce(*stored), n.created_at_s);
    out.posted = std::move(*stored);
    return out;
  });
}

result<notice_posted> store::update_incident(std::int64_t id, const notice_update& u,
                                             const notice_announcement& announce) {
  auto pool = pool_of(*this);
  if (!pool.ok()) return pool.error();
  auto rows = std::make_unique<notice_rows>(std::move(*pool));
  return rows->tx().write<notice_posted>("update_incident", [&]() -> result<notice_posted> {
    auto current = rows->notice_locked(id);
    if (!current.ok()) return current.error();
    if (current->kind != notice_kind::incident) return fail(k_not_found, "no such incident");
    if (current->status == incident_status::resolved) {
      return fail(k_conflict, "the incident is resolved");
    }
    if (current->updates.size() >= notices::limits::k_max_incident_updates) {
      return fail(k_conflict, "the incident has too many updates");
    }
    rows->tx()
        .db()
        .prepare(
            "UPDATE notices SET status = ?, text_ja = ?, text_en = ?, updated_at_s = ? "
            "WHERE id = ?")
        .bind(to_string(u.status))
        .bind(u.text.ja)
        .bind(u.text.en)
        .bind(u.at_s)
        .bind(id)
        .exec();
    rows->add_update(id, u);
    auto stored = rows->notice_locked(id);
    if (!stored.ok()) return stored.error();
    notice_posted out;
    out.mails_queued = rows->announce(announce(*stored), u.at_s);
    out.posted = std::move(*stored);
    return out;
  });
}

result<notice> store::get_notice(std::int64_t id) {
  auto pool = pool_of(*this);
  if (!pool.ok()) return pool.error();
  auto rows = std::make_unique<notice_rows>(std::move(*pool));
  return rows->tx().read<notice>("get_notice", [&] { return rows->notice_locked(id); });
}

result<std::vector<notice>> store::list_notices(std::int64_t since_s, std::size_t limit) {
  auto pool = pool_of(*this);
  if (!pool.ok()) return pool.error();
  auto rows = std::make_unique<notice_rows>(std::move(*pool));
  return rows->tx().read<std::vector<notice>>("list_notices", [&]() -> result<std::vector<notice>> {
    std::vector<std::int64_t> ids;
    auto q = rows->tx().db().prepare(
        "SELECT id FROM notices WHERE "
        "(kind = 'incident' AND (status <> 'resolved' OR updated_at_s >= ?)) OR "
        "(kind = 'maintenance' AND ends_at_s >= ?) "
        "ORDER BY CASE WHEN kind = 'maintenance' THEN starts_at_s ELSE created_at_s END "
        "DESC, id DESC LIMIT ?");
    q.bind(since_s).bind(since_s).bind(limit);
    while (q.step()) ids.push_back(q.i64(0));
    std::vector<notice> out;
    for (auto id : ids) {
      auto n = rows->notice_locked(id);
      if (!n.ok()) return n.error();
      out.push_back(std::move(*n));
    }
    return out;
  });
}

}  // namespace aterm::cloud
