// The cloud store (store.h), written once against the SQL seam (sql/sql.h) for every engine:
// statement text both dialects run, with the few differences chosen from the connection's
// kind(). Each method is one transaction of the runner (sql/transactions.h) on a connection of
// its pool; write transactions exclude each other across instances (sql.h), so the
// read-modify-write rules below (the chain head, failure counts) stay exact.
// Ingest (apply_batch) writes each device's row once per batch and each state into a ring slot
// of its device; a batch of only presence and states commits without waiting for the disk
// (durability::relaxed). bench_store_ingest measures it.
#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "aterm/cloud/limits.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/log.h"
#include "audit_rows.h"
#include "device_rows.h"
#include "engine.h"
#include "fleet_store.h"
#include "job_store.h"
#include "rows.h"
#include "sql/sql.h"
#include "sql/transactions.h"
#include "technician_rows.h"

namespace aterm::cloud {

namespace {

using sql::db_error;
using sql::param_type;
using sql::query;
using sql::to_status;
using store_sql::from_json_array;
using store_sql::k_account_select;
using store_sql::k_audit_select;
using store_sql::k_device_select;
using store_sql::k_login_select;
using store_sql::read_account;
using store_sql::read_audit;
using store_sql::read_device;
using store_sql::read_login;
using store_sql::to_json_array;
namespace protocol = common::protocol;
namespace crypto = common::crypto;

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

// ^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$: company ids appear in URLs, logs and file names.
bool valid_company_id(std::string_view id) {
  if (id.size() < 2 || id.size() > limits::k_max_company_id) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

bool valid_display_name(std::string_view s) {
  return !s.empty() && s.size() <= limits::k_max_name_bytes && common::valid_utf8(s);
}

command_status final_status_of(protocol::result_status s) {
  switch (s) {
    case protocol::result_status::ok:
      return command_status::succeeded;
    case protocol::result_status::expired:
      return command_status::expired;
    default:
      return command_status::failed;
  }
}

const std::string k_command_cols =
    "SELECT id, company_id, device_id, op, args_json, status, result_status, result_json, "
    "error, attempts, created_at_s, deadline_s, sent_at_s, finished_at_s, created_by "
    "FROM commands ";

command_record read_command(const query& q) {
  command_record c;
  c.id = q.text(0);
  c.company_id = q.text(1);
  c.device_id = q.text(2);
  c.op = q.text(3);
  c.args_json = q.text(4);
  c.status = parse_command_status(q.text(5)).value_or(command_status::failed);
  c.result_status = q.text(6);
  c.result_json = q.text(7);
  c.error = q.text(8);
  c.attempts = q.i64(9);
  c.created_at_s = q.i64(10);
  c.deadline_s = q.i64(11);
  c.sent_at_s = q.opt_i64(12);
  c.finished_at_s = q.opt_i64(13);
  c.created_by = q.text(14);
  return c;
}

const std::string k_role_cols = "SELECT id, company_id, name, permissions, built_in FROM roles ";

role read_role(const query& q) {
  role r;
  r.id = q.i64(0);
  r.company_id = q.text(1);
  r.name = q.text(2);
  r.permissions = from_json_array(q.text(3));
  r.built_in = q.i64(4) != 0;
  return r;
}

const std::string k_company_cols =
    "SELECT id, name, ip_allowlist, technician_login_ttl_minutes, contract_end_s, created_at_s "
    "FROM companies ";

company read_company(const query& q) {
  company c;
  c.id = q.text(0);
  c.name = q.text(1);
  c.settings.ip_allowlist = from_json_array(q.text(2));
  c.settings.technician_login_ttl_minutes = q.i64(3);
  c.settings.contract_end_s = q.opt_i64(4);
  c.created_at_s = q.i64(5);
  return c;
}

const std::string k_destination_cols =
    "SELECT t.id, t.company_id, t.name, t.settings_json, t.created_at_s, "
    "(SELECT count(*) FROM devices d WHERE d.destination_id = t.id) FROM destinations t ";

destination read_destination(const query& q) {
  destination t;
  t.id = q.i64(0);
  t.company_id = q.text(1);
  t.name = q.text(2);
  t.settings_json = q.text(3);
  t.created_at_s = q.i64(4);
  t.device_count = q.i64(5);
  return t;
}

// Records that a device was heard from (store::apply_batch): creates an unassigned row for an
// unknown device, else keeps the larger last_seen and the first first_seen and adds the batch's
// states to the counter; answers the device's company and counter. The larger of two values is
// max() in SQLite and GREATEST() in PostgreSQL.
std::string upsert_device_sql(sql::dialect dialect) {
  const std::string greatest = dialect == sql::dialect::postgres ? "GREATEST" : "max";
  return "INSERT INTO devices(id, last_seen_ms, first_seen_ms, presence, agent_version, "
         "state_json, state_received_ms, state_count, model, firmware, wan_ip) "
         "VALUES(?, ?, ?, COALESCE(?, 'unknown'), COALESCE(?, ''), ?, ?, ?, ?, ?, ?) "
         "ON CONFLICT(id) DO UPDATE SET "
         "last_seen_ms = " +
         greatest +
         "(COALESCE(devices.last_seen_ms, 0), excluded.last_seen_ms), "
         "first_seen_ms = COALESCE(devices.first_seen_ms, excluded.first_seen_ms), "
         "presence = COALESCE(?, devices.presence), "
         "agent_version = COALESCE(?, devices.agent_version), "
         "state_json = COALESCE(excluded.state_json, devices.state_json), "
         "state_received_ms = COALESCE(excluded.state_received_ms, devices.state_received_ms), "
         "state_count = devices.state_count + excluded.state_count, "
         "model = CASE WHEN excluded.state_json IS NULL THEN devices.model ELSE excluded.model "
         "END, "
         "firmware = CASE WHEN excluded.state_json IS NULL THEN devices.firmware "
         "ELSE excluded.firmware END, "
         "wan_ip = CASE WHEN excluded.state_json IS NULL THEN devices.wan_ip ELSE excluded.wan_ip "
         "END "
         "RETURNING COALESCE(company_id, ''), state_count";
}
const std::string k_upsert_device_sqlite = upsert_device_sql(sql::dialect::sqlite);
const std::string k_upsert_device_postgres = upsert_device_sql(sql::dialect::postgres);

bool valid_json_object(const std::string& text) {
  auto parsed = common::parse_json(text);
  return parsed.ok() && cJSON_IsObject(parsed->get());
}

class sql_store final : public store_sql::job_store, public store_sql::shared_pool {
 public:
  sql_store(std::shared_ptr<sql::connection_pool> pool, const common::clock& clock,
            std::size_t history, technician_event_rule technician_events,
            command_args_at_publish publish_args, technician_secret_rule technician_secret,
            store_rules rules, std::optional<secret_key> audit_key)
      : job_store(pool, clock),
        tx_(std::move(pool), "store"),
        clock_(clock),
        history_(history),
        technician_events_(std::move(technician_events)),
        publish_args_(std::move(publish_args)),
        technician_secret_(std::move(technician_secret)),
        rules_(std::move(rules)),
        sealing_{rules_.audit_chain, std::move(audit_key)} {}

  // Appends the key start when the chain is not yet under the key (audit_rows.h).
  status start_keyed_chain() {
    if (!sealing_.key) return {};
    return tx_.write_status("start_keyed_chain", [&]() -> result<bool> {
      return store_sql::start_keyed_chain(*db_, sealing_, clock_.now_ms());
    });
  }

  std::shared_ptr<sql::connection_pool> pool() const override { return tx_.pool(); }
  std::shared_ptr<const audit_chain_port> audit_chain() const override { return sealing_.chain; }

  // ---- companies ----

  result<company> create_company(const std::string& id, const std::string& name) override {
    if (!valid_company_id(id)) return fail(k_invalid, "bad company id");
    if (!valid_display_name(name)) return fail(k_invalid, "bad company name");
    return tx_.write<company>("create_company", [&]() -> result<company> {
      auto exists = db_->prepare("SELECT 1 FROM companies WHERE id = ?");
      exists.bind(id);
      if (exists.step()) return fail(k_conflict, "company exists");
      db_->prepare("INSERT INTO companies(id, name, created_at_s) VALUES(?, ?, ?)")
          .bind(id)
          .bind(name)
          .bind(clock_.now_s())
          .exec();
      return company_locked(id);
    });
  }

  result<company> get_company(const std::string& company_id) override {
    return tx_.read<company>("get_company", [&] { return company_locked(company_id); });
  }

  result<std::vector<company>> list_companies() override {
    return tx_.read<std::vector<company>>("list_companies", [&]() -> result<std::vector<company>> {
      std::vector<company> out;
      auto q = db_->prepare(k_company_cols + "ORDER BY id");
      while (q.step()) out.push_back(read_company(q));
      return out;
    });
  }

  result<std::vector<company_summary>> company_summaries(std::int64_t now_s) override {
    return tx_.read<std::vector<company_summary>>(
        "company_summaries", [&]() -> result<std::vector<company_summary>> {
          std::vector<company_summary> out;
          std::unordered_map<std::string, std::size_t> at;
          auto q = db_->prepare(k_company_cols + "ORDER BY id");
          while (q.step()) {
            at.emplace(q.text(0), out.size());
            out.push_back({read_company(q)});
          }
          auto count = [&](const char* sql, auto apply, auto... params) {
            auto c = db_->prepare(sql);
            (c.bind(params), ...);
            while (c.step()) {
              if (auto it = at.find(c.text(0)); it != at.end()) apply(out[it->second], c);
            }
          };
          count(
              "SELECT company_id, count(*), "
              "sum(CASE WHEN presence = 'online' THEN 1 ELSE 0 END) FROM devices "
              "WHERE company_id IS NOT NULL GROUP BY company_id",
              [](company_summary& s, const sql::query& c) {
                s.devices = c.i64(1);
                s.online = c.i64(2);
              });
          count(
              "SELECT company_id, count(*) FROM alarms WHERE acknowledged_at_s IS NULL "
              "AND cleared_at_s IS NULL GROUP BY company_id",
              [](company_summary& s, const sql::query& c) { s.open_alarms = c.i64(1); });
          count(
              "SELECT company_id, count(*) FROM accounts WHERE lock_reason IN "
              "('inactivity', 'administrator') OR (lock_reason = 'failed_logins' AND "
              "locked_until_s > ?) GROUP BY company_id",
              [](company_summary& s, const sql::query& c) { s.locked_accounts = c.i64(1); }, now_s);
          return out;
        });
  }

  status update_company_settings(const std::string& company_id,
                                 const company_settings& s) override {
    if (s.technician_login_ttl_minutes < 0) return fail(k_invalid, "negative ttl");
    return to_status(tx_.write<done>("update_company_settings", [&]() -> result<done> {
      int n = db_->prepare(
                     "UPDATE companies SET ip_allowlist = ?, technician_login_ttl_minutes = ?, "
                     "contract_end_s = ? WHERE id = ?")
                  .bind(to_json_array(s.ip_allowlist))
                  .bind(s.technician_login_ttl_minutes)
                  .bind(s.contract_end_s)
                  .bind(company_id)
                  .exec();
      if (n == 0) return fail(k_not_found, "no such company");
      return done{};
    }));
  }

  // ---- destinations ----

  result<destination> create_destination(const std::string& company_id, const std::string& name,
                                         const std::string& settings_json) override {
    if (!valid_display_name(name)) return fail(k_invalid, "bad destination name");
    std::string settings = settings_json.empty() ? "{}" : settings_json;
    if (!valid_json_object(settings)) return fail(k_invalid, "settings must be a JSON object");
    if (auto p = rules_.config_profiles->profile_hash(settings); !p.ok()) {
      return fail(k_invalid, p.error().message());
    }
    return tx_.write<destination>("create_destination", [&]() -> result<destination> {
      return create_destination_locked(company_id, name, settings);
    });
  }

  result<std::vector<destination>> list_destinations(const std::string& company_id) override {
    return tx_.read<std::vector<destination>>(
        "list_destinations", [&]() -> result<std::vector<destination>> {
          std::vector<destination> out;
          auto q = db_->prepare(k_destination_cols + "WHERE t.company_id = ? ORDER BY t.name");
          q.bind(company_id);
          while (q.step()) out.push_back(read_destination(q));
          return out;
        });
  }

  result<destination> get_destination(const std::string& company_id, std::int64_t id) override {
    return tx_.read<destination>("get_destination",
                                 [&] { return destination_locked(company_id, id); });
  }

  result<destination> update_destination(const std::string& company_id, std::int64_t id,
                                         const std::optional<std::string>& name,
                                         const std::optional<std::string>& settings_json) override {
    if (name && !valid_display_name(*name)) return fail(k_invalid, "bad destination name");
    if (settings_json && !valid_json_object(*settings_json)) {
      return fail(k_invalid, "settings must be a JSON object");
    }
    if (settings_json) {
      if (auto p = rules_.config_profiles->profile_hash(*settings_json); !p.ok()) {
        return fail(k_invalid, p.error().message());
      }
    }
    return tx_.write<destination>("update_destination", [&]() -> result<destination> {
      auto current = destination_locked(company_id, id);
      if (!current.ok()) return current;
      if (name && *name != current->name) {
        auto dup = db_->prepare("SELECT 1 FROM destinations WHERE company_id = ? AND name = ?");
        dup.bind(company_id).bind(*name);
        if (dup.step()) return fail(k_conflict, "destination name taken");
      }
      db_->prepare("UPDATE destinations SET name = ?, settings_json = ? WHERE id = ?")
          .bind(name.value_or(current->name))
          .bind(settings_json.value_or(current->settings_json))
          .bind(id)
          .exec();
      if (settings_json) {
        // A changed profile goes out to the destination's routers now; one offline gets it
        // when it connects (its command waits in the outbox, or is queued again then).
        store_sql::set_destination_profile(*db_, *rules_.config_profiles, id, *settings_json);
        for (const auto& device_id : store_sql::destination_devices(*db_, id)) {
          apply_profile_locked(device_id);
        }
      }
      return destination_locked(company_id, id);
    });
  }

  status delete_destination(const std::string& company_id, std::int64_t id) override {
    return to_status(tx_.write<done>("delete_destination", [&]() -> result<done> {
      auto current = destination_locked(company_id, id);
      if (!current.ok()) return current.error();
      if (current->device_count > 0) return fail(k_conflict, "destination has devices");
      db_->prepare("DELETE FROM destinations WHERE id = ?").bind(id).exec();
      return done{};
    }));
  }

  result<destination> ensure_destination(const std::string& company_id,
                                         const std::string& name) override {
    if (!valid_display_name(name)) return fail(k_invalid, "bad destination name");
    return tx_.write<destination>("ensure_destination", [&]() -> result<destination> {
      auto q = db_->prepare("SELECT id FROM destinations WHERE company_id = ? AND name = ?");
      q.bind(company_id).bind(name);
      if (q.step()) return destination_locked(company_id, q.i64(0));
      return create_destination_locked(company_id, name, "{}");
    });
  }

  // ---- devices ----

  result<device> register_device(const std::string& company_id, const std::string& device_id,
                                 std::int64_t destination_id) override {
    if (!protocol::valid_device_id(device_id)) return fail(k_invalid, "bad device id");
    return tx_.write<device>("register_device", [&]() -> result<device> {
      if (!destination_exists_locked(company_id, destination_id)) {
        return fail(k_not_found, "no such destination");
      }
      return register_device_locked(company_id, device_id, destination_id);
    });
  }

  result<std::vector<device>> claim_devices(const std::string& company_id,
                                            std::span<const std::string> device_ids,
                                            std::int64_t destination_id) override {
    for (const auto& id : device_ids) {
      if (!protocol::valid_device_id(id)) {
        return fail(k_invalid, "\"" + id.substr(0, 80) + "\" is not a valid device id");
      }
    }
    // One answer for every refusal (store.h): which id belongs to another company stays unsaid.
    const auto refused = [] { return fail(k_not_found, "no such device"); };
    return tx_.write<std::vector<device>>("claim_devices", [&]() -> result<std::vector<device>> {
      if (!destination_exists_locked(company_id, destination_id)) return refused();
      std::vector<device> out;
      out.reserve(device_ids.size());
      for (const auto& id : device_ids) {
        auto d = register_device_locked(company_id, id, destination_id);
        if (!d.ok()) return d.error().code() == k_conflict ? refused() : d.error();
        out.push_back(std::move(*d));
      }
      return out;
    });
  }

  result<std::string> unassign_device(const std::string& device_id) override {
    return tx_.write<std::string>("unassign_device", [&]() -> result<std::string> {
      auto q =
          db_->prepare("SELECT company_id FROM devices WHERE id = ? AND company_id IS NOT NULL");
      q.bind(device_id);
      if (!q.step()) return fail(k_not_found, "no such registered device");
      std::string company = q.text(0);
      store_sql::release_device(*db_, device_id);
      return company;
    });
  }

  // ---- fleet (fleet_store.cpp) ----

  status remove_device(const std::string& company_id, const std::string& device_id) override {
    return tx_.write_status("remove_device", [&]() -> result<bool> {
      auto removed = store_sql::remove_device(*db_, company_id, device_id);
      if (!removed.ok()) return removed;
      return true;
    });
  }

  result<fleet_summary> summarize_fleet(const std::string& company_id) override {
    return tx_.read<fleet_summary>("summarize_fleet", [&]() -> result<fleet_summary> {
      return store_sql::summarize_fleet(*db_, company_id);
    });
  }

  result<claim_failures> count_claim_failures(const std::string& company_id,
                                              std::int64_t since_s) override {
    return tx_.read<claim_failures>("count_claim_failures", [&]() -> result<claim_failures> {
      auto q = db_->prepare(
          "SELECT count(*), min(at_s) FROM device_claim_failures "
          "WHERE company_id = ? AND at_s >= ?");
      q.bind(company_id).bind(since_s);
      q.step();
      return claim_failures{q.i64(0), q.opt_i64(1)};
    });
  }

  status record_claim_failure(const std::string& company_id, std::int64_t now_s,
                              std::int64_t forget_before_s) override {
    return tx_.write_status("record_claim_failure", [&]() -> result<bool> {
      db_->prepare("DELETE FROM device_claim_failures WHERE company_id = ? AND at_s < ?")
          .bind(company_id)
          .bind(forget_before_s)
          .exec();
      db_->prepare("INSERT INTO device_claim_failures(company_id, at_s) VALUES(?, ?)")
          .bind(company_id)
          .bind(now_s)
          .exec();
      return true;
    });
  }

  result<device> get_device(const std::string& company_id, const std::string& device_id) override {
    return tx_.read<device>("get_device", [&] { return device_locked(company_id, device_id); });
  }

  result<device_page> list_devices(const std::string& company_id,
                                   const device_query& query_in) override {
    std::size_t limit = std::clamp<std::size_t>(query_in.limit, 1, limits::k_max_page);
    return tx_.read<device_page>("list_devices", [&]() -> result<device_page> {
      auto sql = store_sql::list_devices_sql(db_->kind(), query_in);
      if (!sql.id_window.empty()) {
        return store_sql::id_search_page(*db_, sql, company_id, query_in, limit);
      }
      device_page page;
      if (sql.scan_end.empty()) {
        auto q = db_->prepare(sql.page);
        store_sql::bind_device_window(q, company_id, query_in);
        q.bind(limit + 1);
        while (q.step()) page.devices.push_back(read_device(q));
        if (page.devices.size() > limit) {
          page.devices.pop_back();
          page.next_cursor = page.devices.back().id;
        }
        return page;
      }
      // The window of `sql.scan` devices is walked in parts that double from
      // limits::k_first_device_window: a filter that matches often fills the page from the first
      // part, and a small part keeps PostgreSQL on the window's index in id order (over a large
      // one it reads the whole window through a bitmap and sorts it, ~30 ms at 5,000 rows).
      device_query part = query_in;
      std::size_t examined = 0;
      std::size_t step = limits::k_first_device_window;
      // Where the last part ended; none once the company's devices ran out.
      std::optional<std::string> scan_end;
      for (;;) {
        step = std::min(step, sql.scan - examined);
        auto e = db_->prepare(sql.scan_end);
        store_sql::bind_device_window(e, company_id, part);
        e.bind(step - 1);
        scan_end.reset();
        if (e.step()) scan_end = e.text(0);
        while (e.step()) {
        }
        auto q = db_->prepare(sql.page);
        store_sql::bind_device_window(q, company_id, part);
        q.bind(scan_end ? std::string_view(*scan_end) : store_sql::k_after_every_id);
        store_sql::bind_device_rest(q, query_in);
        q.bind(limit + 1 - page.devices.size());
        while (q.step()) page.devices.push_back(read_device(q));
        examined += step;
        if (page.devices.size() > limit || !scan_end || examined >= sql.scan) break;
        part.cursor = *scan_end;
        step *= 2;
      }
      if (page.devices.size() > limit) {
        page.devices.pop_back();
        page.next_cursor = page.devices.back().id;
      } else if (scan_end) {
        page.next_cursor = *scan_end;
      }
      return page;
    });
  }

  result<std::vector<state_history_entry>> state_history(const std::string& company_id,
                                                         const std::string& device_id,
                                                         std::size_t limit) override {
    return tx_.read<std::vector<state_history_entry>>(
        "state_history", [&]() -> result<std::vector<state_history_entry>> {
          auto d = device_locked(company_id, device_id);
          if (!d.ok()) return d.error();
          std::vector<state_history_entry> out;
          auto q = db_->prepare(
              "SELECT received_ms, state_json FROM state_history WHERE device_id = ? "
              "AND n > (SELECT state_count FROM devices WHERE id = ?) - ? "
              "ORDER BY n DESC LIMIT ?");
          // Only the newest `history_` states: a ring written with another bound may hold
          // older slots that were not overwritten.
          q.bind(device_id)
              .bind(device_id)
              .bind(static_cast<std::int64_t>(history_))
              .bind(static_cast<std::int64_t>(std::min(limit, history_)));
          while (q.step()) out.push_back({q.i64(0), q.text(1)});
          return out;
        });
  }

  result<std::vector<device>> list_unassigned_devices(std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, limits::k_max_unassigned);
    return tx_.read<std::vector<device>>("list_unassigned_devices",
                                         [&]() -> result<std::vector<device>> {
                                           std::vector<device> out;
                                           auto q = db_->prepare(k_device_select +
                                                                 "WHERE d.company_id IS NULL "
                                                                 "ORDER BY d.id LIMIT ?");
                                           q.bind(limit);
                                           while (q.step()) out.push_back(read_device(q));
                                           return out;
                                         });
  }

  // ---- commands ----

  result<command_record> create_command(const std::string& company_id,
                                        const new_command& cmd) override {
    if (auto s = check_new_command(cmd); !s.ok()) return s;
    return tx_.write<command_record>("create_command", [&]() -> result<command_record> {
      auto d = device_locked(company_id, cmd.device_id);
      if (!d.ok()) return d.error();
      return insert_command_locked(company_id, cmd);
    });
  }

  result<command_record> get_command(const std::string& company_id,
                                     const std::string& command_id) override {
    return tx_.read<command_record>("get_command", [&]() -> result<command_record> {
      auto q = db_->prepare(k_command_cols + "WHERE id = ? AND company_id = ?");
      q.bind(command_id).bind(company_id);
      if (!q.step()) return fail(k_not_found, "no such command");
      return read_command(q);
    });
  }

  result<std::vector<command_record>> list_commands(const std::string& company_id,
                                                    const std::string& device_id,
                                                    std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, limits::k_max_commands_per_call);
    return tx_.read<std::vector<command_record>>(
        "list_commands", [&]() -> result<std::vector<command_record>> {
          std::vector<command_record> out;
          auto q = db_->prepare(k_command_cols +
                                "WHERE company_id = ? AND device_id = ? ORDER BY seq DESC "
                                "LIMIT ?");
          q.bind(company_id).bind(device_id).bind(limit);
          while (q.step()) out.push_back(read_command(q));
          return out;
        });
  }

