// Conformance of the store engines: every method of the store's interfaces (store.h, the
// bridge's store_port, the security rules' shared_counters, the jobs' lifecycle_port and its
// mail outbox_port) is called with a checked result against a real database of the engine
// ATERM_TEST_ENGINE names, so both engines answer every method alike. The cases here cover the
// methods no other store suite calls directly; k_coverage names where each method is covered,
// and the last case fails when an interface gains a method that it does not list or when a
// listed suite no longer calls it.
#include <doctest/doctest.h>

#include <cctype>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/alerts/alert_port.h"
#include "aterm/cloud/jobs/lifecycle_port.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/protocol.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace {

using namespace aterm;
using cloud::store;
namespace fs = std::filesystem;
namespace protocol = common::protocol;

constexpr std::int64_t k_t0 = 1'800'000'000;  // 2027-01-15, a fixed start for the manual clock
// refresh_missing_state's stale_before_ms when any stored state counts.
constexpr std::int64_t k_any_state = std::numeric_limits<std::int64_t>::min();

// Where each method is called with a checked result: "" = a case of this file, otherwise the
// store suite (under tests/unit/cloud/) whose cases call it. Keyed "interface::method".
struct coverage {
  std::string_view method;
  std::string_view suite;
};
constexpr std::string_view k_here;
constexpr std::string_view k_store_test = "store/store_test.cpp";
constexpr coverage k_coverage[] = {
    // store.h: companies
    {"store::create_company", k_here},
    {"store::get_company", k_here},
    {"store::list_companies", k_here},
    {"store::company_summaries", k_here},
    {"store::update_company_settings", k_here},
    // destinations
    {"store::create_destination", k_here},
    {"store::list_destinations", k_here},
    {"store::get_destination", k_store_test},
    {"store::update_destination", k_store_test},
    {"store::delete_destination", k_store_test},
    {"store::ensure_destination", k_here},
    // devices
    {"store::register_device", k_here},
    {"store::claim_devices", k_store_test},
    {"store::unassign_device", k_store_test},
    {"store::count_claim_failures", k_store_test},
    {"store::record_claim_failure", k_store_test},
    {"store::get_device", k_store_test},
    {"store::list_devices", k_store_test},
    {"store::state_history", k_store_test},
    {"store::list_unassigned_devices", k_store_test},
    // fleet
    {"store::remove_device", k_store_test},
    {"store::summarize_fleet", k_store_test},
    // commands
    {"store::create_command", k_store_test},
    {"store::get_command", k_store_test},
    {"store::list_commands", k_store_test},
    // technician logins
    {"store::create_technician_login", k_here},
    {"store::list_technician_logins", k_store_test},
    {"store::get_technician_login", k_store_test},
    {"store::revoke_technician_login", k_store_test},
    {"store::purge_technician_logins", k_store_test},
    // technician secrets and mailed logins
    {"store::queue_technician_secret", k_store_test},
    {"store::technician_secret_key_id", k_store_test},
    {"store::create_technician_login_with_mail", k_store_test},
    // roles
    {"store::list_roles", k_store_test},
    {"store::get_role", k_store_test},
    {"store::find_role", k_store_test},
    {"store::create_role", k_store_test},
    {"store::update_role", k_store_test},
    {"store::delete_role", k_store_test},
    // accounts
    {"store::create_account", k_here},
    {"store::get_account", k_store_test},
    {"store::find_account", k_store_test},
    {"store::list_accounts", k_here},
    {"store::update_account", k_store_test},
    {"store::delete_account", k_store_test},
    {"store::set_password", k_store_test},
    {"store::record_login_failure", k_store_test},
    {"store::record_login_success", k_store_test},
    {"store::lock_account", k_store_test},
    {"store::unlock_account", k_store_test},
    // sessions
    {"store::create_session", k_here},
    {"store::find_session", k_here},
    {"store::touch_session", k_store_test},
    {"store::delete_session", k_here},
    {"store::delete_account_sessions", k_store_test},
    {"store::purge_sessions", k_store_test},
    // access log
    {"store::append_audit", k_here},
    {"store::run_operation", k_here},
    {"store::list_audit", k_store_test},
    {"store::read_audit_chain", k_store_test},
    {"store::get_audit_head", k_here},
    {"store::count_failed_logins", k_store_test},
    // fleet jobs and tags
    {"store::set_device_tags", k_here},
    {"store::device_tags", k_here},
    {"store::create_job", k_here},
    {"store::list_jobs", k_here},
    {"store::get_job", k_here},
    {"store::list_job_devices", k_here},
    {"store::cancel_job", k_here},
    {"store::summarize_running_jobs", k_here},
    {"store::release_jobs", k_here},
    // alarms and mail
    {"store::create_alarm", k_here},
    {"store::list_alarms", k_here},
    {"store::enqueue_mail", k_here},
    // notices
    {"store::post_notice", k_here},
    {"store::update_incident", k_here},
    {"store::get_notice", k_here},
    {"store::list_notices", k_here},
    // the bridge's store_port
    {"store_port::apply_batch", k_here},
    {"store_port::claim_due", k_store_test},
    {"store_port::claim_for_online", k_store_test},
    {"store_port::release_claims", k_store_test},
    {"store_port::refresh_missing_state", k_here},
    {"store_port::presence_unvouched", k_here},
    {"store_port::expire_overdue", k_store_test},
    // the security rules' shared_counters
    {"shared_counters::add_counter_event", k_store_test},
    {"shared_counters::counter_events", k_store_test},
    {"shared_counters::take_lease", k_store_test},
    {"shared_counters::take_verification_lease", k_store_test},
    {"shared_counters::release_verification_lease", k_store_test},
    // the jobs' lifecycle_port
    {"lifecycle_port::all_accounts", k_here},
    {"lifecycle_port::record_reminder", k_here},
    {"lifecycle_port::lock_inactive", k_here},
    {"lifecycle_port::delete_inactive", k_here},
    {"lifecycle_port::last_missing_email_notice", k_here},
    {"lifecycle_port::record_missing_email_notice", k_here},
    {"lifecycle_port::stale_devices", k_here},
    {"lifecycle_port::delete_device_data", k_here},
    {"lifecycle_port::expired_technician_logins", k_here},
    {"lifecycle_port::delete_technician_login", k_here},
    {"lifecycle_port::audit_purge_candidates", k_here},
    {"lifecycle_port::purge_audit", k_here},
    {"lifecycle_port::sent_mail_purge_candidates", k_here},
    {"lifecycle_port::purge_sent_mail", k_here},
    {"lifecycle_port::ended_companies", k_here},
    {"lifecycle_port::company_devices", k_here},
    {"lifecycle_port::end_contract", k_here},
    {"lifecycle_port::append_audit", k_here},
    {"lifecycle_port::rotate_audit_key", k_here},
    {"lifecycle_port::audit_head_now", k_here},
    // its mail outbox_port
    {"outbox_port::due_mail", k_here},
    {"outbox_port::mark_mail_sent", k_here},
    {"outbox_port::mark_mail_failed", k_here},
    {"outbox_port::forget_mail_body", k_here},
    // the alerts' alert_port
    {"alert_port::stored_rules", k_here},
    {"alert_port::save_rules", k_here},
    {"alert_port::active_router_alarms", k_here},
    {"alert_port::raise_alarm", k_here},
    {"alert_port::clear_alarm", k_here},
    {"alert_port::list_alarms", k_here},
    {"alert_port::count_open_alarms", k_here},
    {"alert_port::acknowledge_alarm", k_here},
    {"alert_port::create_channel", k_here},
    {"alert_port::list_channels", k_here},
    {"alert_port::delete_channel", k_here},
    {"alert_port::queue_webhook_event", k_here},
    {"alert_port::due_webhooks", k_here},
    {"alert_port::mark_webhook_sent", k_here},
    {"alert_port::mark_webhook_failed", k_here},
};

