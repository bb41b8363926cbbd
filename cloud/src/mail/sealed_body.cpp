#include "aterm/cloud/mail/mail.h"
#include "aterm/common/crypto.h"
#include "aterm/common/sealed_box.h"

namespace aterm::cloud::mail {

namespace {

// What a sealed body is bound to: moving it to another recipient or subject breaks it.
std::string context_of(const mail_message& m) {
  return "aterm-mail-v1\n" + m.to + "\n" + m.subject;
}

}  // namespace

mail_message seal_body(mail_message m, std::span<const std::uint8_t> key) {
  const auto box = common::sealed_box::seal(key, m.body, context_of(m));
  m.body = std::string(k_sealed_body_prefix) + common::crypto::base64url_encode(box);
  return m;
}

bool sealed_body(const mail_message& m) {
  return m.body.starts_with(k_sealed_body_prefix);
}

common::result<mail_message> open_body(const mail_message& m, std::span<const std::uint8_t> key) {
  if (!sealed_body(m)) return m;
  auto refused = [] {
    return common::status::error("sealed_body_refused", "the sealed mail body does not open");
  };
  if (key.size() != common::sealed_box::k_key_bytes) return refused();
  auto box = common::crypto::base64url_decode(
      std::string_view(m.body).substr(k_sealed_body_prefix.size()));
  if (!box.ok()) return refused();
  auto plain = common::sealed_box::open(key, *box, context_of(m));
  if (!plain.ok()) return refused();
  mail_message out = m;
  out.body = std::move(*plain);
  return out;
}

}  // namespace aterm::cloud::mail