  // ---- technician logins ----

  result<technician_login> create_technician_login(const technician_login& login,
                                                   const new_command& install) override {
    if (login.login_id.empty() || login.login_id.size() > limits::k_max_name) {
      return fail(k_invalid, "bad login id");
    }
    if (install.device_id != login.device_id) return fail(k_invalid, "device mismatch");
    if (auto s = check_new_command(install); !s.ok()) return s;
    return tx_.write<technician_login>(
        "create_technician_login", [&]() -> result<technician_login> {
          auto d = device_locked(login.company_id, login.device_id);
          if (!d.ok()) return d.error();
          auto dup = db_->prepare("SELECT 1 FROM technician_logins WHERE login_id = ?");
          dup.bind(login.login_id);
          if (dup.step()) return fail(k_conflict, "login id exists");
          auto cmd = insert_command_locked(login.company_id, install);
          if (!cmd.ok()) return cmd.error();
          db_->prepare(
                 "INSERT INTO technician_logins(login_id, company_id, device_id, salt_hex, "
                 "iterations, hash_hex, issued_at_s, expires_at_s, status, failed_count, "
                 "install_command_id, created_by, technician_name) "
                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'active', 0, ?, ?, ?)")
              .bind(login.login_id)
              .bind(login.company_id)
              .bind(login.device_id)
              .bind(login.salt_hex)
              .bind(login.iterations)
              .bind(login.hash_hex)
              .bind(login.issued_at_s)
              .bind(login.expires_at_s)
              .bind(cmd->id)
              .bind(login.created_by)
              .bind(login.technician_name)
              .exec();
          return login_locked(login.company_id, login.login_id);
        });
  }