// The interfaces whose methods k_coverage must list: header (from the source tree), class.
struct interface_header {
  std::string_view header;
  std::string_view name;
};
constexpr interface_header k_interfaces[] = {
    {"cloud/include/aterm/cloud/store.h", "store"},
    {"broker-bridge/include/aterm/bridge/store_port.h", "store_port"},
    {"cloud/include/aterm/cloud/shared_counters.h", "shared_counters"},
    {"cloud/include/aterm/cloud/jobs/lifecycle_port.h", "lifecycle_port"},
    {"cloud/include/aterm/cloud/mail/mail.h", "outbox_port"},
    {"cloud/include/aterm/cloud/alerts/alert_port.h", "alert_port"},
};

struct fixture {
  std::string db_uri = test::test_db("conformance");  // a file path or a postgresql:// URI
  common::manual_clock clock{common::from_unix_s(k_t0)};
  std::unique_ptr<store> db;
  std::unique_ptr<cloud::jobs::lifecycle_port> port;  // on the store's pool, as the daemon's

  fixture() {
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = db_uri;
    auto s = cloud::open_store(o, clock);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    db = std::move(s).value();
    port = open_port(std::nullopt);
  }

  std::unique_ptr<cloud::jobs::lifecycle_port> open_port(std::optional<cloud::secret_key> key) {
    auto p = cloud::jobs::open_lifecycle_store(*db, std::move(key));
    REQUIRE_MESSAGE(p.ok(), p.error().to_string());
    return std::move(p).value();
  }

  // Company `id` with destination "default" holding `devices`.
  void company_with(const std::string& id, const std::vector<std::string>& devices) {
    auto c = db->create_company(id, "Company " + id);
    REQUIRE_MESSAGE(c.ok(), c.error().to_string());
    CHECK(c->id == id);
    auto dest = db->ensure_destination(id, "default");
    REQUIRE(dest.ok());
    for (const auto& d : devices) {
      auto r = db->register_device(id, d, dest->id);
      REQUIRE_MESSAGE(r.ok(), r.error().to_string());
      CHECK(r->company_id == id);
    }
  }

  cloud::account account_of(const std::string& company, const std::string& login) {
    auto a = db->create_account({company, login, login + "@example.com", "viewer", "h"});
    REQUIRE_MESSAGE(a.ok(), a.error().to_string());
    return *a;
  }

  void apply(std::vector<bridge::device_message> batch) {
    auto r = db->apply_batch(batch);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  }
};

bridge::device_message presence(const std::string& device, std::int64_t ms) {
  protocol::presence p{true, "1.0.0", ms / 1000};
  return {device, protocol::topic_kind::presence, ms, protocol::encode(p), p};
}

bridge::device_message state(const std::string& device, std::int64_t ms) {
  protocol::state_snapshot s;
  s.ts = ms / 1000;
  s.seq = 1;
  s.model = "WX3600HP";
  return {device, protocol::topic_kind::state, ms, protocol::encode(s), s};
}

