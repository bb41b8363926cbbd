#include <doctest/doctest.h>

#include "aterm/cloud/mail/mail.h"
#include "aterm/test/smtp_server.h"
#include "jobs_env.h"

namespace aterm::test::jobs {

namespace {

// The daemon's configuration for `serve`: mail to `smtp_url` with the `mail_extra` members (each
// followed by a comma), jobs every 100 ms, HTTPS and MQTT of its own.
void configure_serve(jobs_env& env, const dev_pki& pki, const broker& mqtt, int smtp_port,
                     const std::string& mail_extra) {
  env.configure(R"(
  "mail": {)" + mail_extra +
                R"( "smtp_url": "smtp://127.0.0.1:)" + std::to_string(smtp_port) + R"(",
           "from": "aterm-cloud@example.com", "retry_initial_s": 1, "retry_max_s": 1},
  "jobs": {"tick_ms": 100, "interval_s": 1},
  "http": {"listen": "127.0.0.1:)" +
                std::to_string(free_port()) + R"(", "metrics_listen": "127.0.0.1:0",
           "cert": ")" +
                pki.server_cert().string() + R"(",
           "key": ")" +
                pki.server_key().string() + R"("},
  "mqtt": {"uri": ")" +
                mqtt.uri() + R"(", "ca": ")" + pki.ca().string() + R"(",
           "cert": ")" +
                pki.cloud_cert().string() + R"(",
           "key": ")" +
                pki.cloud_key().string() + R"("},)");
}

// acme with its two accounts, 180 days on: a reminder mail for each in the outbox.
void queue_two_reminders(jobs_env& env) {
  env.seed_acme();
  auto queued =
      env.cli({"jobs", "run", "--as-of", iso(env.created_at("acme", "adam") + 180 * k_day_s)});
  REQUIRE_MESSAGE(queued.exit_code == 0, queued.err);
  REQUIRE(env.scalar("SELECT count(*) FROM mail_outbox") == 2);
}

std::unique_ptr<process> serve(const jobs_env& env, int n) {
  auto p =
      std::make_unique<process>(std::vector<std::string>{binary("cloud/aterm-cloud").string(),
                                                         "serve", "--config", env.config.string()},
                                env.dir / ("serve-" + std::to_string(n) + ".log"));
  if (!wait_until([&] { return p->log().find("serve: started") != std::string::npos; }, 30s)) {
    throw std::runtime_error("aterm-cloud serve did not start: " + p->log());
  }
  return p;
}

}  // namespace

TEST_CASE("reminder mails reach a real SMTP server after a daemon restart while it was down") {
  jobs_env env;
  dev_pki pki(env.dir / "pki");
  broker mqtt(pki);
  int smtp_port = free_port();
  configure_serve(env, pki, mqtt, smtp_port, R"("allow_plaintext_loopback": true,)");
  queue_two_reminders(env);

  // The SMTP server is down: the daemon tries, records the failure, and is stopped.
  auto daemon = serve(env, 0);
  CHECK_MESSAGE(
      wait_until([&] { return env.scalar("SELECT min(attempts) FROM mail_outbox") >= 1; }, 30s),
      daemon->log());
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 0);
  // The daemon's own sweep runs too: today's backup (backup.time 00:00) appears.
  auto today = env.backups() /
               ("aterm-cloud-" +
                common::format_utc(common::system_clock::instance().now()).substr(0, 10) + ".db");
  CHECK_MESSAGE(wait_until([&] { return fs::exists(today); }, 30s), daemon->log());
  CHECK(daemon->stop() == 0);
  daemon.reset();

  // The server comes up, then the daemon: the outbox is delivered.
  fs::path maildir = env.dir / "maildir";
  auto smtp = smtp_server(smtp_port, maildir, env.dir / "smtp.log");
  daemon = serve(env, 1);
  REQUIRE_MESSAGE(wait_until([&] { return maildir_messages(maildir).size() == 2; }, 30s),
                  (daemon->log() + smtp->log()));
  CHECK(wait_until(
      [&] {
        return env.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 2;
      },
      10s));
  bool saw_gina = false;
  for (const auto& m : maildir_messages(maildir)) {
    CAPTURE(m);
    CHECK(m.find("From: <aterm-cloud@example.com>") != std::string::npos);
    CHECK(m.find("X-MailFrom: aterm-cloud@example.com") != std::string::npos);
    CHECK(m.find("MIME-Version: 1.0") != std::string::npos);
    CHECK(m.find("Content-Type: text/plain; charset=UTF-8") != std::string::npos);
    CHECK(m.find("Content-Transfer-Encoding: base64") != std::string::npos);
    CHECK(m.find("Subject: =?UTF-8?B?") != std::string::npos);
    CHECK(m.find("Message-ID: <") != std::string::npos);
    if (m.find("X-RcptTo: gina@example.com") != std::string::npos) {
      saw_gina = true;
      CHECK(m.find("To: <gina@example.com>") != std::string::npos);
    } else {
      CHECK(m.find("X-RcptTo: adam@example.com") != std::string::npos);
      CHECK(m.find("To: <adam@example.com>") != std::string::npos);
    }
  }
  CHECK(saw_gina);
  // Sent once: a further pass sends nothing more.
  CHECK(daemon->stop() == 0);
  CHECK(maildir_messages(maildir).size() == 2);
}

