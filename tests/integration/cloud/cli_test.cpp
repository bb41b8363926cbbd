// The aterm-cloud verbs as operators run them: one JSON object on stdout, errors on stderr with
// a non-zero exit and nothing changed.
#include <doctest/doctest.h>

#include <fstream>

#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/json.h"
#include "aterm/test/support.h"

namespace {

using namespace aterm;
using namespace aterm::test;

struct cli_env {
  temp_dir dir{"integration-cloud-cli"};
  fs::path config = dir / "cloud.json";

  explicit cli_env(const std::string& extra = {}) {
    std::ofstream(config) << R"({"db":")" << (dir / "cloud.db").string()
                          << R"(","security":{"password_iterations":1000})" << extra << "}";
  }
  run_result cli(std::vector<std::string> args) const {
    std::vector<std::string> argv{binary("cloud/aterm-cloud").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--config");
    argv.push_back(config.string());
    return run(argv);
  }
  std::unique_ptr<cloud::store> open() const {
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = (dir / "cloud.db").string();
    auto s = cloud::open_store(o, common::system_clock::instance());
    REQUIRE(s.ok());
    return std::move(s).value();
  }
};

common::json_ptr one_object(const std::string& out) {
  REQUIRE(!out.empty());
  CHECK(out.find('\n') == out.size() - 1);
  auto parsed = common::parse_json(out.substr(0, out.size() - 1));
  REQUIRE(parsed.ok());
  REQUIRE(cJSON_IsObject(parsed->get()));
  return std::move(parsed).value();
}

std::string s(const common::json_ptr& o, const char* key) {
  return common::json_string(o.get(), key).value_or("");
}

}  // namespace

