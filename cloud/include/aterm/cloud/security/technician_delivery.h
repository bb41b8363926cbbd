// Delivery of a technician login to the technician (docs/security.md, "Delivery to the
// technician"): the technician key the daemon reads from security.technician_key_file, the mail
// that carries the login id, password and expiry in Japanese and English, and the key its body
// is sealed under in the mail outbox (mail/mail.h, sealed bodies), so the database never holds the
// password in plain text. Pure except for reading the key file; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// The technician key (the newest key of security.technician_key_file, created 0600 on first
// use); empty when the key is not set (technician logins are then random and install-only).
common::result<std::vector<std::uint8_t>> technician_key_from(const common::config& c);

// The key the bodies of technician mails are sealed under: HMAC-SHA-256(technician_key,
// "aterm-technician-mail-v1"), so it is no per-device secret and no credential follows from it.
// REQUIRES: technician_key is not empty.
std::vector<std::uint8_t> technician_mail_key(const std::vector<std::uint8_t>& technician_key);

// The mail (plain text; seal its body before it is queued) telling `to` the login id, the
// password, the expiry (JST) and the lifetime `ttl_s` of `login` of its router, in Japanese
// then English.
mail_message technician_login_mail(const technician_login& login, const std::string& password,
                                   std::int64_t ttl_s, const std::string& to);

// The same mail as the outbox stores it: its body sealed under technician_mail_key()
// (mail/mail.h, sealed bodies). Error "technician_mail_unavailable" without a technician key:
// the password would wait in the database in plain text.
common::result<mail_message> sealed_technician_mail(
    const technician_login& login, const std::string& password, std::int64_t ttl_s,
    const std::string& to, const std::vector<std::uint8_t>& technician_key);

}  // namespace aterm::cloud::security