  result<std::vector<technician_login>> list_technician_logins(const std::string& company_id,
                                                               const std::string& device_id,
                                                               std::int64_t now_s) override {
    return tx_.read<std::vector<technician_login>>(
        "list_technician_logins", [&]() -> result<std::vector<technician_login>> {
          auto d = device_locked(company_id, device_id);
          if (!d.ok()) return d.error();
          std::vector<technician_login> out;
          auto q = db_->prepare(k_login_select +
                                "WHERE company_id = ? AND device_id = ? AND status = 'active' "
                                "AND expires_at_s > ? ORDER BY issued_at_s");
          q.bind(company_id).bind(device_id).bind(now_s);
          while (q.step()) out.push_back(read_login(q));
          return out;
        });
  }

  result<technician_login> get_technician_login(const std::string& company_id,
                                                const std::string& login_id) override {
    return tx_.read<technician_login>("get_technician_login",
                                      [&] { return login_locked(company_id, login_id); });
  }

  result<command_record> revoke_technician_login(const std::string& company_id,
                                                 const std::string& device_id,
                                                 const std::string& login_id,
                                                 const new_command& revoke) override {
    if (revoke.device_id != device_id) return fail(k_invalid, "device mismatch");
    if (auto s = check_new_command(revoke); !s.ok()) return s;
    return tx_.write<command_record>("revoke_technician_login", [&]() -> result<command_record> {
      auto login = login_locked(company_id, login_id);
      if (!login.ok() || login->device_id != device_id) {
        return fail(k_not_found, "no such technician login");
      }
      if (login->status != technician_login_status::active) {
        return fail(k_conflict, "technician login is no longer active");
      }
      db_->prepare("UPDATE technician_logins SET status = 'revoked' WHERE login_id = ?")
          .bind(login_id)
          .exec();
      return insert_command_locked(company_id, revoke);
    });
  }

  result<std::size_t> purge_technician_logins(std::int64_t issued_before_s) override {
    return tx_.write<std::size_t>("purge_technician_logins", [&]() -> result<std::size_t> {
      store_sql::bury_technician_logins_locked(*db_, issued_before_s, clock_.now_ms());
      int n = db_->prepare("DELETE FROM technician_logins WHERE issued_at_s <= ?")
                  .bind(issued_before_s)
                  .exec();
      return static_cast<std::size_t>(n);
    });
  }

  // ---- technician secrets and mailed logins (technician_rows.h) ----

  result<bool> queue_technician_secret(const std::string& company_id,
                                       const std::string& device_id) override {
    return tx_.write<bool>("queue_technician_secret", [&]() -> result<bool> {
      if (auto d = device_locked(company_id, device_id); !d.ok()) return d.error();
      return store_sql::queue_technician_secret_locked(*db_, technician_secret_, device_id,
                                                       clock_.now_s());
    });
  }

  result<std::string> technician_secret_key_id(const std::string& company_id,
                                               const std::string& device_id) override {
    return tx_.read<std::string>("technician_secret_key_id", [&] {
      return store_sql::technician_secret_key_id_locked(*db_, company_id, device_id);
    });
  }

  result<technician_login> create_technician_login_with_mail(const technician_login& login,
                                                             const new_command& install,
                                                             const mail_message& mail) override {
    if (auto s = store_sql::check_technician_mail(mail); !s.ok()) return s;
    return tx_.write<technician_login>("create_technician_login_with_mail",
                                       [&]() -> result<technician_login> {
                                         auto created = create_technician_login(login, install);
                                         if (!created.ok()) return created;
                                         if (auto queued = enqueue_mail(mail); !queued.ok())
                                           return queued.error();
                                         return created;
                                       });
  }

  // ---- roles ----

  result<std::vector<role>> list_roles(const std::string& company_id) override {
    return tx_.read<std::vector<role>>("list_roles", [&]() -> result<std::vector<role>> {
      std::vector<role> out;
      auto q = db_->prepare(k_role_cols +
                            "WHERE company_id = '' OR company_id = ? ORDER BY built_in DESC, id");
      q.bind(company_id);
      while (q.step()) out.push_back(read_role(q));
      return out;
    });
  }

  result<role> get_role(const std::string& company_id, std::int64_t role_id) override {
    return tx_.read<role>("get_role", [&] { return role_locked(company_id, role_id); });
  }

  result<role> find_role(const std::string& company_id, const std::string& name) override {
    return tx_.read<role>("find_role", [&] { return role_by_name_locked(company_id, name); });
  }

