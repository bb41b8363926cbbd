// Mail of the cloud (DESIGN.md section 5: the inactivity reminder, the lock notice and the
// attack alarm): RFC 5322 / MIME formatting of UTF-8 Japanese and English text, an SMTP sender
// through libcurl (TLS required: STARTTLS or smtps://, credentials from the configuration; plain
// text only to a relay on loopback when mail.allow_plaintext_loopback says so) and a durable
// outbox worker with retry and exponential backoff.
//
// The outbox is a table of the store (mail_outbox); a message is written there in the same
// transaction as the action that causes it and sent later by the worker, so a mail survives a
// daemon restart and an SMTP outage. Delivery is at-least-once: a crash between the SMTP
// server's acceptance and mark_sent sends the message again.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::mail {

// True for a plain "local@domain" address without spaces, controls, angle brackets or commas
// (nothing that could add a header or a recipient), at most limits::k_max_address bytes.
bool valid_address(std::string_view address);

// A header value: ASCII text as is; text with other bytes as RFC 2047 UTF-8 "B" encoded-words,
// folded onto continuation lines. REQUIRES: valid UTF-8 without CR or LF.
std::string encode_header_text(std::string_view text);

// Standard base64 (RFC 4648 section 4) in lines of `line` characters joined by CRLF (0: one line).
std::string base64_lines(std::string_view data, std::size_t line);

// "Fri, 27 Nov 2026 11:20:09 +0000".
std::string rfc5322_date(common::wall_time t);

// The whole message as sent: Date, From, To, Subject, Message-ID, MIME-Version, Content-Type
// text/plain; charset=UTF-8, Content-Transfer-Encoding base64, then the body. CRLF line ends.
// Refuses ("bad_mail") an invalid address or a subject or body that is not UTF-8 or a subject
// with CR/LF.
common::result<std::string> format_message(const mail_message& m, std::string_view from,
                                           common::wall_time date, std::string_view message_id);

// Sends one formatted message. Implementations are used by one thread at a time.
// The code of a send refused because the connection would not be encrypted: nothing (no AUTH,
// no message) went to the server.
inline constexpr std::string_view k_tls_required = "smtp_tls_required";

class sender {
 public:
  virtual ~sender() = default;
  // Error code "smtp" with the server's or the connection's reason, or k_tls_required (never the
  // credentials).
  virtual common::status send(const std::string& from, const std::string& to,
                              const std::string& data) = 0;
};

struct smtp_settings {
  // "smtp://host:port" (STARTTLS required) or "smtps://host:port" (TLS from the start).
  std::string url;                   // mail.smtp_url; "" disables sending
  std::string username;              // mail.username; "" sends without AUTH
  std::string password;              // mail.password
  std::string ca;                    // mail.ca: CA file for the server's certificate; "" = system
  std::chrono::seconds timeout{30};  // mail.timeout_s: one whole SMTP transaction
  // mail.allow_plaintext_loopback: an smtp:// relay on loopback (127.0.0.0/8, [::1], localhost)
  // may take mail without STARTTLS, e.g. a local MTA that relays over TLS itself. Never any other
  // host. Default: false.
  bool allow_plaintext_loopback = false;
};

// True when `url` is smtp:// (not smtps://) to a loopback host: 127.0.0.0/8, [::1] or localhost.
bool loopback_smtp_url(std::string_view url);
// True when a send to s.url may go without TLS: allow_plaintext_loopback and a loopback smtp://
// URL. Everything else requires STARTTLS or smtps://.
bool plaintext_allowed(const smtp_settings& s);

// The libcurl sender. Thread-compatible; create one per thread.
std::unique_ptr<sender> make_smtp_sender(const smtp_settings& settings);

// The outbox rows the worker reads and updates. Implemented by the jobs' SQLite store on the
// store's database. Thread-safe.
class outbox_port {
 public:
  virtual ~outbox_port() = default;
  // Unsent messages with next_attempt_s <= now_s and attempts < max_attempts, oldest first.
  virtual common::result<std::vector<mail_message>> due_mail(std::int64_t now_s,
                                                             std::int64_t max_attempts,
                                                             std::size_t limit) = 0;
  virtual common::status mark_mail_sent(std::int64_t id, std::int64_t now_s) = 0;
  // Blanks the body of a sent message whose text must not be kept (a sealed one).
  virtual common::status forget_mail_body(std::int64_t id) = 0;
  // attempts + 1, last_error, next_attempt_s.
  virtual common::status mark_mail_failed(std::int64_t id, const std::string& error,
                                          std::int64_t next_attempt_s) = 0;
};

// Sealed bodies: a message carrying a secret (a technician's one-time password) waits in the
// outbox with its body sealed (common/sealed_box.h, AES-256-GCM under a key kept outside the
// database, bound to the recipient and subject), is opened only to be sent, and its body is
// blanked once sent. A sealed body is k_sealed_body_prefix + base64url of the sealed box.
inline constexpr std::string_view k_sealed_body_prefix = "aterm-sealed-v1:";

// `m` with its body sealed under `key`. REQUIRES: key.size() == 32.
mail_message seal_body(mail_message m, std::span<const std::uint8_t> key);
// Whether `m`'s body is sealed.
bool sealed_body(const mail_message& m);
// `m` with its sealed body opened under `key`; error "sealed_body_refused" without the key it was
// sealed with or when the row's recipient, subject or body changed. A message not sealed is
// returned as is.
common::result<mail_message> open_body(const mail_message& m, std::span<const std::uint8_t> key);

struct outbox_settings {
  std::string from = "aterm-cloud@localhost";  // mail.from
  std::int64_t retry_initial_s = 60;           // mail.retry_initial_s. Default: 60 s.
  std::int64_t retry_max_s = 3600;             // mail.retry_max_s. Default: 1 h.
  std::int64_t max_attempts = 48;              // mail.max_attempts: then the message stays unsent
  // The key sealed bodies open with (the daemon derives it from security.technician_key_file).
  // Default: none: a sealed message fails with sealed_body_refused.
  std::vector<std::uint8_t> sealed_body_key;
};

// Delay before attempt number `attempts + 1` after `attempts` failures (attempts >= 1):
// retry_initial_s * 2^(attempts-1), at most retry_max_s.
std::int64_t backoff_s(std::int64_t attempts, const outbox_settings& s);

struct outbox_run {
  std::size_t sent = 0;
  std::size_t failed = 0;
};

// Sends the due messages of the outbox. Owned and run by one thread (the scheduler's).
class outbox_worker {
 public:
  outbox_worker(outbox_port& port, sender& out, outbox_settings settings,
                const common::clock& clock);
  // One pass over at most limits::k_batch due messages. A store failure ends the pass early.
  outbox_run run_once();

 private:
  outbox_port& port_;
  sender& out_;
  outbox_settings settings_;
  const common::clock& clock_;
};

// Settings from the cloud configuration (keys mail.*).
smtp_settings smtp_settings_from(const common::config& c);
outbox_settings outbox_settings_from(const common::config& c);

}  // namespace aterm::cloud::mail