cloud::mail_message mail_to(const std::string& to) {
  cloud::mail_message m;
  m.to = to;
  m.subject = "subject";
  m.body = "body";
  return m;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The names of the virtual methods (destructors aside) declared in the body of class `name` in
// `text`, in order.
std::vector<std::string> virtual_methods(const std::string& text, std::string_view name) {
  const std::string opening = "class " + std::string(name);
  std::size_t body = std::string::npos;
  for (auto pos = text.find(opening); pos != std::string::npos; pos = text.find(opening, pos + 1)) {
    const auto after = pos + opening.size();
    if (after >= text.size() || (text[after] != ' ' && text[after] != '{')) continue;
    const auto brace = text.find('{', after);
    if (brace != std::string::npos && brace < text.find(';', after)) {
      body = brace;
      break;
    }
  }
  if (body == std::string::npos) return {};
  const auto end = text.find("\n};", body);
  std::vector<std::string> out;
  for (auto v = text.find("virtual ", body); v != std::string::npos && v < end;
       v = text.find("virtual ", v + 1)) {
    const auto paren = text.find('(', v);
    auto stop = paren;
    while (stop > v && (std::isspace(static_cast<unsigned char>(text[stop - 1])) != 0)) --stop;
    auto start = stop;
    while (start > v && (std::isalnum(static_cast<unsigned char>(text[start - 1])) != 0 ||
                         text[start - 1] == '_'))
      --start;
    if (start == stop || text[start - 1] == '~') continue;
    out.push_back(text.substr(start, stop - start));
  }
  return out;
}

// True when `source` calls `method` on an object (`->method(` or `.method(`).
bool calls(const std::string& source, std::string_view method) {
  for (const char* via : {"->", "."}) {
    if (source.find(via + std::string(method) + "(") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("conformance: company summaries count devices, open alarms and locked accounts") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  f.company_with("globex", {});
  REQUIRE(f.db->create_alarm("acme", "login_failure_burst", "5 failed logins").ok());
  auto a = f.db->create_account({"acme", "lou", "lou@acme.example", "viewer", "h"});
  REQUIRE(a.ok());
  REQUIRE(f.db->create_account({"acme", "ann", "ann@acme.example", "viewer", "h"}).ok());
  REQUIRE(f.db->lock_account("acme", a->id, cloud::lock_reason::administrator, std::nullopt, k_t0)
              .ok());
  auto all = f.db->company_summaries(k_t0);
  REQUIRE(all.ok());
  std::set<std::string> seen;
  for (const auto& c : *all) {
    seen.insert(c.comp.id);
    if (c.comp.id == "acme") {
      CHECK(c.devices == 2);
      CHECK(c.online == 0);
      CHECK(c.open_alarms == 1);
      CHECK(c.locked_accounts == 1);
    } else if (c.comp.id == "globex") {
      CHECK(c.devices == 0);
      CHECK(c.open_alarms == 0);
      CHECK(c.locked_accounts == 0);
    }
  }
  CHECK(seen.count("acme") == 1);
  CHECK(seen.count("globex") == 1);
}

TEST_CASE("conformance: companies are created, listed and their settings replaced") {
  fixture f;
  f.company_with("acme", {});
  f.company_with("globex", {});
  auto all = f.db->list_companies();
  REQUIRE(all.ok());
  std::set<std::string> ids;
  for (const auto& c : *all) ids.insert(c.id);
  CHECK(ids.count("acme") == 1);
  CHECK(ids.count("globex") == 1);

  cloud::company_settings s;
  s.ip_allowlist = {"192.0.2.0/24", "2001:db8::/32"};
  s.technician_login_ttl_minutes = 15;
  s.contract_end_s = k_t0 + 86400;
  REQUIRE(f.db->update_company_settings("acme", s).ok());
  auto acme = f.db->get_company("acme");
  REQUIRE(acme.ok());
  CHECK(acme->settings.ip_allowlist == s.ip_allowlist);
  CHECK(acme->settings.technician_login_ttl_minutes == 15);
  CHECK(acme->settings.contract_end_s == k_t0 + 86400);
  CHECK(f.db->get_company("globex")->settings.ip_allowlist.empty());
  CHECK(f.db->update_company_settings("nobody", s).code() == cloud::k_not_found);
  s.technician_login_ttl_minutes = -1;
  CHECK(f.db->update_company_settings("acme", s).code() == cloud::k_invalid);
  CHECK(f.db->get_company("acme")->settings.technician_login_ttl_minutes == 15);
}

TEST_CASE("conformance: destinations and accounts are listed per company") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {});
  auto north = f.db->create_destination("acme", "north", R"({"region":"n"})");
  REQUIRE(north.ok());
  auto dests = f.db->list_destinations("acme");
  REQUIRE(dests.ok());
  REQUIRE(dests->size() == 2);
  for (const auto& d : *dests) {
    CHECK(d.company_id == "acme");
    CHECK(d.device_count == (d.name == "default" ? 1 : 0));
  }
  CHECK(f.db->list_destinations("globex")->size() == 1);

  f.account_of("acme", "alice");
  f.account_of("acme", "bob");
  auto accounts = f.db->list_accounts("acme");
  REQUIRE(accounts.ok());
  REQUIRE(accounts->size() == 2);
  for (const auto& a : *accounts) {
    CHECK(a.company_id == "acme");
    CHECK(a.role_name == "viewer");
  }
  CHECK(f.db->list_accounts("globex")->empty());
}

TEST_CASE("conformance: a session ends alone") {
  fixture f;
  f.company_with("acme", {});
  auto alice = f.account_of("acme", "alice");
  for (const std::string& hash : {std::string(64, 'a'), std::string(64, 'b')}) {
    REQUIRE(f.db->create_session({hash, "csrf", alice.id, "acme", k_t0, k_t0, "192.0.2.1"}).ok());
  }
  REQUIRE(f.db->delete_session(std::string(64, 'a')).ok());
  CHECK(f.db->find_session(std::string(64, 'a')).error().code() == cloud::k_not_found);
  CHECK(f.db->find_session(std::string(64, 'b'))->account_id == alice.id);
  CHECK(f.db->delete_session(std::string(64, 'a')).ok());  // gone already: nothing to do
}

TEST_CASE("conformance: run_operation commits the change and its record together or neither") {
  fixture f;
  const auto head = f.db->get_audit_head();
  REQUIRE(head.ok());
  auto done = f.db->run_operation([&]() -> common::status {
    if (auto c = f.db->create_company("acme", "Acme"); !c.ok()) return c.error();
    auto r = f.db->append_audit({"acme", "root", "company.create", "acme", "success", "", ""});
    if (!r.ok()) return r.error();
    return {};
  });
  REQUIRE(done.ok());
  CHECK(f.db->get_company("acme").ok());
  CHECK(f.db->get_audit_head()->seq == head->seq + 1);

  auto refused = f.db->run_operation([&]() -> common::status {
    if (auto c = f.db->create_company("globex", "Globex"); !c.ok()) return c.error();
    auto r = f.db->append_audit({"globex", "root", "company.create", "globex", "success", "", ""});
    if (!r.ok()) return r.error();
    return common::status::error(std::string(cloud::k_conflict), "changed its mind");
  });
  CHECK(refused.code() == cloud::k_conflict);
  CHECK(f.db->get_company("globex").error().code() == cloud::k_not_found);
  CHECK(f.db->get_audit_head()->seq == head->seq + 1);
}

TEST_CASE(
    "conformance: notices are stored with their updates and mailed to company administrators") {
  fixture f;
  f.company_with("acme", {});
  f.company_with("globex", {});
  REQUIRE(f.db->create_account({"acme", "ada", "ada@acme.example", "administrator", "h"}).ok());
  REQUIRE(f.db->create_account({"acme", "vic", "vic@acme.example", "viewer", "h"}).ok());
  REQUIRE(f.db->create_account({"globex", "gus", "gus@globex.example", "administrator", "h"}).ok());
  REQUIRE(f.db->create_account({"globex", "gil", "ada@acme.example", "administrator", "h"}).ok());
  auto announce = [](const cloud::notice& n) {
    cloud::mail_message m;
    m.subject = "notice " + std::to_string(n.id);
    m.body = n.text.en;
    return m;
  };
  cloud::notice w;
  w.kind = cloud::notice_kind::maintenance;
  w.text = {"保守", "upkeep"};
  w.starts_at_s = k_t0 + 86400;
  w.ends_at_s = k_t0 + 90000;
  w.created_by = "root";
  w.created_at_s = k_t0;
  auto posted = f.db->post_notice(w, announce);
  REQUIRE_MESSAGE(posted.ok(), posted.error().to_string());
  // ada (twice as an address, once queued) and gus; not the viewer.
  CHECK(posted->mails_queued == 2);
  CHECK(posted->posted.id > 0);
  CHECK(posted->posted.text.ja == "保守");

  cloud::notice i;
  i.kind = cloud::notice_kind::incident;
  i.status = cloud::incident_status::investigating;
  i.text = {"調査中", "looking"};
  i.created_at_s = k_t0 + 10;
  i.updates.push_back({k_t0 + 10, i.status, i.text});
  auto inc = f.db->post_notice(i, announce);
  REQUIRE(inc.ok());
  auto upd = f.db->update_incident(
      inc->posted.id, {k_t0 + 20, cloud::incident_status::resolved, {"解決", "fixed"}}, announce);
  REQUIRE_MESSAGE(upd.ok(), upd.error().to_string());
  CHECK(upd->posted.status == cloud::incident_status::resolved);
  REQUIRE(upd->posted.updates.size() == 2);
  CHECK(upd->posted.updates[1].text.en == "fixed");
  auto again = f.db->update_incident(
      inc->posted.id, {k_t0 + 30, cloud::incident_status::monitoring, {"x", "x"}}, announce);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == cloud::k_conflict);
  CHECK(f.db->update_incident(posted->posted.id, {k_t0, cloud::incident_status::resolved, {}},
                              announce)
            .error()
            .code() == cloud::k_not_found);

  auto one = f.db->get_notice(inc->posted.id);
  REQUIRE(one.ok());
  CHECK(one->updates.size() == 2);
  auto all = f.db->list_notices(k_t0, 10);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].kind == cloud::notice_kind::maintenance);
  // Past the window's end and the incident's resolution: nothing is current any more.
  auto later = f.db->list_notices(k_t0 + 100000, 10);
  REQUIRE(later.ok());
  CHECK(later->empty());
  auto due = f.port->due_mail(k_t0 + 100, 48, 100);
  REQUIRE(due.ok());
  CHECK(due->size() == 6);
}