  result<role> create_role(const std::string& company_id, const std::string& name,
                           const std::vector<std::string>& permissions) override {
    if (!valid_display_name(name)) return fail(k_invalid, "bad role name");
    if (auto s = check_permissions(permissions); !s.ok()) return s;
    return tx_.write<role>("create_role", [&]() -> result<role> {
      if (auto c = company_locked(company_id); !c.ok()) return c.error();
      if (role_by_name_locked(company_id, name).ok()) return fail(k_conflict, "role exists");
      auto q = db_->prepare(
          "INSERT INTO roles(company_id, name, permissions, built_in) VALUES(?, ?, ?, 0) "
          "RETURNING id");
      q.bind(company_id).bind(name).bind(to_json_array(permissions));
      return role_locked(company_id, inserted_id(q));
    });
  }

  result<role> update_role(const std::string& company_id, std::int64_t role_id,
                           const std::optional<std::string>& name,
                           const std::optional<std::vector<std::string>>& permissions) override {
    if (name && !valid_display_name(*name)) return fail(k_invalid, "bad role name");
    if (permissions) {
      if (auto s = check_permissions(*permissions); !s.ok()) return s;
    }
    return tx_.write<role>("update_role", [&]() -> result<role> {
      auto current = role_locked(company_id, role_id);
      if (!current.ok()) return current;
      if (current->built_in) return fail(k_conflict, "built-in roles are read-only");
      if (name && *name != current->name && role_by_name_locked(company_id, *name).ok()) {
        return fail(k_conflict, "role exists");
      }
      db_->prepare("UPDATE roles SET name = ?, permissions = ? WHERE id = ?")
          .bind(name.value_or(current->name))
          .bind(to_json_array(permissions.value_or(current->permissions)))
          .bind(role_id)
          .exec();
      return role_locked(company_id, role_id);
    });
  }

  status delete_role(const std::string& company_id, std::int64_t role_id) override {
    return to_status(tx_.write<done>("delete_role", [&]() -> result<done> {
      auto current = role_locked(company_id, role_id);
      if (!current.ok()) return current.error();
      if (current->built_in) return fail(k_conflict, "built-in roles are read-only");
      auto used = db_->prepare("SELECT 1 FROM accounts WHERE role_id = ? LIMIT 1");
      used.bind(role_id);
      if (used.step()) return fail(k_conflict, "role is held by accounts");
      db_->prepare("DELETE FROM roles WHERE id = ?").bind(role_id).exec();
      return done{};
    }));
  }

  // ---- accounts ----

  result<account> create_account(const new_account& a) override {
    if (!valid_display_name(a.login_id)) return fail(k_invalid, "bad login id");
    if (a.password_hash.empty()) return fail(k_invalid, "missing password hash");
    return tx_.write<account>("create_account", [&]() -> result<account> {
      if (auto c = company_locked(a.company_id); !c.ok()) return c.error();
      auto r = role_by_name_locked(a.company_id, a.role_name);
      if (!r.ok()) return fail(k_invalid, "unknown role");
      auto dup = db_->prepare(
          "SELECT 1 FROM accounts WHERE company_id = ? AND lower(login_id) = lower(?)");
      dup.bind(a.company_id).bind(a.login_id);
      if (dup.step()) return fail(k_conflict, "login id taken");
      auto q = db_->prepare(
          "INSERT INTO accounts(company_id, login_id, email, role_id, password_hash, "
          "created_at_s, password_change_required) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id");
      q.bind(a.company_id)
          .bind(a.login_id)
          .bind(a.email)
          .bind(r->id)
          .bind(a.password_hash)
          .bind(clock_.now_s())
          .bind(std::int64_t{a.password_change_required ? 1 : 0});
      return account_locked(a.company_id, inserted_id(q));
    });
  }

  result<account> get_account(const std::string& company_id, std::int64_t account_id) override {
    return tx_.read<account>("get_account", [&] { return account_locked(company_id, account_id); });
  }

  result<account> find_account(const std::string& company_id,
                               const std::string& login_id) override {
    return tx_.read<account>("find_account", [&]() -> result<account> {
      auto q = db_->prepare(k_account_select +
                            "WHERE a.company_id = ? AND lower(a.login_id) = lower(?)");
      q.bind(company_id).bind(login_id);
      if (!q.step()) return fail(k_not_found, "no such account");
      return read_account(q);
    });
  }

  result<std::vector<account>> list_accounts(const std::string& company_id) override {
    return tx_.read<std::vector<account>>("list_accounts", [&]() -> result<std::vector<account>> {
      std::vector<account> out;
      auto q = db_->prepare(k_account_select + "WHERE a.company_id = ? ORDER BY a.login_id");
      q.bind(company_id);
      while (q.step()) out.push_back(read_account(q));
      return out;
    });
  }

  result<account> update_account(const std::string& company_id, std::int64_t account_id,
                                 const account_update& update,
                                 const account_check& check) override {
    return tx_.write<account>("update_account", [&]() -> result<account> {
      auto current = account_locked(company_id, account_id);
      if (!current.ok()) return current;
      std::optional<role> new_role;
      if (update.role_name) {
        auto r = role_by_name_locked(company_id, *update.role_name);
        if (!r.ok()) return fail(k_invalid, "unknown role");
        new_role = std::move(r).value();
      }
      if (auto s = checked_locked(*current, new_role, check); !s.ok()) return s;
      db_->prepare("UPDATE accounts SET email = ?, role_id = ? WHERE id = ?")
          .bind(update.email.value_or(current->email))
          .bind(new_role ? new_role->id : current->role_id)
          .bind(account_id)
          .exec();
      if (update.locked && *update.locked) {
        db_->prepare(
               "UPDATE accounts SET lock_reason = 'administrator', locked_until_s = NULL, "
               "locked_at_s = ? WHERE id = ?")
            .bind(clock_.now_s())
            .bind(account_id)
            .exec();
        db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(account_id).exec();
      } else if (update.locked) {
        db_->prepare(
               "UPDATE accounts SET lock_reason = 'none', locked_until_s = NULL, "
               "locked_at_s = NULL, failed_count = 0 WHERE id = ?")
            .bind(account_id)
            .exec();
      }
      return account_locked(company_id, account_id);
    });
  }

  status delete_account(const std::string& company_id, std::int64_t account_id,
                        const account_check& check) override {
    return to_status(tx_.write<done>("delete_account", [&]() -> result<done> {
      auto a = account_locked(company_id, account_id);
      if (!a.ok()) return a.error();
      if (auto s = checked_locked(*a, std::nullopt, check); !s.ok()) return s;
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(account_id).exec();
      db_->prepare("DELETE FROM accounts WHERE id = ?").bind(account_id).exec();
      return done{};
    }));
  }

  status set_password(const std::string& company_id, std::int64_t account_id,
                      const std::string& password_hash, bool change_required,
                      const account_check& check) override {
    if (password_hash.empty()) return fail(k_invalid, "missing password hash");
    return to_status(tx_.write<done>("set_password", [&]() -> result<done> {
      auto current = account_locked(company_id, account_id);
      if (!current.ok()) return current.error();
      if (auto s = checked_locked(*current, std::nullopt, check); !s.ok()) return s;
      std::vector<std::string> history{current->password_hash};
      for (const auto& h : current->password_history) {
        if (history.size() >= limits::k_password_history) break;
        history.push_back(h);
      }
      db_->prepare(
             "UPDATE accounts SET password_hash = ?, password_history = ?, "
             "password_change_required = ? WHERE id = ?")
          .bind(password_hash)
          .bind(to_json_array(history))
          .bind(std::int64_t{change_required ? 1 : 0})
          .bind(account_id)
          .exec();
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(account_id).exec();
      return done{};
    }));
  }

  result<account> record_login_failure(const std::string& company_id, std::int64_t account_id,
                                       std::int64_t now_s, const lock_decision& decide,
                                       std::optional<std::int64_t> ended_lease) override {
    return tx_.write<account>("record_login_failure", [&]() -> result<account> {
      auto current = account_locked(company_id, account_id);
      if (!current.ok()) return current;
      write_lock_locked(*current, decide(lock_state_of(*current)), now_s);
      end_verification_lease_locked(ended_lease);
      return account_locked(company_id, account_id);
    });
  }

  status record_login_success(const std::string& company_id, std::int64_t account_id,
                              std::int64_t now_s, const lock_decision& decide,
                              std::optional<std::int64_t> ended_lease) override {
    return to_status(tx_.write<done>("record_login_success", [&]() -> result<done> {
      auto current = account_locked(company_id, account_id);
      if (!current.ok()) return current.error();
      write_lock_locked(*current, decide(lock_state_of(*current)), now_s);
      end_verification_lease_locked(ended_lease);
      db_->prepare(
             "UPDATE accounts SET last_login_at_s = ?, reminder_sent_at_s = NULL WHERE id = ?")
          .bind(now_s)
          .bind(account_id)
          .exec();
      return done{};
    }));
  }

  void end_verification_lease_locked(std::optional<std::int64_t> lease_id) {
    if (lease_id)
      db_->prepare("DELETE FROM verification_leases WHERE id = ?").bind(*lease_id).exec();
  }

  // Stores `next` as the account's lock fields. A lock that starts (a new reason or end) is dated
  // now_s and ends the account's sessions.
  void write_lock_locked(const account& current, const account_lock_state& next,
                         std::int64_t now_s) {
    const bool starts =
        next.locked != lock_reason::none &&
        (next.locked != current.locked || next.locked_until_s != current.locked_until_s);
    std::optional<std::int64_t> locked_at;
    if (starts) {
      locked_at = now_s;
    } else if (next.locked != lock_reason::none) {
      locked_at = current.locked_at_s;
    }
    db_->prepare(
           "UPDATE accounts SET failed_count = ?, lock_reason = ?, locked_until_s = ?, "
           "locked_at_s = ? WHERE id = ?")
        .bind(next.failed_count)
        .bind(to_string(next.locked))
        .bind(next.locked == lock_reason::failed_logins ? next.locked_until_s : std::nullopt)
        .bind(locked_at)
        .bind(current.id)
        .exec();
    if (starts) {
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(current.id).exec();
    }
  }