TEST_CASE("smtp_without_starttls_is_refused") {
  jobs_env env;
  dev_pki pki(env.dir / "pki");
  broker mqtt(pki);
  int smtp_port = free_port();
  fs::path maildir = env.dir / "maildir";
  // A relay that does not offer STARTTLS, and credentials the daemon would present to it.
  const std::string credentials = R"("username": "relay-user", "password": "relay-secret-pw",)";
  auto smtp = smtp_server(smtp_port, maildir, env.dir / "smtp.log");
  configure_serve(env, pki, mqtt, smtp_port, credentials);
  queue_two_reminders(env);

  auto daemon = serve(env, 0);
  // Each message was tried (twice, so a retry is refused the same way).
  CHECK_MESSAGE(
      wait_until([&] { return env.scalar("SELECT min(attempts) FROM mail_outbox") >= 2; }, 30s),
      daemon->log());
  CHECK(daemon->stop() == 0);
  INFO("daemon log:\n" << daemon->log() << "\nrelay log:\n" << smtp->log());
  // Nothing reached the relay: no AUTH, no MAIL, no message; both stay queued.
  CHECK(maildir_messages(maildir).empty());
  CHECK(smtp->log().find(">> b'AUTH") == std::string::npos);
  CHECK(smtp->log().find(">> b'MAIL") == std::string::npos);
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NULL") == 2);
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE last_error LIKE "
                   "'smtp_tls_required:%'") == 2);
  // An error in the log, without the secret.
  CHECK(daemon->log().find("ERROR mail: send refused") != std::string::npos);
  CHECK(daemon->log().find("relay-secret-pw") == std::string::npos);

  // The same relay on loopback with mail.allow_plaintext_loopback: delivered.
  configure_serve(env, pki, mqtt, smtp_port, credentials + R"( "allow_plaintext_loopback": true,)");
  daemon = serve(env, 1);
  CHECK_MESSAGE(wait_until([&] { return maildir_messages(maildir).size() == 2; }, 30s),
                daemon->log());
  CHECK(wait_until(
      [&] {
        return env.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 2;
      },
      10s));
  CHECK(daemon->stop() == 0);
}

TEST_CASE("the SMTP sender uses STARTTLS when offered and checks the server certificate") {
  temp_dir dir("integration-jobs-tls");
  dev_pki pki(dir / "pki");
  int port = free_port();
  fs::path maildir = dir / "maildir";
  auto smtp = smtp_server(port, maildir, dir / "smtp.log", &pki);
  cloud::mail_message m;
  m.to = "ops@example.com";
  m.subject = "警報 / alarm";
  m.body = "テスト\n";
  auto data =
      cloud::mail::format_message(m, "cloud@example.com", common::from_unix_s(0), "1@example.com");
  REQUIRE(data.ok());

  cloud::mail::smtp_settings s;
  s.url = "smtp://127.0.0.1:" + std::to_string(port);
  s.timeout = std::chrono::seconds(10);
  SUBCASE("trusted CA: delivered over TLS") {
    s.ca = pki.ca().string();
    auto sent = cloud::mail::make_smtp_sender(s)->send("cloud@example.com", m.to, *data);
    CHECK_MESSAGE(sent.ok(), sent.to_string());
    CHECK(wait_until([&] { return maildir_messages(maildir).size() == 1; }, 10s));
  }
  SUBCASE("unknown CA: refused, nothing sent in the clear") {
    auto sent = cloud::mail::make_smtp_sender(s)->send("cloud@example.com", m.to, *data);
    CHECK_FALSE(sent.ok());
    CHECK(sent.code() == "smtp");
    CHECK(maildir_messages(maildir).empty());
  }
}

}  // namespace aterm::test::jobs