TEST_CASE("conformance: alarms newest first, mail queued, sent, retried and purged") {
  fixture f;
  auto first = f.db->create_alarm("platform", "login_failure_burst", "50 failures");
  auto second = f.db->create_alarm("acme", "login_failure_burst", "60 failures");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->id > first->id);
  CHECK(first->created_at_s == k_t0);
  auto alarms = f.db->list_alarms(10);
  REQUIRE(alarms.ok());
  REQUIRE(alarms->size() == 2);
  CHECK(alarms->front().id == second->id);
  CHECK(alarms->front().company_id == "acme");
  CHECK(f.db->list_alarms(1)->size() == 1);

  auto a = f.db->enqueue_mail(mail_to("a@example.com"));
  auto b = f.db->enqueue_mail(mail_to("b@example.com"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto due = f.port->due_mail(k_t0, 5, 10);
  REQUIRE(due.ok());
  REQUIRE(due->size() == 2);
  CHECK(due->front().id == *a);
  CHECK(due->front().to == "a@example.com");

  REQUIRE(f.port->mark_mail_sent(*a, k_t0 + 1).ok());
  REQUIRE(f.port->mark_mail_failed(*b, "451 try later", k_t0 + 60).ok());
  CHECK(f.port->due_mail(k_t0 + 59, 5, 10)->empty());
  due = f.port->due_mail(k_t0 + 60, 5, 10);
  REQUIRE(due->size() == 1);
  CHECK(due->front().id == *b);
  CHECK(due->front().attempts == 1);
  CHECK(due->front().last_error == "451 try later");
  CHECK(f.port->due_mail(k_t0 + 60, 1, 10)->empty());  // out of attempts
  // A body blanked stays blank; the rest of its row is kept.
  REQUIRE(f.port->forget_mail_body(*b).ok());
  due = f.port->due_mail(k_t0 + 60, 5, 10);
  REQUIRE(due->size() == 1);
  CHECK(due->front().body.empty());
  CHECK(due->front().to == "b@example.com");

  CHECK(*f.port->sent_mail_purge_candidates(k_t0) == 0);
  CHECK(*f.port->sent_mail_purge_candidates(k_t0 + 1) == 1);
  const auto head = f.port->audit_head_now();
  REQUIRE(head.ok());
  CHECK(*f.port->purge_sent_mail(k_t0 + 1, k_t0 + 2) == 1);
  CHECK(f.port->audit_head_now()->seq == head->seq + 1);  // "mail.purge"
  CHECK(*f.port->sent_mail_purge_candidates(k_t0 + 1) == 0);
  CHECK(*f.port->purge_sent_mail(k_t0 + 1, k_t0 + 2) == 0);
  CHECK(f.port->audit_head_now()->seq == head->seq + 1);  // nothing purged, nothing recorded
}

TEST_CASE("conformance: refresh_missing_state asks once for a device without state") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  const std::int64_t ms = k_t0 * 1000;
  f.apply({presence("acme-r1", ms), presence("acme-r2", ms), state("acme-r2", ms)});
  const std::vector<std::string> seen = {"acme-r1", "acme-r2", "nobody"};
  auto first = f.db->refresh_missing_state(seen, k_t0 + 30, k_t0 - 60, k_any_state);
  REQUIRE(first.ok());
  REQUIRE(first->queued.size() == 1);
  CHECK(first->queued.front().device_id == "acme-r1");
  CHECK(first->have_state == std::vector<std::string>{"acme-r2"});
  auto cmd = f.db->get_command("acme", first->queued.front().id);
  REQUIRE(cmd.ok());
  CHECK(cmd->op == bridge::k_state_refresh_op);
  CHECK(cmd->created_by == bridge::k_system_issuer);
  // Its command is still open: not asked again.
  auto again = f.db->refresh_missing_state(seen, k_t0 + 30, k_t0 - 60, k_any_state);
  REQUIRE(again.ok());
  CHECK(again->queued.empty());
}

TEST_CASE("conformance: a state stored before stale_before_ms counts as missing") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  const std::int64_t ms = k_t0 * 1000;
  f.apply({presence("acme-r1", ms), state("acme-r1", ms), presence("acme-r2", ms),
           state("acme-r2", ms + 5000)});
  // The bridge subscribed again at ms + 1000: acme-r1's snapshot is older, acme-r2's is not.
  auto out = f.db->refresh_missing_state(std::vector<std::string>{"acme-r1", "acme-r2"}, k_t0 + 30,
                                         k_t0 - 60, ms + 1000);
  REQUIRE(out.ok());
  REQUIRE(out->queued.size() == 1);
  CHECK(out->queued.front().device_id == "acme-r1");
  CHECK(out->have_state == std::vector<std::string>{"acme-r2"});
}

TEST_CASE("conformance: presence_unvouched makes online devices not heard since unknown") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2", "acme-r3"});
  const std::int64_t ms = k_t0 * 1000;
  auto offline = presence("acme-r3", ms);
  std::get<protocol::presence>(offline.body).online = false;
  f.apply({presence("acme-r1", ms), presence("acme-r2", ms + 5000), offline});
  // The link was lost at ms + 1000; acme-r2 was heard after that (through another instance).
  auto changed = f.db->presence_unvouched(ms + 1000);
  REQUIRE(changed.ok());
  CHECK(*changed == 1);
  CHECK(f.db->get_device("acme", "acme-r1")->presence == cloud::presence_state::unknown);
  CHECK(f.db->get_device("acme", "acme-r2")->presence == cloud::presence_state::online);
  CHECK(f.db->get_device("acme", "acme-r3")->presence == cloud::presence_state::offline);
  // A state alone does not confirm it; its presence (the broker's replay) does, as a new
  // connection.
  f.apply({state("acme-r1", ms + 6000)});
  CHECK(f.db->get_device("acme", "acme-r1")->presence == cloud::presence_state::unknown);
  f.apply({presence("acme-r1", ms + 7000)});
  CHECK(f.db->get_device("acme", "acme-r1")->presence == cloud::presence_state::online);
  CHECK(*f.db->presence_unvouched(ms + 1000) == 0);
}