  status lock_account(const std::string& company_id, std::int64_t account_id, lock_reason reason,
                      std::optional<std::int64_t> until_s, std::int64_t now_s) override {
    if (reason == lock_reason::none) return unlock_account(company_id, account_id);
    return to_status(tx_.write<done>("lock_account", [&]() -> result<done> {
      if (auto a = account_locked(company_id, account_id); !a.ok()) return a.error();
      db_->prepare(
             "UPDATE accounts SET lock_reason = ?, locked_until_s = ?, locked_at_s = ? "
             "WHERE id = ?")
          .bind(to_string(reason))
          .bind(reason == lock_reason::failed_logins ? until_s : std::nullopt)
          .bind(now_s)
          .bind(account_id)
          .exec();
      db_->prepare("DELETE FROM sessions WHERE account_id = ?").bind(account_id).exec();
      return done{};
    }));
  }

  status unlock_account(const std::string& company_id, std::int64_t account_id) override {
    return to_status(tx_.write<done>("unlock_account", [&]() -> result<done> {
      if (auto a = account_locked(company_id, account_id); !a.ok()) return a.error();
      db_->prepare(
             "UPDATE accounts SET lock_reason = 'none', locked_until_s = NULL, "
             "locked_at_s = NULL, failed_count = 0 WHERE id = ?")
          .bind(account_id)
          .exec();
      return done{};
    }));
  }

  // ---- sessions ----

  status create_session(const session& s) override {
    return to_status(tx_.write<done>("create_session", [&]() -> result<done> {
      if (auto a = account_locked(s.company_id, s.account_id); !a.ok()) return a.error();
      db_->prepare(
             "INSERT INTO sessions(token_hash, csrf_token, account_id, company_id, "
             "created_at_s, last_seen_at_s, source_ip) VALUES(?, ?, ?, ?, ?, ?, ?)")
          .bind(s.token_hash)
          .bind(s.csrf_token)
          .bind(s.account_id)
          .bind(s.company_id)
          .bind(s.created_at_s)
          .bind(s.last_seen_at_s)
          .bind(s.source_ip)
          .exec();
      return done{};
    }));
  }

  result<session> find_session(const std::string& token_hash) override {
    return tx_.read<session>("find_session", [&]() -> result<session> {
      auto q = db_->prepare(
          "SELECT token_hash, csrf_token, account_id, company_id, created_at_s, "
          "last_seen_at_s, source_ip FROM sessions WHERE token_hash = ?");
      q.bind(token_hash);
      if (!q.step()) return fail(k_not_found, "no such session");
      return session{q.text(0), q.text(1), q.i64(2), q.text(3), q.i64(4), q.i64(5), q.text(6)};
    });
  }

  status touch_session(const std::string& token_hash, std::int64_t now_s) override {
    return to_status(tx_.write<done>("touch_session", [&]() -> result<done> {
      int n = db_->prepare("UPDATE sessions SET last_seen_at_s = ? WHERE token_hash = ?")
                  .bind(now_s)
                  .bind(token_hash)
                  .exec();
      if (n == 0) return fail(k_not_found, "no such session");
      return done{};
    }));
  }

  status delete_session(const std::string& token_hash) override {
    return to_status(tx_.write<done>("delete_session", [&]() -> result<done> {
      db_->prepare("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).exec();
      return done{};
    }));
  }

  status delete_account_sessions(const std::string& company_id, std::int64_t account_id) override {
    return to_status(tx_.write<done>("delete_account_sessions", [&]() -> result<done> {
      db_->prepare("DELETE FROM sessions WHERE account_id = ? AND company_id = ?")
          .bind(account_id)
          .bind(company_id)
          .exec();
      return done{};
    }));
  }

  result<std::size_t> purge_sessions(std::int64_t idle_before_s,
                                     std::int64_t created_before_s) override {
    return tx_.write<std::size_t>("purge_sessions", [&]() -> result<std::size_t> {
      int n = db_->prepare("DELETE FROM sessions WHERE last_seen_at_s < ? OR created_at_s < ?")
                  .bind(idle_before_s)
                  .bind(created_before_s)
                  .exec();
      return static_cast<std::size_t>(n);
    });
  }

  // ---- access log ----

  // Never run again on a transient failure: the body is an API route, which also answers,
  // logs and notifies outside the database.
  status run_operation(const std::function<status()>& body) override {
    return to_status(tx_.write_once<bool>("operation", [&]() -> result<bool> {
      if (auto st = body(); !st.ok()) return st;
      return true;
    }));
  }

  result<audit_record> append_audit(const audit_entry& e) override {
    return tx_.write<audit_record>("append_audit", [&]() -> result<audit_record> {
      return store_sql::append_audit_record(*db_, sealing_, e, clock_.now_ms());
    });
  }

  result<std::vector<audit_record>> list_audit(const std::string& company_id,
                                               const audit_query& aq) override {
    std::size_t limit = std::clamp<std::size_t>(aq.limit, 1, limits::k_max_audit_page);
    return tx_.read<std::vector<audit_record>>(
        "list_audit", [&]() -> result<std::vector<audit_record>> {
          std::vector<audit_record> out;
          auto q =
              db_->prepare(k_audit_select +
                           "WHERE company_id = ? AND seq > ? AND seq < ? AND ts_ms >= ? "
                           "AND ts_ms < ? AND (? = '' OR actor = ?) AND (? = '' OR action = ?) "
                           "ORDER BY seq " +
                           (aq.newest_first ? "DESC" : "ASC") + " LIMIT ?");
          q.bind(company_id)
              .bind(aq.after_seq)
              .bind(aq.before_seq.value_or(INT64_MAX))
              .bind(aq.from_ms.value_or(INT64_MIN))
              .bind(aq.to_ms.value_or(INT64_MAX))
              .bind(aq.actor)
              .bind(aq.actor)
              .bind(aq.action)
              .bind(aq.action)
              .bind(limit);
          while (q.step()) out.push_back(read_audit(q));
          return out;
        });
  }

  result<std::vector<audit_record>> read_audit_chain(std::int64_t after_seq,
                                                     std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, limits::k_max_audit_page);
    return tx_.read<std::vector<audit_record>>(
        "read_audit_chain", [&]() -> result<std::vector<audit_record>> {
          std::vector<audit_record> out;
          auto q = db_->prepare(k_audit_select + "WHERE seq > ? ORDER BY seq LIMIT ?");
          q.bind(after_seq).bind(limit);
          while (q.step()) out.push_back(read_audit(q));
          return out;
        });
  }

  result<audit_head> get_audit_head() override {
    return tx_.read<audit_head>(
        "get_audit_head", [&]() -> result<audit_head> { return store_sql::read_audit_head(*db_); });
  }

  result<std::int64_t> count_failed_logins(const std::string& company_id,
                                           std::int64_t since_ms) override {
    return tx_.read<std::int64_t>("count_failed_logins", [&]() -> result<std::int64_t> {
      auto q = db_->prepare(
          "SELECT count(*) FROM audit_log WHERE action = 'login' AND result = 'failure' "
          "AND ts_ms >= ? AND (? = '' OR company_id = ?)");
      q.bind(since_ms).bind(company_id).bind(company_id);
      q.step();
      return q.i64(0);
    });
  }

  // ---- alarms and mail ----

  result<alarm> create_alarm(const std::string& company_id, const std::string& kind,
                             const std::string& detail) override {
    return tx_.write<alarm>("create_alarm", [&]() -> result<alarm> {
      alarm a{0, company_id, kind, detail, clock_.now_s(), std::nullopt};
      auto q = db_->prepare(
          "INSERT INTO alarms(company_id, kind, detail, created_at_s) VALUES(?, ?, ?, ?) "
          "RETURNING id");
      q.bind(a.company_id).bind(a.kind).bind(a.detail).bind(a.created_at_s);
      a.id = inserted_id(q);
      return a;
    });
  }

  result<std::vector<alarm>> list_alarms(std::size_t limit) override {
    return tx_.read<std::vector<alarm>>("list_alarms", [&]() -> result<std::vector<alarm>> {
      std::vector<alarm> out;
      auto q = db_->prepare(
          "SELECT id, company_id, kind, detail, created_at_s, acknowledged_at_s FROM alarms "
          "ORDER BY id DESC LIMIT ?");
      q.bind(std::clamp<std::size_t>(limit, 1, limits::k_max_page));
      while (q.step()) {
        out.push_back({q.i64(0), q.text(1), q.text(2), q.text(3), q.i64(4), q.opt_i64(5)});
      }
      return out;
    });
  }

  result<std::int64_t> enqueue_mail(const mail_message& m) override {
    return tx_.write<std::int64_t>("enqueue_mail", [&]() -> result<std::int64_t> {
      auto q = db_->prepare(
          "INSERT INTO mail_outbox(recipient, subject, body, created_at_s, next_attempt_s) "
          "VALUES(?, ?, ?, ?, ?) RETURNING id");
      q.bind(m.to).bind(m.subject).bind(m.body).bind(clock_.now_s()).bind(clock_.now_s());
      return inserted_id(q);
    });
  }

  // ---- bridge::store_port ----

