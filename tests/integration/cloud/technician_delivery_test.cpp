// A technician login mailed to the technician (docs/security.md, "Delivery to the technician"):
// the real daemon under a technician key file, real SQLite and a real SMTP server (aiosmtpd).
// The attacker reads every byte of the SQLite file and its write-ahead log: the one-time
// password is not there before the mail went out nor after, yet the mail carries it.
#include <doctest/doctest.h>

#include <string>

#include "aterm/test/smtp_server.h"
#include "aterm/test/sql.h"
#include "cloud_stack.h"

using namespace aterm;
using namespace aterm::test;

namespace {

cloud_stack_options with_technician_key_and_mail(const temp_dir& keys, int smtp_port) {
  cloud_stack_options o;
  o.name = "integration-technician-mail";
  o.security = R"("technician_key_file": ")" + (keys.path() / "technician-key").string() + "\"";
  o.extra = R"("mail": {"smtp_url": "smtp://127.0.0.1:)" + std::to_string(smtp_port) +
            R"(", "allow_plaintext_loopback": true, "from": "aterm-cloud@example.com",
                "retry_initial_s": 1, "retry_max_s": 1})";
  return o;
}

}  // namespace

TEST_CASE("technician_password_read_from_the_mail_outbox") {
  temp_dir keys("technician-mail-keys");
  temp_dir mail_dir("technician-mail-smtp");
  const int smtp_port = free_port();
  cloud_stack s(with_technician_key_and_mail(keys, smtp_port));
  s.register_device("acme", "acme-t2");
  auto c = s.client("acme");

  CHECK(c.request("POST", "devices/acme-t2/technician-logins",
                  R"({"technician_name":"Sato Hanako","email":"sato at example"})")
            .status == 400);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM technician_logins") == 0);

  // The SMTP server is not up yet: the mail waits in the outbox.
  auto issued = c.request("POST", "devices/acme-t2/technician-logins",
                          R"({"technician_name":"Sato Hanako","email":"sato@example.com"})");
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  CHECK(issued.body.find(R"("mail_queued":true)") != std::string::npos);
  const auto login_id = issued.str("login_id");
  const auto password = issued.str("password");
  REQUIRE(password.size() == 12);
  REQUIRE(wait_until(
      [&] {
        return query_int(s.db_path(),
                         "SELECT count(*) FROM mail_outbox WHERE attempts >= 1 AND "
                         "sent_at_s IS NULL") == 1;
      },
      20s));
  CHECK(sqlite_file_bytes(s.db_path()).find(password) == std::string::npos);

  auto smtp = smtp_server(smtp_port, mail_dir.path() / "maildir", mail_dir.path() / "smtp.log");
  const fs::path maildir = mail_dir.path() / "maildir";
  REQUIRE_MESSAGE(wait_until([&] { return maildir_messages(maildir).size() == 1; }, 30s),
                  (s.cloud_log() + smtp->log()));
  const auto message = maildir_messages(maildir).front();
  CHECK(message.find("X-RcptTo: sato@example.com") != std::string::npos);
  const auto text = decoded_body(message);
  CHECK(text.find("ログインID: " + login_id) != std::string::npos);
  CHECK(text.find("パスワード: " + password) != std::string::npos);
  CHECK(text.find("Login ID: " + login_id) != std::string::npos);
  CHECK(text.find("Password: " + password) != std::string::npos);
  CHECK(text.find("+09:00") != std::string::npos);
  CHECK(text.find("Sato Hanako") != std::string::npos);

  REQUIRE(wait_until(
      [&] {
        return query_int(s.db_path(),
                         "SELECT count(*) FROM mail_outbox WHERE body = '' AND "
                         "sent_at_s IS NOT NULL") == 1;
      },
      20s));
  CHECK(sqlite_file_bytes(s.db_path()).find(password) == std::string::npos);
}