TEST_CASE("conformance: the lifecycle port's account steps, each refused on a changed account") {
  fixture f;
  f.company_with("acme", {});
  auto alice = f.account_of("acme", "alice");
  REQUIRE(
      f.db->create_session({std::string(64, 'a'), "csrf", alice.id, "acme", k_t0, k_t0, ""}).ok());
  auto all = f.port->all_accounts();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK(all->front().login_id == "alice");
  CHECK(all->front().role_name == "viewer");

  const auto head = f.port->audit_head_now();
  REQUIRE(head.ok());
  REQUIRE(f.port->record_reminder(all->front(), mail_to("alice@example.com"), k_t0).ok());
  // The same read again: the reminder changed the account.
  CHECK(f.port->record_reminder(all->front(), std::nullopt, k_t0).code() == cloud::k_conflict);
  auto reminded = f.port->all_accounts()->front();
  CHECK(reminded.reminder_sent_at_s == k_t0);

  CHECK(f.port->delete_inactive(reminded, k_t0).code() == cloud::k_conflict);  // not locked
  REQUIRE(f.port->lock_inactive(reminded, mail_to("alice@example.com"), k_t0 + 10).ok());
  CHECK(f.port->lock_inactive(reminded, std::nullopt, k_t0 + 10).code() == cloud::k_conflict);
  auto locked = f.port->all_accounts()->front();
  CHECK(locked.locked == cloud::lock_reason::inactivity);
  CHECK(locked.locked_at_s == k_t0 + 10);
  CHECK(f.db->find_session(std::string(64, 'a')).error().code() == cloud::k_not_found);

  REQUIRE(f.port->delete_inactive(locked, k_t0 + 20).ok());
  CHECK(f.port->all_accounts()->empty());
  CHECK(f.port->audit_head_now()->seq == head->seq + 3);
  CHECK(f.port->due_mail(k_t0 + 20, 5, 10)->size() == 2);  // the reminder and the lock notice

  CHECK_FALSE(f.port->last_missing_email_notice("acme")->has_value());
  REQUIRE(
      f.port->record_missing_email_notice("acme", {mail_to("admin@example.com")}, "bob", k_t0 + 30)
          .ok());
  CHECK(f.port->last_missing_email_notice("acme")->value_or(0) == k_t0 + 30);
  CHECK_FALSE(f.port->last_missing_email_notice("globex")->has_value());
  CHECK(f.port->due_mail(k_t0 + 30, 5, 10)->size() == 3);
}

TEST_CASE("conformance: the lifecycle port deletes stale device data and expired logins") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  const std::int64_t ms = k_t0 * 1000;
  f.apply({presence("acme-r1", ms), state("acme-r1", ms), presence("acme-r2", ms + 5000)});
  auto stale = f.port->stale_devices(ms + 1000);
  REQUIRE(stale.ok());
  REQUIRE(stale->size() == 1);  // acme-r2 was heard from later, and holds no data anyway
  CHECK(stale->front().id == "acme-r1");
  CHECK(stale->front().company_id == "acme");
  CHECK(stale->front().last_seen_ms == ms);

  CHECK(f.port->delete_device_data("acme-r2", ms + 1000, k_t0).code() == cloud::k_conflict);
  REQUIRE(f.port->delete_device_data("acme-r1", ms + 1000, k_t0).ok());
  CHECK(f.port->stale_devices(ms + 1000)->empty());
  auto kept = f.db->get_device("acme", "acme-r1");
  REQUIRE(kept.ok());  // registered devices keep their registration
  CHECK(kept->state_json.empty());

  cloud::technician_login l;
  l.login_id = "T-ABCD2345";
  l.company_id = "acme";
  l.device_id = "acme-r2";
  l.salt_hex = std::string(32, 'a');
  l.hash_hex = std::string(64, 'b');
  l.issued_at_s = k_t0;
  l.expires_at_s = k_t0 + 3600;
  l.created_by = "alice";
  l.technician_name = "Sato Hanako";
  cloud::new_command install{"acme-r2", "technician_login.install", R"({"login_id":"T-ABCD2345"})",
                             k_t0 + 3600, "alice"};
  auto created = f.db->create_technician_login(l, install);
  REQUIRE_MESSAGE(created.ok(), created.error().to_string());
  CHECK_FALSE(created->install_command_id.empty());
  CHECK(created->technician_name == "Sato Hanako");
  CHECK(f.port->expired_technician_logins(k_t0, k_t0 + 3599)->empty());
  auto expired = f.port->expired_technician_logins(k_t0, k_t0 + 3600);
  REQUIRE(expired.ok());
  REQUIRE(expired->size() == 1);
  CHECK(expired->front().login_id == "T-ABCD2345");
  REQUIRE(f.port->delete_technician_login(expired->front(), k_t0 + 3600).ok());
  CHECK(f.port->delete_technician_login(expired->front(), k_t0 + 3600).code() ==
        cloud::k_not_found);
  CHECK(f.port->expired_technician_logins(k_t0, k_t0 + 3600)->empty());
}