  result<bridge::batch_outcome> apply_batch(
      std::span<const bridge::device_message> batch) override {
    // Presence and state snapshots are sent again by the devices (retained presence, periodic
    // snapshots), so a batch of only those may be lost to a power cut; a result or an event
    // ends a command or writes the access log and is on the disk before the call returns.
    const bool resent_anyway = std::all_of(batch.begin(), batch.end(), [](const auto& m) {
      return std::holds_alternative<protocol::presence>(m.body) ||
             std::holds_alternative<protocol::state_snapshot>(m.body);
    });
    const auto durability = resent_anyway ? sql::durability::relaxed : sql::durability::durable;
    return tx_.write<
        bridge::batch_outcome>("apply_batch", durability, [&]() -> result<bridge::batch_outcome> {
      bridge::batch_outcome out;
      auto devices = batch_devices(batch);
      std::unordered_map<std::string_view, batch_device*> by_id;
      by_id.reserve(devices.size());
      for (auto& d : devices) {
        if (d.presence && d.presence->online) {
          // A new connection of the device: its commands published before it are due again
          // (claim_due). Every instance applies the same presence; only the first changes it.
          db_->prepare(
                 "UPDATE devices SET online_epoch = online_epoch + 1 "
                 "WHERE id = ? AND presence <> 'online'")
              .bind(d.id)
              .exec();
        }
        upsert_device_locked(d);
        if (d.presence && d.presence->online) {
          store_sql::queue_technician_secret_locked(*db_, technician_secret_, std::string(d.id),
                                                    clock_.now_s());
        }
        by_id.emplace(d.id, &d);
        if (d.company.empty()) ++out.unassigned;
        if (d.presence && d.presence->online) out.came_online.emplace_back(d.id);
      }
      for (const auto& m : batch) {
        if (std::holds_alternative<protocol::state_snapshot>(m.body)) {
          // Overwrites the device's oldest slot once the ring is full (migrations.cpp, schema 4).
          auto& d = *by_id.at(m.device_id);
          const std::int64_t n = ++d.last_n;
          db_->prepare(
                 "INSERT INTO state_history(device_id, slot, n, received_ms, state_json) "
                 "VALUES(?, ?, ?, ?, ?) ON CONFLICT(device_id, slot) DO UPDATE SET n = excluded.n, "
                 "received_ms = excluded.received_ms, state_json = excluded.state_json")
              .bind(m.device_id)
              .bind((n - 1) % static_cast<std::int64_t>(history_))
              .bind(n)
              .bind(m.received_ms)
              .bind(m.payload)
              .exec();
        } else if (const auto* r = std::get_if<protocol::command_result>(&m.body)) {
          if (!apply_result_locked(m, *r)) out.dropped_result_devices.push_back(m.device_id);
        } else if (const auto* e = std::get_if<protocol::event>(&m.body)) {
          if (!apply_event_locked(m, by_id.at(m.device_id)->company, *e)) {
            out.unrecorded_event_devices.push_back(m.device_id);
          }
        }
      }
      // A state reports the router's config_rev: its destination's profile may be due.
      for (const auto& d : devices) {
        if (d.state && !d.company.empty()) apply_profile_locked(std::string(d.id));
      }
      std::sort(out.came_online.begin(), out.came_online.end());
      return out;
    });
  }

  // A claim moves a command to `sent` under one instance's name inside the write transaction,
  // which serialises with every other instance's, so two instances never claim one command for
  // the same publish (store_port.h). claim_epoch is the device's online_epoch (migrations.cpp,
  // schema 6) the command was last claimed in.
  result<std::vector<bridge::outbound_command>> claim_due(const std::string& device_id,
                                                          const bridge::claim_request& request,
                                                          std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, limits::k_max_commands_per_call);
    return tx_.write<std::vector<bridge::outbound_command>>(
        "claim_due", [&]() -> result<std::vector<bridge::outbound_command>> {
          auto q = db_->prepare(store_sql::k_claim_due_select);
          q.bind(device_id).bind(request.now_ms / 1000).bind(limit);
          return claim_locked(q, request);
        });
  }

