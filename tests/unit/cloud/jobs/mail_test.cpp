#include <doctest/doctest.h>

#include "aterm/cloud/mail/mail.h"
#include "aterm/common/crypto.h"
#include "jobs_fixture.h"

namespace aterm::cloud::jobs::test {

namespace {

// Standard base64 decode for the checks (the product only encodes).
std::string unbase64(std::string_view s) {
  static const std::string k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : s) {
    auto p = k.find(c);
    if (p == std::string::npos) continue;
    buf = (buf << 6) | static_cast<unsigned>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

// The text of encoded-words joined (=?UTF-8?B?...?= on folded lines).
std::string decode_header(const std::string& v) {
  std::string out;
  std::size_t i = 0;
  while ((i = v.find("=?UTF-8?B?", i)) != std::string::npos) {
    auto end = v.find("?=", i + 10);
    out += unbase64(v.substr(i + 10, end - i - 10));
    i = end + 2;
  }
  return out;
}

class fake_sender final : public mail::sender {
 public:
  bool up = false;
  std::vector<std::string> sent;
  common::status send(const std::string&, const std::string&, const std::string& data) override {
    if (!up) return common::status::error("smtp", "connection refused");
    sent.push_back(data);
    return {};
  }
};

}  // namespace

TEST_CASE("base64 lines") {
  struct row {
    const char* in;
    const char* out;
  };
  const row rows[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
  for (const auto& r : rows) {
    CAPTURE(r.in);
    CHECK(mail::base64_lines(r.in, 76) == r.out);
  }
  CHECK(mail::base64_lines(std::string(60, 'a'), 76).find("\r\n") == 76);
}

TEST_CASE("header text: ASCII as is and Japanese as folded UTF-8 encoded-words") {
  CHECK(mail::encode_header_text("Your account") == "Your account");
  std::string ja = "【Aterm Cloud】ログインのお願い / Please sign in to keep your account";
  auto encoded = mail::encode_header_text(ja);
  CHECK(encoded.rfind("=?UTF-8?B?", 0) == 0);
  CHECK(decode_header(encoded) == ja);
  std::size_t start = 0;
  while (start < encoded.size()) {
    auto end = encoded.find("\r\n", start);
    auto line = encoded.substr(start, end == std::string::npos ? std::string::npos : end - start);
    CHECK(line.size() <= 76);
    if (end == std::string::npos) break;
    start = end + 2;
  }
}

TEST_CASE("format_message: MIME headers and a base64 UTF-8 body with CRLF") {
  mail_message m;
  m.to = "alice@example.com";
  m.subject = "ロック / locked";
  m.body = "こんにちは\nhello\n";
  auto text =
      mail::format_message(m, "cloud@example.com", common::from_unix_s(k_t0), "x@example.com");
  REQUIRE(text.ok());
  CHECK(text->find("To: <alice@example.com>\r\n") != std::string::npos);
  CHECK(text->find("From: <cloud@example.com>\r\n") != std::string::npos);
  CHECK(text->find("MIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(text->find("Content-Type: text/plain; charset=UTF-8\r\n") != std::string::npos);
  CHECK(text->find("Content-Transfer-Encoding: base64\r\n") != std::string::npos);
  CHECK(text->find("Message-ID: <x@example.com>\r\n") != std::string::npos);
  CHECK(text->find("Date: Thu, 28 May 2026 ") != std::string::npos);
  auto body = text->substr(text->find("\r\n\r\n") + 4);
  CHECK(unbase64(body) == "こんにちは\r\nhello\r\n");
}

TEST_CASE("format_message refuses what could inject headers or recipients") {
  const char* bad_to[] = {"",      "alice", "alice@example.com\r\nBcc: x@y", "a@b, c@d", "<a@b>",
                          "a b@c", "a@b@c"};
  for (const char* to : bad_to) {
    CAPTURE(to);
    mail_message m;
    m.to = to;
    m.subject = "s";
    CHECK_FALSE(mail::format_message(m, "c@example.com", common::from_unix_s(0), "i@x").ok());
  }
  mail_message m;
  m.to = "a@example.com";
  m.subject = "line\r\nBcc: evil@example.com";
  CHECK_FALSE(mail::format_message(m, "c@example.com", common::from_unix_s(0), "i@x").ok());
  m.subject = "ok";
  m.body = "\xff\xfe";
  CHECK_FALSE(mail::format_message(m, "c@example.com", common::from_unix_s(0), "i@x").ok());
}

TEST_CASE("backoff doubles from the initial delay up to the maximum") {
  mail::outbox_settings s;
  s.retry_initial_s = 60;
  s.retry_max_s = 3600;
  const std::pair<std::int64_t, std::int64_t> rows[] = {{1, 60},   {2, 120},  {3, 240},
                                                        {6, 1920}, {7, 3600}, {40, 3600}};
  for (const auto& row : rows) {
    // Named copies, not a structured binding: CAPTURE's lambda captures them (clang 14).
    const std::int64_t attempts = row.first;
    const std::int64_t expected = row.second;
    CAPTURE(attempts);
    CHECK(mail::backoff_s(attempts, s) == expected);
  }
}

TEST_CASE("the outbox retries with backoff and sends once the server is up") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "gina@example.com");
  f.sweep(day(180));
  REQUIRE(f.scalar("SELECT count(*) FROM mail_outbox") == 1);
  fake_sender smtp;
  mail::outbox_settings s;
  s.retry_initial_s = 60;
  s.max_attempts = 3;
  mail::outbox_worker worker(*f.port, smtp, s, f.clock);

  auto run = worker.run_once();
  CHECK(run.failed == 1);
  CHECK(f.scalar("SELECT attempts FROM mail_outbox") == 1);
  // Not due again before the backoff has passed.
  f.clock.advance(std::chrono::seconds(59));
  CHECK(worker.run_once().failed == 0);
  f.clock.advance(std::chrono::seconds(1));
  CHECK(worker.run_once().failed == 1);
  CHECK(f.scalar("SELECT next_attempt_s - " + std::to_string(f.clock.now_s()) +
                 " FROM mail_outbox") == 120);
  smtp.up = true;
  f.clock.advance(std::chrono::seconds(120));
  CHECK(worker.run_once().sent == 1);
  REQUIRE(smtp.sent.size() == 1);
  CHECK(smtp.sent[0].find("To: <gina@example.com>") != std::string::npos);
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 1);
  f.clock.advance(std::chrono::hours(1));
  CHECK(worker.run_once().sent == 0);
}

TEST_CASE("the outbox gives up after max_attempts") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "gina@example.com");
  f.sweep(day(180));
  fake_sender smtp;
  mail::outbox_settings s;
  s.retry_initial_s = 1;
  s.retry_max_s = 1;
  s.max_attempts = 2;
  mail::outbox_worker worker(*f.port, smtp, s, f.clock);
  CHECK(worker.run_once().failed == 1);
  f.clock.advance(std::chrono::seconds(1));
  CHECK(worker.run_once().failed == 1);
  f.clock.advance(std::chrono::seconds(10));
  smtp.up = true;
  CHECK(worker.run_once().sent == 0);
  CHECK(f.scalar("SELECT attempts FROM mail_outbox") == 2);
}