TEST_CASE("conformance: the lifecycle port purges the access log behind a checkpoint") {
  fixture f;
  const std::int64_t ms = k_t0 * 1000;
  const auto start = f.port->audit_head_now();
  REQUIRE(start.ok());
  for (std::int64_t i = 0; i < 2; ++i) {
    auto r = f.db->append_audit({"acme", "alice", "login", "alice", "success", "", ""});
    REQUIRE(r.ok());
    CHECK(r->seq == start->seq + 1 + i);
    CHECK(r->ts_ms == ms);
  }
  REQUIRE(f.port->append_audit({"acme", "system", "backup", "db", "success", "", ""}, ms + 60'000)
              .ok());
  auto head = f.port->audit_head_now();
  REQUIRE(head.ok());
  CHECK(head->seq == start->seq + 3);
  CHECK(head->hash == f.db->get_audit_head()->hash);

  const auto older = start->seq + 2;  // every record before the one at ms + 60 s
  CHECK(*f.port->audit_purge_candidates(ms) == start->seq);
  CHECK(*f.port->audit_purge_candidates(ms + 1) == older);
  auto purged = f.port->purge_audit(ms + 1, ms + 120'000);
  REQUIRE(purged.ok());
  CHECK(purged->deleted == older);
  CHECK(purged->start_seq == head->seq);
  CHECK(purged->checkpoint_seq == head->seq + 1);
  CHECK(f.port->audit_head_now()->seq == head->seq + 1);
  CHECK(*f.port->audit_purge_candidates(ms + 1) == 0);
}

TEST_CASE("conformance: the lifecycle port rotates the access log's key only under a key") {
  fixture f;
  CHECK(f.port->rotate_audit_key("fedcba9876543210", k_t0 * 1000).code() == cloud::k_invalid);
  // A chain begun without a key, which the keyed port then takes under its key.
  REQUIRE(f.db->append_audit({"acme", "alice", "login", "alice", "success", "", ""}).ok());
  const auto before = f.port->audit_head_now();
  REQUIRE(before.ok());
  auto keyed = f.open_port(cloud::secret_key{"0123456789abcdef", std::string(32, 'k')});
  auto started = keyed->audit_head_now();  // the key start, appended on opening
  REQUIRE(started.ok());
  CHECK(started->seq == before->seq + 1);
  REQUIRE(keyed->rotate_audit_key("fedcba9876543210", k_t0 * 1000).ok());
  CHECK(keyed->audit_head_now()->seq == started->seq + 1);
}

TEST_CASE("conformance: the lifecycle port ends a company's contract") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  f.company_with("globex", {});
  f.account_of("acme", "alice");
  const std::int64_t ms = k_t0 * 1000;
  f.apply({presence("acme-r2", ms)});  // online: it stays as an unassigned device
  // The company's alert rows go with it.
  auto alerts = cloud::alerts::open_alert_store(*f.db);
  REQUIRE(alerts.ok());
  cloud::alerts::channel hook;
  hook.company_id = "acme";
  hook.kind = cloud::alerts::channel_kind::webhook;
  hook.url = "https://hooks.example.com/acme";
  REQUIRE((*alerts)->create_channel(hook, k_t0).ok());
  REQUIRE((*alerts)->save_rules("acme", {{cloud::alerts::rule_kind::offline, true, 0, 60}}).ok());
  cloud::alerts::alarm_record alarm;
  alarm.company_id = "acme";
  alarm.kind = "offline";
  alarm.device_id = "acme-r1";
  REQUIRE((*alerts)->raise_alarm(alarm, k_t0, {}).ok());
  cloud::company_settings s;
  s.contract_end_s = k_t0;
  REQUIRE(f.db->update_company_settings("acme", s).ok());

  CHECK(f.port->ended_companies(k_t0 - 1)->empty());
  auto ended = f.port->ended_companies(k_t0);
  REQUIRE(ended.ok());
  REQUIRE(ended->size() == 1);
  CHECK(ended->front().id == "acme");
  auto devices = f.port->company_devices("acme");
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 2);
  CHECK(devices->front().id == "acme-r1");

  auto out = f.port->end_contract("acme", ms, k_t0);
  REQUIRE_MESSAGE(out.ok(), out.error().to_string());
  CHECK(out->accounts == std::vector<std::string>{"alice"});
  CHECK(out->devices_deleted == std::vector<std::string>{"acme-r1"});
  CHECK(out->devices_unassigned == std::vector<std::string>{"acme-r2"});
  CHECK(out->destinations == 1);
  CHECK(f.db->get_company("acme").error().code() == cloud::k_not_found);
  CHECK(f.db->get_company("globex").ok());
  CHECK(f.port->end_contract("acme", ms, k_t0).error().code() == cloud::k_not_found);
  CHECK(f.port->company_devices("acme")->empty());
  CHECK((*alerts)->list_channels("acme")->empty());
  CHECK((*alerts)->stored_rules("acme")->empty());
  CHECK((*alerts)->list_alarms("acme", {})->empty());
}

TEST_CASE("conformance: the alert port keeps rules and one active alarm per router and rule") {
  namespace al = cloud::alerts;
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {});
  auto opened = al::open_alert_store(*f.db);
  REQUIRE_MESSAGE(opened.ok(), opened.error().to_string());
  auto& port = **opened;

  REQUIRE(port.save_rules("acme", {{al::rule_kind::cpu_load, true, 150, 60}}).ok());
  REQUIRE(port.save_rules("acme", {{al::rule_kind::cpu_load, false, 250, 120}}).ok());
  auto rules = port.stored_rules("acme");
  REQUIRE(rules.ok());
  REQUIRE(rules->size() == 1);
  CHECK((*rules)[0].threshold == 250);
  CHECK_FALSE((*rules)[0].enabled);
  CHECK(port.stored_rules("globex")->empty());

  int notices = 0;
  al::notice_of notice = [&](const al::alarm_record&, std::string_view event) {
    ++notices;
    return al::alarm_notice{R"({"type":")" + std::string(event) + R"("})", "s", "b"};
  };
  al::alarm_record a;
  a.company_id = "acme";
  a.kind = "offline";
  a.device_id = "acme-r1";
  a.detail = "offline for 1800 s";
  auto raised = port.raise_alarm(a, k_t0, notice);
  REQUIRE_MESSAGE(raised.ok(), raised.error().to_string());
  REQUIRE(raised->has_value());
  CHECK((*raised)->state() == al::alarm_state::open);
  // A second raise of the same router and rule (another instance, the next tick) is none.
  auto again = port.raise_alarm(a, k_t0 + 1, notice);
  REQUIRE(again.ok());
  CHECK_FALSE(again->has_value());
  CHECK(notices == 0);  // no channels yet
  CHECK(port.count_open_alarms("acme").value() == 1);
  CHECK(port.count_open_alarms("globex").value() == 0);
  auto active = port.active_router_alarms("acme");
  REQUIRE(active.ok());
  REQUIRE(active->size() == 1);

  // Another company can neither see nor acknowledge it.
  CHECK(port.acknowledge_alarm("globex", (*raised)->id, "eve", "", k_t0).error().code() ==
        cloud::k_not_found);
  auto acked = port.acknowledge_alarm("acme", (*raised)->id, "admin", "on site", k_t0 + 2);
  REQUIRE(acked.ok());
  CHECK(acked->state() == al::alarm_state::acknowledged);
  CHECK(acked->acknowledged_by == "admin");
  CHECK(acked->comment == "on site");
  CHECK(port.acknowledge_alarm("acme", (*raised)->id, "admin", "", k_t0 + 3).error().code() ==
        cloud::k_conflict);
  CHECK(port.count_open_alarms("acme").value() == 0);

  CHECK(port.clear_alarm("acme", (*raised)->id, k_t0 + 4, notice).value());
  CHECK_FALSE(port.clear_alarm("acme", (*raised)->id, k_t0 + 5, notice).value());
  CHECK(port.active_router_alarms("acme")->empty());
  // Once cleared, the same router and rule may raise a new alarm.
  auto next = port.raise_alarm(a, k_t0 + 6, notice);
  REQUIRE(next.ok());
  CHECK(next->has_value());

  al::alarm_filter cleared;
  cleared.state = al::alarm_state::cleared;
  auto list = port.list_alarms("acme", cleared);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().cleared_at_s == k_t0 + 4);
  al::alarm_filter by_device;
  by_device.device_id = "acme-r1";
  CHECK(port.list_alarms("acme", by_device)->size() == 2);
  CHECK(port.list_alarms("globex", by_device)->empty());
}

