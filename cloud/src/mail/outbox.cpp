#include <algorithm>

#include "aterm/cloud/mail/limits.h"
#include "aterm/cloud/mail/mail.h"
#include "aterm/common/crypto.h"
#include "aterm/common/log.h"

namespace aterm::cloud::mail {

namespace {

std::string domain_of(std::string_view address) {
  auto at = address.find('@');
  return at == std::string_view::npos ? "localhost" : std::string(address.substr(at + 1));
}

}  // namespace

std::int64_t backoff_s(std::int64_t attempts, const outbox_settings& s) {
  std::int64_t d = std::max<std::int64_t>(1, s.retry_initial_s);
  for (std::int64_t i = 1; i < attempts && d < s.retry_max_s; ++i) d *= 2;
  return std::min(d, std::max<std::int64_t>(1, s.retry_max_s));
}

outbox_worker::outbox_worker(outbox_port& port, sender& out, outbox_settings settings,
                             const common::clock& clock)
    : port_(port), out_(out), settings_(std::move(settings)), clock_(clock) {}

outbox_run outbox_worker::run_once() {
  outbox_run run;
  auto due = port_.due_mail(clock_.now_s(), settings_.max_attempts, limits::k_batch);
  if (!due.ok()) {
    common::log(common::log_level::error, "mail", "outbox not readable",
                {{"error", due.error().to_string()}});
    return run;
  }
  for (const auto& m : *due) {
    auto now = clock_.now();
    std::string message_id =
        common::crypto::to_hex(common::crypto::random_bytes(16)) + "@" + domain_of(settings_.from);
    // A sealed body is opened here only: the plain text lives in this pass's memory.
    auto opened = open_body(m, settings_.sealed_body_key);
    auto data = opened.ok() ? format_message(*opened, settings_.from, now, message_id)
                            : common::result<std::string>(opened.error());
    common::status sent = data.ok() ? out_.send(settings_.from, m.to, *data) : data.error();
    std::int64_t now_s = common::to_unix_s(now);
    if (sent.ok()) {
      ++run.sent;
      if (auto s = port_.mark_mail_sent(m.id, now_s); !s.ok()) {
        // Sent but not marked: it goes again on the next pass (at-least-once).
        common::log(common::log_level::error, "mail", "sent mail not marked",
                    {{"id", m.id}, {"error", s.to_string()}});
        return run;
      }
      if (sealed_body(m)) {
        if (auto s = port_.forget_mail_body(m.id); !s.ok()) {
          common::log(common::log_level::error, "mail", "sealed body of a sent mail not blanked",
                      {{"id", m.id}, {"error", s.to_string()}});
        }
      }
      common::log(common::log_level::info, "mail", "sent", {{"id", m.id}});
      continue;
    }
    ++run.failed;
    std::int64_t attempts = m.attempts + 1;
    std::int64_t next = now_s + backoff_s(attempts, settings_);
    // A relay that would take the mail in plain text is a configuration fault, not an outage.
    const bool refused = sent.code() == k_tls_required;
    common::log(refused ? common::log_level::error : common::log_level::warn, "mail",
                refused ? "send refused: the SMTP relay offers no TLS" : "send failed",
                {{"id", m.id},
                 {"attempts", attempts},
                 {"next_attempt_s", next},
                 {"error", sent.to_string()}});
    if (attempts >= settings_.max_attempts) {
      common::log(common::log_level::error, "mail", "giving up", {{"id", m.id}});
    }
    if (auto s = port_.mark_mail_failed(m.id, sent.to_string(), next); !s.ok()) {
      common::log(common::log_level::error, "mail", "failure not recorded",
                  {{"id", m.id}, {"error", s.to_string()}});
      return run;
    }
  }
  return run;
}

smtp_settings smtp_settings_from(const common::config& c) {
  smtp_settings s;
  s.url = c.get_string("mail.smtp_url");
  s.username = c.get_string("mail.username");
  s.password = c.get_string("mail.password");
  s.ca = c.get_string("mail.ca");
  s.timeout = std::chrono::seconds(c.get_int("mail.timeout_s"));
  s.allow_plaintext_loopback = c.get_bool("mail.allow_plaintext_loopback");
  return s;
}

outbox_settings outbox_settings_from(const common::config& c) {
  outbox_settings s;
  s.from = c.get_string("mail.from");
  s.retry_initial_s = c.get_int("mail.retry_initial_s");
  s.retry_max_s = c.get_int("mail.retry_max_s");
  s.max_attempts = c.get_int("mail.max_attempts");
  return s;
}

}  // namespace aterm::cloud::mail