TEST_CASE("plain SMTP only to a loopback relay, and only when allowed") {
  struct row {
    const char* url;
    bool loopback;
  };
  const row rows[] = {
      {"smtp://127.0.0.1:25", true},
      {"smtp://127.1.2.3", true},
      {"smtp://localhost:2525", true},
      {"smtp://LOCALHOST", true},
      {"smtp://[::1]:25", true},
      {"smtp://user@127.0.0.1:25/", true},
      {"smtps://127.0.0.1:465", false},
      {"smtp://mail.example.com:587", false},
      {"smtp://127.0.0.1.example.com", false},
      {"smtp://128.0.0.1", false},
      {"smtp://127.0.0.256", false},
      {"smtp://127.0.0.1@mail.example.com", false},
      {"smtp://[::2]", false},
      {"http://127.0.0.1", false},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.url));
    CHECK(mail::loopback_smtp_url(r.url) == r.loopback);
    mail::smtp_settings s;
    s.url = r.url;
    CHECK_FALSE(mail::plaintext_allowed(s));
    s.allow_plaintext_loopback = true;
    CHECK(mail::plaintext_allowed(s) == r.loopback);
  }
}

}  // namespace aterm::cloud::jobs::test

namespace aterm::cloud::jobs::test {

TEST_CASE("a sealed mail body is opened only to be sent, then blanked") {
  fixture f;
  const auto key = common::crypto::random_bytes(32);
  mail_message m;
  m.to = "tech@example.com";
  m.subject = "login";
  m.body = "Password: Secret234pass";
  const auto sealed = mail::seal_body(m, key);
  CHECK(mail::sealed_body(sealed));
  CHECK(sealed.body.find("Secret234pass") == std::string::npos);
  // Bound to its row: another recipient, another key or a changed byte does not open it.
  CHECK(mail::open_body(sealed, key)->body == m.body);
  auto moved = sealed;
  moved.to = "mallory@example.com";
  CHECK(mail::open_body(moved, key).error().code() == "sealed_body_refused");
  CHECK(mail::open_body(sealed, common::crypto::random_bytes(32)).error().code() ==
        "sealed_body_refused");
  auto changed = sealed;
  changed.body.back() = changed.body.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(mail::open_body(changed, key).ok());

  REQUIRE(f.db->enqueue_mail(sealed).ok());
  fake_sender smtp;
  smtp.up = true;
  mail::outbox_settings s;
  s.retry_initial_s = 1;
  {
    // Without the key it is not sent (nor is anything else of it).
    mail::outbox_worker keyless(*f.port, smtp, s, f.clock);
    CHECK(keyless.run_once().failed == 1);
    CHECK(smtp.sent.empty());
  }
  f.clock.advance(std::chrono::seconds(5));
  s.sealed_body_key = key;
  mail::outbox_worker worker(*f.port, smtp, s, f.clock);
  CHECK(worker.run_once().sent == 1);
  REQUIRE(smtp.sent.size() == 1);
  CHECK(unbase64(smtp.sent[0].substr(smtp.sent[0].find("\r\n\r\n"))) == m.body);
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox WHERE body = '' AND sent_at_s IS NOT NULL") ==
        1);
}

}  // namespace aterm::cloud::jobs::test