TEST_CASE("conformance: the alert port's channels and webhook outbox") {
  namespace al = cloud::alerts;
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {});
  auto lou = f.account_of("acme", "lou");
  auto gus = f.account_of("globex", "gus");
  auto opened = al::open_alert_store(*f.db);
  REQUIRE(opened.ok());
  auto& port = **opened;

  al::channel mail;
  mail.company_id = "acme";
  mail.kind = al::channel_kind::email;
  mail.account_ids = {gus.id};
  CHECK(port.create_channel(mail, k_t0).error().code() == cloud::k_not_found);
  mail.account_ids = {lou.id};
  REQUIRE(port.create_channel(mail, k_t0).ok());
  al::channel hook;
  hook.company_id = "acme";
  hook.kind = al::channel_kind::webhook;
  hook.url = "https://hooks.example.com/a";
  hook.salt = "00ff";
  auto made = port.create_channel(hook, k_t0);
  REQUIRE_MESSAGE(made.ok(), made.error().to_string());
  auto channels = port.list_channels("acme");
  REQUIRE(channels.ok());
  REQUIRE(channels->size() == 2);
  CHECK(channels->front().account_ids == std::vector<std::int64_t>{lou.id});
  CHECK(port.list_channels("globex")->empty());

  al::alarm_record a;
  a.company_id = "acme";
  a.kind = "cpu_load";
  a.device_id = "acme-r1";
  auto raised = port.raise_alarm(a, k_t0, [](const al::alarm_record&, std::string_view event) {
    return al::alarm_notice{R"({"type":")" + std::string(event) + R"("})", "subject", "body"};
  });
  REQUIRE(raised.ok());
  auto due = f.port->due_mail(k_t0 + 1, 10, 10);
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK(due->front().to == "lou@example.com");

  auto hooks = port.due_webhooks(k_t0, 10);
  REQUIRE(hooks.ok());
  REQUIRE(hooks->size() == 1);
  CHECK(hooks->front().payload == R"({"type":"alarm.raised"})");
  CHECK(hooks->front().salt == "00ff");
  CHECK(hooks->front().url == hook.url);

  // Failing since k_t0; disabled once that is 100 s ago, after which only test events go out.
  REQUIRE(port.mark_webhook_failed(hooks->front().id, "HTTP 500", k_t0 + 10, k_t0, 100).ok());
  CHECK(port.due_webhooks(k_t0 + 5, 10)->empty());
  REQUIRE(port.due_webhooks(k_t0 + 10, 10)->size() == 1);
  REQUIRE(
      port.mark_webhook_failed(hooks->front().id, "HTTP 500", k_t0 + 200, k_t0 + 100, 100).ok());
  auto disabled = port.list_channels("acme");
  REQUIRE(disabled.ok());
  CHECK(disabled->back().disabled_at_s == k_t0 + 100);
  CHECK(port.due_webhooks(k_t0 + 300, 10)->empty());
  CHECK(port.queue_webhook_event("globex", made->id, "{}", k_t0).code() == cloud::k_not_found);
  CHECK(port.queue_webhook_event("acme", channels->front().id, "{}", k_t0).code() ==
        cloud::k_invalid);
  REQUIRE(port.queue_webhook_event("acme", made->id, R"({"type":"test"})", k_t0 + 300).ok());
  auto test = port.due_webhooks(k_t0 + 300, 10);
  REQUIRE(test.ok());
  REQUIRE(test->size() == 1);
  REQUIRE(port.mark_webhook_sent(test->front().id, k_t0 + 301).ok());
  auto healthy = port.list_channels("acme");
  CHECK_FALSE(healthy->back().disabled_at_s.has_value());
  CHECK_FALSE(healthy->back().failing_since_s.has_value());
  // The event that failed is due again now that the channel is enabled.
  CHECK(port.due_webhooks(k_t0 + 301, 10)->size() == 1);
  // A delivered event is purged with sent mail; the one still due stays.
  CHECK(*f.port->sent_mail_purge_candidates(k_t0 + 300) == 0);
  CHECK(*f.port->sent_mail_purge_candidates(k_t0 + 301) == 1);
  CHECK(*f.port->purge_sent_mail(k_t0 + 301, k_t0 + 302) == 1);
  CHECK(port.due_webhooks(k_t0 + 302, 10)->size() == 1);

  CHECK(port.delete_channel("globex", made->id).code() == cloud::k_not_found);
  REQUIRE(port.delete_channel("acme", made->id).ok());
  CHECK(port.due_webhooks(k_t0 + 400, 10)->empty());
}

TEST_CASE(
    "conformance: fleet jobs release online routers within the rollout, tags stay in the "
    "company") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2", "acme-r3"});
  f.company_with("globex", {"globex-r1"});
  auto tagged = f.db->set_device_tags("acme", "acme-r1", {"shop", "east"});
  REQUIRE(tagged.ok());
  CHECK(*tagged == std::vector<std::string>{"east", "shop"});
  REQUIRE(f.db->set_device_tags("acme", "acme-r2", {"shop"}).ok());
  CHECK(f.db->set_device_tags("acme", "globex-r1", {"shop"}).error().code() == cloud::k_not_found);
  CHECK(f.db->set_device_tags("acme", "acme-r3", {"=cmd"}).error().code() == cloud::k_invalid);
  const std::vector<std::string> ids = {"acme-r1", "acme-r2", "globex-r1"};
  auto tags = f.db->device_tags("acme", ids);
  REQUIRE(tags.ok());
  CHECK(tags->size() == 2);
  CHECK(tags->count("globex-r1") == 0);
  // Any number of ids goes in one statement: ids an array or JSON literal must escape, more
  // than a page of unknown ones, and every count up to 150 on the same connection.
  std::vector<std::string> many = {"x\"y", "x\\y", "x,y", "{x}"};
  for (int i = 0; i < 600; ++i) many.push_back("none-" + std::to_string(i));
  many.push_back("acme-r1");
  auto all = f.db->device_tags("acme", many);
  REQUIRE(all.ok());
  CHECK(all->size() == 1);
  CHECK(all->at("acme-r1") == std::vector<std::string>{"east", "shop"});
  for (std::size_t n = 1; n <= 150; ++n) {
    auto some =
        f.db->device_tags("acme", std::span<const std::string>(many).subspan(many.size() - n));
    REQUIRE(some.ok());
    CHECK(some->size() == 1);
  }
  cloud::device_query by_tag;
  by_tag.tag = "shop";
  auto listed = f.db->list_devices("acme", by_tag);
  REQUIRE(listed.ok());
  CHECK(listed->devices.size() == 2);

  // Another company's router by id: refused, nothing stored.
  cloud::new_job foreign;
  foreign.op = "ping";
  foreign.target.device_ids = {"acme-r1", "globex-r1"};
  foreign.deadline_s = k_t0 + 600;
  CHECK(f.db->create_job("acme", foreign).error().code() == cloud::k_not_found);
  CHECK(f.db->list_jobs("acme", 10)->empty());

  cloud::new_job j;
  j.op = "ping";
  j.target.tag = "shop";
  j.rollout.per_minute = 1;
  j.deadline_s = k_t0 + 600;
  auto job = f.db->create_job("acme", j);
  REQUIRE_MESSAGE(job.ok(), job.error().to_string());
  CHECK(job->counts.queued == 2);
  // Offline routers wait; online ones go out one per minute.
  auto none = f.db->release_jobs(k_t0 * 1000, 60000);
  REQUIRE(none.ok());
  CHECK(none->released == 0);
  f.apply({presence("acme-r1", k_t0 * 1000), presence("acme-r2", k_t0 * 1000)});
  auto first = f.db->release_jobs(k_t0 * 1000 + 1, 60000);
  REQUIRE(first.ok());
  CHECK(first->released == 1);
  CHECK(f.db->release_jobs(k_t0 * 1000 + 59000, 60000)->released == 0);
  CHECK(f.db->release_jobs(k_t0 * 1000 + 61000, 60000)->released == 1);
  auto sent = f.db->list_job_devices("acme", job->id, {cloud::job_device_status::sent, 50, ""});
  REQUIRE(sent.ok());
  CHECK(sent->devices.size() == 2);
  CHECK(!sent->devices.front().command_id.empty());
  CHECK(f.db->get_job("globex", job->id).error().code() == cloud::k_not_found);
  auto running = f.db->summarize_running_jobs("acme", 5);
  REQUIRE(running.ok());
  CHECK(running->count == 1);
  REQUIRE(running->jobs.size() == 1);
  CHECK(running->jobs.front().id == job->id);
  CHECK(running->jobs.front().counts.sent == 2);
  CHECK(f.db->summarize_running_jobs("globex", 5)->count == 0);
  auto cancelled = f.db->cancel_job("acme", job->id);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state == cloud::job_state::cancelled);
  // Both commands were queued (no instance claimed them): the cancel stops them.
  CHECK(cancelled->counts.cancelled == 2);
  CHECK(f.db->cancel_job("acme", job->id).error().code() == cloud::k_conflict);
  CHECK(f.db->get_job("acme", job->id)->state == cloud::job_state::cancelled);

  // tags.set runs in the cloud at once.
  cloud::new_job t;
  t.op = std::string(cloud::k_tags_set_op);
  t.args_json = R"({"tags":["west"]})";
  t.target.device_ids = {"acme-r3"};
  t.deadline_s = k_t0 + 600;
  auto done = f.db->create_job("acme", t);
  REQUIRE(done.ok());
  CHECK(done->state == cloud::job_state::completed);
  CHECK(done->counts.succeeded == 1);
  const std::vector<std::string> r3 = {"acme-r3"};
  CHECK(f.db->device_tags("acme", r3)->at("acme-r3") == std::vector<std::string>{"west"});
  CHECK(f.db->list_jobs("acme", 10)->size() == 2);
  // Neither the cancelled nor the completed job is running.
  CHECK(f.db->summarize_running_jobs("acme", 5)->count == 0);
  CHECK(f.db->summarize_running_jobs("acme", 5)->jobs.empty());
}