  // The periodic sweep for every online device (store_port.h). Finding candidates reads the
  // open commands (all queued ones, of offline routers too) and is done in a read transaction,
  // which never holds up a writer; only the candidates, by id and checked again, are claimed in
  // the write transaction. With 20,000 commands queued for offline routers the scan takes 8 to
  // 15 ms of CPU on either engine (bench_api), which the write lock would otherwise add to every
  // access-log write and ingest batch waiting behind it.
  result<std::vector<bridge::outbound_command>> claim_for_online(
      const bridge::claim_request& request, std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, limits::k_max_commands_per_call);
    auto bind_conditions = [&](query& q) {
      q.bind(request.now_ms / 1000).bind(request.stale_before_ms);
      // NULL equals nothing: without `own` no claim matches by its claimer.
      if (request.own) {
        q.bind(request.instance);
      } else {
        q.bind_null();
      }
    };
    auto candidates = tx_.read<std::vector<std::string>>(
        "claim_for_online", [&]() -> result<std::vector<std::string>> {
          auto q = db_->prepare(store_sql::claim_candidates_sql(db_->kind()));
          bind_conditions(q);
          q.bind(limit);
          std::vector<std::string> ids;
          while (q.step()) ids.push_back(q.text(0));
          return ids;
        });
    if (!candidates.ok()) return candidates.error();
    if (candidates->empty()) return std::vector<bridge::outbound_command>{};
    return tx_.write<std::vector<bridge::outbound_command>>(
        "claim_for_online", [&]() -> result<std::vector<bridge::outbound_command>> {
          std::vector<bridge::outbound_command> out;
          for (const auto& id : *candidates) {
            // Another instance may have claimed it since the read: the conditions again.
            auto q = db_->prepare(store_sql::k_claim_recheck_select);
            q.bind(id);
            bind_conditions(q);
            for (auto& c : claim_locked(q, request)) out.push_back(std::move(c));
          }
          return out;
        });
  }

  // Undoes the claim's count: a command whose only attempt this was is queued again, as if
  // never claimed (right side of SET: the row's values before the update).
  status release_claims(std::span<const std::string> ids, const std::string& instance) override {
    return to_status(tx_.write<done>("release_claims", [&]() -> result<done> {
      for (const auto& id : ids) {
        db_->prepare(
               "UPDATE commands SET status = CASE WHEN attempts <= 1 THEN 'queued' ELSE status "
               "END, "
               "sent_at_s = CASE WHEN attempts <= 1 THEN NULL ELSE sent_at_s END, "
               "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
               "claimed_at_ms = 0, claim_epoch = 0 "
               "WHERE id = ? AND status = 'sent' AND claimed_by = ?")
            .bind(id)
            .bind(instance)
            .exec();
      }
      return done{};
    }));
  }

  result<std::size_t> expire_overdue(std::int64_t now_s) override {
    return tx_.write<std::size_t>("expire_overdue", [&]() -> result<std::size_t> {
      int expired = db_->prepare(
                           "UPDATE commands SET status = 'expired', finished_at_s = ? "
                           "WHERE status = 'queued' AND deadline_s <= ?")
                        .bind(now_s)
                        .bind(now_s)
                        .exec();
      int timed_out = db_->prepare(
                             "UPDATE commands SET status = 'timed_out', finished_at_s = ? "
                             "WHERE status = 'sent' AND deadline_s <= ?")
                          .bind(now_s)
                          .bind(now_s)
                          .exec();
      return static_cast<std::size_t>(expired + timed_out);
    });
  }

  result<bridge::state_refresh_outcome> refresh_missing_state(
      std::span<const std::string> devices, std::int64_t deadline_s, std::int64_t not_before_s,
      std::int64_t stale_before_ms) override {
    return tx_.write<bridge::state_refresh_outcome>(
        "refresh_missing_state", [&]() -> result<bridge::state_refresh_outcome> {
          bridge::state_refresh_outcome out;
          for (const auto& id : devices) {
            auto d = db_->prepare(
                "SELECT COALESCE(company_id, ''), CASE WHEN state_json IS NULL OR "
                "COALESCE(state_received_ms, 0) < ? THEN 0 ELSE 1 END FROM devices WHERE id = ?");
            d.bind(stale_before_ms).bind(id);
            if (!d.step()) continue;
            if (d.i64(1) != 0) {
              out.have_state.push_back(id);
              continue;
            }
            auto open = db_->prepare(
                "SELECT 1 FROM commands WHERE device_id = ? AND op = ? AND "
                "(status IN ('queued', 'sent') OR created_at_s > ?) LIMIT 1");
            open.bind(id).bind(bridge::k_state_refresh_op).bind(not_before_s);
            if (open.step()) continue;
            auto c = insert_command_locked(
                d.text(0), new_command{id, std::string(bridge::k_state_refresh_op), "{}",
                                       deadline_s, std::string(bridge::k_system_issuer)});
            if (!c.ok()) return c.error();
            protocol::command cmd;
            cmd.id = c->id;
            cmd.op = c->op;
            cmd.args_json = c->args_json;
            cmd.deadline = c->deadline_s;
            out.queued.push_back({cmd.id, id, protocol::encode(cmd), cmd.deadline});
          }
          return out;
        });
  }

  result<std::size_t> presence_unvouched(std::int64_t heard_before_ms) override {
    // Presence is sent again by the devices (retained, and on every connect), so the change may
    // be lost to a power cut like the presence batches that set it.
    return tx_.write<std::size_t>(
        "presence_unvouched", sql::durability::relaxed, [&]() -> result<std::size_t> {
          return static_cast<std::size_t>(
              db_->prepare("UPDATE devices SET presence = 'unknown' WHERE presence = 'online' AND "
                           "COALESCE(last_seen_ms, 0) <= ?")
                  .bind(heard_before_ms)
                  .exec());
        });
  }

  // ---- counters and leases of the security rules (shared_counters.h) ----
  // Lost on a power cut at worst (durability::relaxed): a counter then forgets a few events and
  // a lease ends early, which the rules tolerate; none of them is a record of the service.

  result<std::vector<std::int64_t>> add_counter_event(const std::string& counter,
                                                      std::int64_t at_ms,
                                                      std::int64_t expires_at_ms,
                                                      std::size_t limit) override {
    using times = std::vector<std::int64_t>;
    return tx_.write<times>("add_counter_event", sql::durability::relaxed, [&]() -> result<times> {
      db_->prepare("DELETE FROM counter_events WHERE expires_at_ms <= ?").bind(at_ms).exec();
      db_->prepare("INSERT INTO counter_events(counter, at_ms, expires_at_ms) VALUES(?, ?, ?)")
          .bind(counter)
          .bind(at_ms)
          .bind(expires_at_ms)
          .exec();
      return counter_events_locked(counter, at_ms, limit);
    });
  }

  result<std::vector<std::int64_t>> counter_events(const std::string& counter, std::int64_t now_ms,
                                                   std::size_t limit) override {
    using times = std::vector<std::int64_t>;
    return tx_.read<times>("counter_events", [&]() -> result<times> {
      return counter_events_locked(counter, now_ms, limit);
    });
  }

  result<bool> take_lease(const std::string& name, const std::string& holder, std::int64_t now_ms,
                          std::int64_t until_ms) override {
    return tx_.write<bool>("take_lease", sql::durability::relaxed, [&]() -> result<bool> {
      db_->prepare("DELETE FROM leases WHERE until_ms <= ? AND name <> ?")
          .bind(now_ms)
          .bind(name)
          .exec();
      auto q = db_->prepare("SELECT holder, until_ms FROM leases WHERE name = ?");
      q.bind(name);
      if (!q.step()) {
        db_->prepare("INSERT INTO leases(name, holder, until_ms) VALUES(?, ?, ?)")
            .bind(name)
            .bind(holder)
            .bind(until_ms)
            .exec();
        return true;
      }
      if (q.text(0) != holder && q.i64(1) > now_ms) return false;
      db_->prepare("UPDATE leases SET holder = ?, until_ms = ? WHERE name = ?")
          .bind(holder)
          .bind(until_ms)
          .bind(name)
          .exec();
      return true;
    });
  }

  result<std::optional<std::int64_t>> take_verification_lease(
      const std::string& company_id, std::int64_t account_id, std::int64_t now_ms,
      std::int64_t until_ms, const verification_admission& admit) override {
    using lease = std::optional<std::int64_t>;
    return tx_.write<lease>(
        "take_verification_lease", sql::durability::relaxed, [&]() -> result<lease> {
          db_->prepare("DELETE FROM verification_leases WHERE until_ms <= ?").bind(now_ms).exec();
          auto current = account_locked(company_id, account_id);
          if (!current.ok()) return current.error();
          auto n = db_->prepare(
              "SELECT count(*) FROM verification_leases WHERE company_id = ? AND account_id = ?");
          n.bind(company_id).bind(account_id);
          n.step();
          if (!admit(*current, n.i64(0))) return lease{};
          auto q = db_->prepare(
              "INSERT INTO verification_leases(company_id, account_id, until_ms) VALUES(?, ?, ?) "
              "RETURNING id");
          q.bind(company_id).bind(account_id).bind(until_ms);
          if (!q.step()) return fail(k_store, "verification lease not added");
          lease id = q.i64(0);
          while (q.step()) {
          }
          return id;
        });
  }

  status release_verification_lease(std::int64_t lease_id) override {
    return to_status(tx_.write<bool>("release_verification_lease", sql::durability::relaxed,
                                     [&]() -> result<bool> {
                                       end_verification_lease_locked(lease_id);
                                       return true;
                                     }));
  }

 private:
  // The times of the counter's newest `limit` events unexpired at now_ms, newest first.
  std::vector<std::int64_t> counter_events_locked(const std::string& counter, std::int64_t now_ms,
                                                  std::size_t limit) {
    std::vector<std::int64_t> out;
    auto q = db_->prepare(
        "SELECT at_ms FROM counter_events WHERE counter = ? AND expires_at_ms > ? "
        "ORDER BY at_ms DESC, id DESC LIMIT ?");
    q.bind(counter).bind(now_ms).bind(limit);
    while (q.step()) out.push_back(q.i64(0));
    return out;
  }

  static status check_new_command(const new_command& c) {
    if (!protocol::valid_device_id(c.device_id)) return fail(k_invalid, "bad device id");
    if (!protocol::valid_name(c.op)) return fail(k_invalid, "bad op");
    if (!valid_json_object(c.args_json)) return fail(k_invalid, "args must be a JSON object");
    return {};
  }

  static status check_permissions(const std::vector<std::string>& permissions) {
    for (const auto& p : permissions) {
      if (std::find(k_permissions.begin(), k_permissions.end(), p) == k_permissions.end()) {
        return fail(k_invalid, "unknown permission " + p);
      }
    }
    return {};
  }

  result<company> company_locked(const std::string& id) {
    auto q = db_->prepare(k_company_cols + "WHERE id = ?");
    q.bind(id);
    if (!q.step()) return fail(k_not_found, "no such company");
    return read_company(q);
  }

  result<destination> destination_locked(const std::string& company_id, std::int64_t id) {
    auto q = db_->prepare(k_destination_cols + "WHERE t.id = ? AND t.company_id = ?");
    q.bind(id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such destination");
    return read_destination(q);
  }

  // Without destination_locked's device count, which reads every device of the destination: a
  // registration checks only that its destination is the company's (registering 100,000 routers
  // one by one would otherwise read the fleet 100,000 times).
  bool destination_exists_locked(const std::string& company_id, std::int64_t id) {
    auto q = db_->prepare("SELECT 1 FROM destinations WHERE id = ? AND company_id = ?");
    q.bind(id).bind(company_id);
    return q.step();
  }

  result<destination> create_destination_locked(const std::string& company_id,
                                                const std::string& name,
                                                const std::string& settings) {
    if (auto c = company_locked(company_id); !c.ok()) return c.error();
    auto dup = db_->prepare("SELECT 1 FROM destinations WHERE company_id = ? AND name = ?");
    dup.bind(company_id).bind(name);
    if (dup.step()) return fail(k_conflict, "destination name taken");
    auto q = db_->prepare(
        "INSERT INTO destinations(company_id, name, settings_json, created_at_s) "
        "VALUES(?, ?, ?, ?) RETURNING id");
    q.bind(company_id).bind(name).bind(settings).bind(clock_.now_s());
    const auto id = inserted_id(q);
    store_sql::set_destination_profile(*db_, *rules_.config_profiles, id, settings);
    return destination_locked(company_id, id);
  }

  // An unassigned or unknown device joins the company, one of the company moves to the
  // destination; one registered to another company is refused without naming that company.
  result<device> register_device_locked(const std::string& company_id, const std::string& device_id,
                                        std::int64_t destination_id) {
    auto q = db_->prepare("SELECT company_id FROM devices WHERE id = ?");
    q.bind(device_id);
    if (q.step()) {
      if (!q.is_null(0) && q.text(0) != company_id) {
        return fail(k_conflict, "device " + device_id + " is registered to another company");
      }
      db_->prepare(
             "UPDATE devices SET company_id = ?, destination_id = ?, "
             "registered_at_s = COALESCE(registered_at_s, ?) WHERE id = ?")
          .bind(company_id)
          .bind(destination_id)
          .bind(clock_.now_s())
          .bind(device_id)
          .exec();
    } else {
      db_->prepare(
             "INSERT INTO devices(id, company_id, destination_id, registered_at_s) "
             "VALUES(?, ?, ?, ?)")
          .bind(device_id)
          .bind(company_id)
          .bind(destination_id)
          .bind(clock_.now_s())
          .exec();
    }
    apply_profile_locked(device_id);
    store_sql::queue_technician_secret_locked(*db_, technician_secret_, device_id, clock_.now_s());
    return device_locked(company_id, device_id);
  }

  // Queues the config.set that brings the device to its destination's profile, when one is
  // due (the store's config_profile_port), through the command outbox like any command.
  void apply_profile_locked(const std::string& device_id) {
    auto due =
        store_sql::profile_command_due(*db_, *rules_.config_profiles, device_id, clock_.now_s());
    if (!due) return;
    auto cmd = insert_command_locked(due->company_id, due->command);
    if (!cmd.ok()) return;
    store_sql::record_profile_command(*db_, device_id, cmd->id, *due);
  }

  result<device> device_locked(const std::string& company_id, const std::string& device_id) {
    auto q = db_->prepare(k_device_select + "WHERE d.id = ? AND d.company_id = ?");
    q.bind(device_id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such device");
    return read_device(q);
  }

  result<command_record> insert_command_locked(const std::string& company_id,
                                               const new_command& c) {
    std::string id = store_sql::insert_queued_command(*db_, company_id, c, clock_.now_s());
    auto q = db_->prepare(k_command_cols + "WHERE id = ?");
    q.bind(id);
    q.step();
    return read_command(q);
  }

  result<technician_login> login_locked(const std::string& company_id,
                                        const std::string& login_id) {
    auto q = db_->prepare(k_login_select + "WHERE login_id = ? AND company_id = ?");
    q.bind(login_id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such technician login");
    return read_login(q);
  }

  result<role> role_locked(const std::string& company_id, std::int64_t id) {
    auto q = db_->prepare(k_role_cols + "WHERE id = ? AND (company_id = '' OR company_id = ?)");
    q.bind(id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such role");
    return read_role(q);
  }

  result<role> role_by_name_locked(const std::string& company_id, const std::string& name) {
    auto q = db_->prepare(k_role_cols + "WHERE name = ? AND (company_id = '' OR company_id = ?)");
    q.bind(name).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such role");
    return read_role(q);
  }

  result<account> account_locked(const std::string& company_id, std::int64_t id) {
    auto q = db_->prepare(k_account_select + "WHERE a.id = ? AND a.company_id = ?");
    q.bind(id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such account");
    return read_account(q);
  }

  // Runs `check` (when set) on the facts of a change to `target` read in this transaction.
  status checked_locked(const account& target, const std::optional<role>& new_role,
                        const account_check& check) {
    if (!check) return {};
    account_facts f;
    f.target = target;
    auto held = role_locked(target.company_id, target.role_id);
    if (!held.ok()) return held.error();
    f.target_permissions = held->permissions;
    f.new_role = new_role;
    auto q = db_->prepare(k_account_select +
                          "WHERE a.company_id = ? AND a.id != ? AND r.built_in = 1 AND r.name = ?");
    q.bind(target.company_id).bind(target.id).bind(k_role_administrator);
    while (q.step()) f.other_administrators.push_back(read_account(q));
    return check(f);
  }

  // What one batch changes in one device's row: the batch is applied per device with one
  // statement, whatever number of messages it holds for the device.
  struct batch_device {
    std::string_view id;
    std::int64_t first_ms = 0;  // received_ms of its first message (first_seen_ms if unset)
    std::int64_t last_ms = 0;   // the largest received_ms (last_seen_ms)
    const protocol::presence* presence = nullptr;   // its last presence message
    const bridge::device_message* state = nullptr;  // its last state message: the latest state
    std::int64_t states = 0;                        // state messages (history rows)
    std::string company;                            // "" when unassigned; set by the upsert
    std::int64_t last_n = 0;  // the device's state counter before the next state of the batch
  };

  // The batch's devices in the order of their first message.
  static std::vector<batch_device> batch_devices(std::span<const bridge::device_message> batch) {
    std::vector<batch_device> devices;
    std::unordered_map<std::string_view, std::size_t> index;
    for (const auto& m : batch) {
      auto [it, fresh] = index.emplace(m.device_id, devices.size());
      if (fresh) {
        batch_device d;
        d.id = m.device_id;
        d.first_ms = d.last_ms = m.received_ms;
        devices.push_back(std::move(d));
      }
      auto& d = devices[it->second];
      d.last_ms = std::max(d.last_ms, m.received_ms);
      if (const auto* p = std::get_if<protocol::presence>(&m.body)) {
        d.presence = p;
      } else if (std::holds_alternative<protocol::state_snapshot>(m.body)) {
        d.state = &m;
        ++d.states;
      }
    }
    return devices;
  }

  // Records that the device was heard from (creating an unassigned row for an unknown device),
  // its last presence and latest state of the batch, in one statement that answers its company.
  // The presence and agent are bound twice (the row's defaults when inserted, kept when NULL on
  // update); the other values are read back from `excluded`.
  void upsert_device_locked(batch_device& d) {
    auto q = db_->prepare(db_->kind() == sql::dialect::postgres ? k_upsert_device_postgres
                                                                : k_upsert_device_sqlite);
    std::optional<std::string> presence;
    std::optional<std::string> agent;
    if (d.presence) {
      presence = d.presence->online ? "online" : "offline";
      agent = d.presence->agent;
    }
    std::optional<std::string> state;
    std::optional<std::int64_t> state_ms;
    // The fleet filters' columns (device_rows.h), as the latest state reports them.
    std::optional<std::string> model;
    std::optional<std::string> firmware;
    std::optional<std::string> wan_ip;
    if (d.state) {
      state = d.state->payload;
      state_ms = d.state->received_ms;
      const auto& snap = std::get<protocol::state_snapshot>(d.state->body);
      model = snap.model;
      firmware = snap.fw;
      wan_ip = snap.wan_ip;
    }
    q.bind(d.id).bind(d.last_ms).bind(d.first_ms).bind(presence).bind(agent).bind(state);
    q.bind(state_ms).bind(d.states).bind(model).bind(firmware).bind(wan_ip);
    q.bind(presence).bind(agent);
    if (!q.step()) throw db_error("device upsert returned no row", "");
    d.company = q.text(0);
    d.last_n = q.i64(1) - d.states;
    while (q.step()) {
    }
  }

  // False when the result is dropped: unknown command, another device's, or already final.
  bool apply_result_locked(const bridge::device_message& m, const protocol::command_result& r) {
    auto q = db_->prepare("SELECT company_id, op FROM commands WHERE id = ? AND device_id = ?");
    q.bind(r.id).bind(m.device_id);
    if (!q.step()) return false;
    std::string company_id = q.text(0);
    std::string op = q.text(1);
    if (!protocol::is_final(r.status)) {
      return db_->prepare(
                    "UPDATE commands SET result_status = 'progress', result_json = ? "
                    "WHERE id = ? AND status IN ('queued', 'sent')")
                 .bind(r.result_json)
                 .bind(r.id)
                 .exec() == 1;
    }
    command_status outcome = final_status_of(r.status);
    std::int64_t now_s = m.received_ms / 1000;
    int changed = db_->prepare(
                         "UPDATE commands SET status = ?, result_status = ?, result_json = ?, "
                         "error = ?, finished_at_s = ? "
                         "WHERE id = ? AND status IN ('queued', 'sent')")
                      .bind(to_string(outcome))
                      .bind(protocol::to_string(r.status))
                      .bind(r.result_json)
                      .bind(r.error)
                      .bind(now_s)
                      .bind(r.id)
                      .exec();
    if (changed == 0) return false;
    if (outcome == command_status::succeeded) {
      store_sql::confirm_technician_secret_locked(*db_, m.device_id, op, r.id);
    }
    store_sql::append_audit_record(*db_, sealing_,
                                   {company_id, "device:" + m.device_id, "command.result", r.id,
                                    std::string(to_string(outcome)), op, ""},
                                   m.received_ms);
    return true;
  }

  // A technician-login event of a registered device: the facts read here, the change the rule
  // decides written here. False when the event was not recorded (a login the device does not
  // hold, or past the device's rate).
  bool apply_event_locked(const bridge::device_message& m, const std::string& company_id,
                          const protocol::event& e) {
    if (company_id.empty() || !technician_events_.handles || !technician_events_.handles(e.type)) {
      return true;
    }
    std::string login_id;
    if (auto fields = common::parse_json(e.fields_json); fields.ok()) {
      login_id = common::json_string(fields->get(), "login_id").value_or("");
    }
    technician_event_facts facts;
    facts.type = e.type;
    std::string technician;
    {
      auto held = db_->prepare(
          "SELECT technician_name FROM technician_logins "
          "WHERE login_id = ? AND device_id = ? AND company_id = ?");
      held.bind(login_id).bind(m.device_id).bind(company_id);
      facts.login_held = held.step();
      if (facts.login_held) technician = held.text(0);
    }
    if (!facts.login_held) {
      // A late report on a purged login: the company still knows whom it issued it to.
      auto buried = store_sql::technician_tombstone_locked(*db_, company_id, m.device_id, login_id);
      facts.login_held = buried.has_value();
      technician = buried.value_or("");
    }
    facts.technician_name = technician;
    facts.fields_json = e.fields_json;
    if (facts.login_held) {
      auto q = db_->prepare(
          "SELECT count(*) FROM audit_log WHERE action IN ('technician_login.used', "
          "'technician_login.failed', 'technician_login.locked', 'technician_login.ended') "
          "AND ts_ms > ? AND actor = ?");
      q.bind(m.received_ms - static_cast<std::int64_t>(technician_events_.window.count()) * 1000)
          .bind("device:" + m.device_id);
      if (q.step()) facts.records_in_window = q.i64(0);
    }
    const technician_event_change change = technician_events_.decide(facts);
    if (change.status) {
      db_->prepare(
             "UPDATE technician_logins SET status = ? "
             "WHERE login_id = ? AND device_id = ? AND status = 'active'")
          .bind(to_string(*change.status))
          .bind(login_id)
          .bind(m.device_id)
          .exec();
    }
    if (change.count_failure) {
      db_->prepare(
             "UPDATE technician_logins SET failed_count = failed_count + 1 "
             "WHERE login_id = ? AND device_id = ?")
          .bind(login_id)
          .bind(m.device_id)
          .exec();
    }
    if (!change.record) return false;
    store_sql::append_audit_record(*db_, sealing_,
                                   {company_id, "device:" + m.device_id, e.type, login_id,
                                    std::string(change.outcome), change.detail, ""},
                                   m.received_ms);
    return true;
  }

  // The id an INSERT ... RETURNING id answered.
  static std::int64_t inserted_id(query& q) {
    if (!q.step()) throw db_error("insert returned no id", "");
    const std::int64_t id = q.i64(0);
    while (q.step()) {
    }
    return id;
  }

  // Claims every row of `q` (id, device_id, op, args_json, deadline_s, the device's
  // online_epoch) for `request.instance` and counts the publish attempt (store_port.h).
  // REQUIRES: inside a write transaction.
  std::vector<bridge::outbound_command> claim_locked(query& q,
                                                     const bridge::claim_request& request) {
    std::vector<std::pair<bridge::outbound_command, std::int64_t>> rows;
    while (q.step()) rows.emplace_back(outbound_locked(q), q.i64(5));
    std::vector<bridge::outbound_command> out;
    out.reserve(rows.size());
    for (auto& [c, epoch] : rows) {
      db_->prepare(
             "UPDATE commands SET status = 'sent', claimed_by = ?, claimed_at_ms = ?, "
             "claim_epoch = ?, attempts = attempts + 1, sent_at_s = COALESCE(sent_at_s, ?) "
             "WHERE id = ?")
          .bind(request.instance)
          .bind(request.now_ms)
          .bind(epoch)
          .bind(request.now_ms / 1000)
          .bind(c.id)
          .exec();
      out.push_back(std::move(c));
    }
    return out;
  }

  bridge::outbound_command outbound_locked(const query& q) {
    protocol::command c;
    c.id = q.text(0);
    c.op = q.text(2);
    c.args_json = q.text(3);
    c.deadline = q.i64(4);
    std::string device_id = q.text(1);
    if (publish_args_) c.args_json = publish_args_(device_id, c.op, c.args_json);
    return {c.id, std::move(device_id), protocol::encode(c), c.deadline};
  }

  sql::transactions tx_;
  sql::current_connection db_{tx_};  // used only inside tx_'s transactions
  const common::clock& clock_;
  std::size_t history_;
  technician_event_rule technician_events_;
  command_args_at_publish publish_args_;
  technician_secret_rule technician_secret_;
  store_rules rules_;
  store_sql::audit_sealing sealing_;
};

}  // namespace

result<std::unique_ptr<store>> open_store(const store_options& options,
                                          const common::clock& clock) {
  std::size_t history = options.state_history_per_device == 0 ? limits::k_state_history_per_device
                                                              : options.state_history_per_device;
  if (!options.rules.audit_chain || !options.rules.config_profiles) {
    return fail(k_invalid, "the store needs its rules (store_options::rules)");
  }
  auto pool = store_sql::open_pool(options);
  if (!pool.ok()) return pool.error();
  auto s = std::make_unique<sql_store>(std::move(pool).value(), clock, history,
                                       options.technician_events, options.publish_args,
                                       options.technician_secret, options.rules, options.audit_key);
  if (auto st = s->start_keyed_chain(); !st.ok()) return st;
  return std::unique_ptr<store>(std::move(s));
}

}  // namespace aterm::cloud