TEST_CASE("admin verbs print one JSON object, a generated password appears once") {
  cli_env e;
  auto init = e.cli({"admin", "init"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  auto site = one_object(init.out);
  CHECK(s(site, "company_id") == "platform");
  CHECK(s(site, "password").size() >= 12);
  CHECK(init.err.find(s(site, "password")) == std::string::npos);

  auto again = e.cli({"admin", "init"});
  CHECK(again.exit_code == 1);
  CHECK(again.out.empty());
  CHECK(again.err.find("already initialized") != std::string::npos);

  auto company = e.cli({"admin", "company", "create", "--id", "acme", "--name", "Acme K.K."});
  REQUIRE(company.exit_code == 0);
  CHECK(s(one_object(company.out), "name") == "Acme K.K.");

  auto acct = e.cli({"admin", "account", "create", "--company", "acme", "--login", "alice",
                     "--role", "operator", "--email", "alice@example.com"});
  REQUIRE(acct.exit_code == 0);
  auto a = one_object(acct.out);
  CHECK(s(a, "role") == "operator");
  std::string password = s(a, "password");
  CHECK(password.size() >= 12);
  auto db = e.open();
  auto stored = db->find_account("acme", "alice");
  REQUIRE(stored.ok());
  CHECK(stored->password_hash.find(password) == std::string::npos);
  CHECK(stored->password_hash.starts_with("pbkdf2-sha256$1000$"));

  auto dev = e.cli({"admin", "device", "register", "--company", "acme", "--device", "acme-r1",
                    "--destination", "Tokyo"});
  REQUIRE(dev.exit_code == 0);
  CHECK(s(one_object(dev.out), "destination") == "Tokyo");
  CHECK(db->get_device("acme", "acme-r1")->destination_name == "Tokyo");

  auto verify = e.cli({"audit", "verify"});
  CHECK(verify.exit_code == 0);
  CHECK(common::json_bool(one_object(verify.out).get(), "intact") == true);
}

TEST_CASE("refused admin verbs exit non-zero and change nothing") {
  cli_env e;
  REQUIRE(e.cli({"admin", "init"}).exit_code == 0);
  REQUIRE(e.cli({"admin", "company", "create", "--id", "acme", "--name", "Acme"}).exit_code == 0);
  REQUIRE(e.cli({"admin", "company", "create", "--id", "globex", "--name", "Globex"}).exit_code ==
          0);
  REQUIRE(e.cli({"admin", "device", "register", "--company", "acme", "--device", "acme-r1"})
              .exit_code == 0);
  struct row {
    const char* name;
    std::vector<std::string> args;
  };
  const std::vector<row> table = {
      {"duplicate company", {"admin", "company", "create", "--id", "acme", "--name", "X"}},
      {"bad company id", {"admin", "company", "create", "--id", "a/b", "--name", "X"}},
      {"missing name", {"admin", "company", "create", "--id", "initech"}},
      {"unknown role",
       {"admin", "account", "create", "--company", "acme", "--login", "bob", "--role", "wizard",
        "--email", "bob@example.com"}},
      {"unknown company",
       {"admin", "account", "create", "--company", "nope", "--login", "bob", "--role", "viewer",
        "--email", "bob@example.com"}},
      {"account without e-mail",
       {"admin", "account", "create", "--company", "acme", "--login", "bob", "--role", "viewer"}},
      {"account with an empty e-mail",
       {"admin", "account", "create", "--company", "acme", "--login", "bob", "--role", "viewer",
        "--email", ""}},
      {"account with an invalid e-mail",
       {"admin", "account", "create", "--company", "acme", "--login", "bob", "--role", "viewer",
        "--email", "bob at example"}},
      {"bad device id", {"admin", "device", "register", "--company", "acme", "--device", "a+b"}},
      {"device of another company",
       {"admin", "device", "register", "--company", "globex", "--device", "acme-r1",
        "--destination", "stolen"}},
      {"unknown verb", {"admin", "frobnicate"}},
  };
  auto db = e.open();
  auto before = db->read_audit_chain(0, 1000)->size();
  for (const auto& t : table) {
    CAPTURE(t.name);
    auto r = e.cli(t.args);
    CHECK(r.exit_code != 0);
    CHECK(r.out.empty());
    CHECK(!r.err.empty());
  }
  CHECK(db->read_audit_chain(0, 1000)->size() == before);
  CHECK(db->list_destinations("globex")->empty());
  CHECK(db->list_accounts("acme")->empty());
  CHECK(db->get_device("acme", "acme-r1").ok());
}

TEST_CASE("configuration: an unknown key or a wrong type is an error naming the key") {
  cli_env unknown(R"(,"security.lockout_sec":5)");
  auto r = unknown.cli({"admin", "init"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("lockout_sec") != std::string::npos);
  cli_env wrong(R"(,"retention":{"audit_days":"a year"})");
  r = wrong.cli({"admin", "init"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("retention.audit_days") != std::string::npos);
  CHECK_FALSE(fs::exists(wrong.dir / "cloud.db"));
}

TEST_CASE("configuration: a PostgreSQL db needs its key files named, never derived from the URI") {
  // Derived names would put the URI, password included, into file paths, and give every host
  // its own key for one shared access log.
  temp_dir dir("integration-cloud-cli-pg");
  const fs::path config = dir / "cloud.json";
  std::ofstream(config) << R"({"db":"postgresql://aterm:pw-s3cret@127.0.0.1:1/aterm"})";
  auto r =
      run({binary("cloud/aterm-cloud").string(), "admin", "init", "--config", config.string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("security.audit_key_file") != std::string::npos);
  CHECK(r.err.find("pw-s3cret") == std::string::npos);
  CHECK_FALSE(fs::exists("postgresql:"));
}

TEST_CASE("audit verify names the first bad record after an edit behind the triggers' back") {
  cli_env e;
  REQUIRE(e.cli({"admin", "init"}).exit_code == 0);
  REQUIRE(e.cli({"admin", "company", "create", "--id", "acme", "--name", "Acme"}).exit_code == 0);
  auto sql = [&](const std::string& q) {
    return run({"sqlite3", (e.dir / "cloud.db").string(), q});
  };
  // The triggers refuse the edit.
  CHECK(sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").exit_code != 0);
  REQUIRE(sql("DROP TRIGGER audit_log_no_update; "
              "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
              .exit_code == 0);
  auto v = e.cli({"audit", "verify"});
  CHECK(v.exit_code == 1);
  auto report = one_object(v.out);
  CHECK(common::json_int(report.get(), "first_bad_seq") == 1);
}