TEST_CASE(
    "conformance: a fleet job's progress counters equal a recount through every change of its "
    "routers and their commands") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2", "acme-r3", "acme-r4", "acme-r5"});
  const std::int64_t t_ms = k_t0 * 1000;
  auto exact = [&](std::int64_t id) {
    const auto differ = test::job_counts_differ(f.db_uri, id);
    CHECK_MESSAGE(differ.empty(), differ);
  };
  cloud::new_job j;
  j.op = "ping";
  j.target.device_ids = {"acme-r1", "acme-r2", "acme-r3", "acme-r4", "acme-r5"};
  j.deadline_s = k_t0 + 600;
  auto job = f.db->create_job("acme", j);
  REQUIRE_MESSAGE(job.ok(), job.error().to_string());
  exact(job->id);
  f.apply({presence("acme-r1", t_ms), presence("acme-r2", t_ms), presence("acme-r3", t_ms),
           presence("acme-r4", t_ms)});
  CHECK(f.db->release_jobs(t_ms + 1, 60000)->released == 4);
  exact(job->id);
  bridge::claim_request claim;
  claim.instance = "i1";
  claim.now_ms = t_ms + 2;
  std::map<std::string, std::string> command_of;
  for (const char* d : {"acme-r1", "acme-r2", "acme-r3"}) {
    auto claimed = f.db->claim_due(d, claim, 10);
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 1);
    command_of[d] = claimed->front().id;
  }
  exact(job->id);
  auto result_of = [&](const std::string& d, protocol::result_status st) {
    protocol::command_result r{command_of[d], st, "{}", ""};
    return bridge::device_message{d, protocol::topic_kind::result, t_ms + 3, protocol::encode(r),
                                  r};
  };
  f.apply({result_of("acme-r1", protocol::result_status::ok),
           result_of("acme-r2", protocol::result_status::error)});
  exact(job->id);
  // A router removed takes its row and its command; the queued command of one past its deadline
  // expires.
  REQUIRE(f.db->remove_device("acme", "acme-r3").ok());
  exact(job->id);
  REQUIRE(f.db->expire_overdue(k_t0 + 601).ok());
  exact(job->id);
  CHECK(f.db->release_jobs((k_t0 + 601) * 1000, 60000).ok());
  exact(job->id);
  auto done = f.db->get_job("acme", job->id);
  REQUIRE(done.ok());
  CHECK(done->counts.succeeded == 1);
  CHECK(done->counts.failed == 1);
  CHECK(done->counts.timed_out == 2);
  CHECK(done->counts.total() == 4);

  // A cancel stops a queued command and a pending row in one transaction.
  j.target.device_ids = {"acme-r1", "acme-r2", "acme-r4", "acme-r5"};
  auto second = f.db->create_job("acme", j);
  REQUIRE(second.ok());
  CHECK(f.db->release_jobs((k_t0 + 1) * 1000, 60000)->released == 3);
  exact(second->id);
  auto cancelled = f.db->cancel_job("acme", second->id);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->counts.cancelled == 4);
  exact(second->id);
}

TEST_CASE("conformance: every method of the store's interfaces has a conformance case") {
  const fs::path tests = test::source_dir() / "tests" / "unit" / "cloud";
  const std::string here = read_text(tests / "store" / "conformance_test.cpp");
  REQUIRE_FALSE(here.empty());
  std::set<std::string> declared;
  for (const auto& i : k_interfaces) {
    const auto names = virtual_methods(read_text(test::source_dir() / i.header), i.name);
    INFO(i.header, ": class ", i.name);
    REQUIRE_FALSE(names.empty());
    for (const auto& n : names) declared.insert(std::string(i.name) + "::" + n);
  }
  std::set<std::string> listed;
  for (const auto& c : k_coverage) {
    INFO(c.method, " (", c.suite.empty() ? "this file" : c.suite, ")");
    CHECK_MESSAGE(listed.insert(std::string(c.method)).second, "listed twice");
    CHECK_MESSAGE(declared.count(std::string(c.method)) == 1, "no such method in the interfaces");
    const std::string source = c.suite.empty() ? here : read_text(tests / c.suite);
    REQUIRE_FALSE(source.empty());
    const auto method = c.method.substr(c.method.find("::") + 2);
    CHECK_MESSAGE(calls(source, method), "not called there");
  }
  for (const auto& d : declared) {
    CHECK_MESSAGE(listed.count(d) == 1, d, " has no conformance case: add one to this file");
  }
}
