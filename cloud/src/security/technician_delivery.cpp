#include "aterm/cloud/security/technician_delivery.h"

#include <span>
#include <string_view>

#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/common/clock.h"
#include "aterm/common/crypto.h"

namespace aterm::cloud::security {

common::result<std::vector<std::uint8_t>> technician_key_from(const common::config& c) {
  const auto& file = c.get_string("security.technician_key_file");
  if (file.empty()) return std::vector<std::uint8_t>{};
  auto ring = load_or_create_keyring(file);
  if (!ring.ok()) return ring.error();
  const auto& secret = ring->back().secret;
  return std::vector<std::uint8_t>(secret.begin(), secret.end());
}

std::vector<std::uint8_t> technician_mail_key(const std::vector<std::uint8_t>& technician_key) {
  constexpr std::string_view label = "aterm-technician-mail-v1";
  const auto d = common::crypto::hmac_sha256(
      technician_key, std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  return {d.begin(), d.end()};
}

mail_message technician_login_mail(const technician_login& login, const std::string& password,
                                   std::int64_t ttl_s, const std::string& to) {
  const std::string expires = common::format_jst(common::from_unix_s(login.expires_at_s));
  const std::string ttl_min = std::to_string(ttl_s / 60);
  const std::string& name = login.technician_name;
  mail_message m;
  m.to = to;
  m.subject = "【Aterm Cloud】技術者ログイン / Technician login: " + login.device_id;
  m.body = (name.empty() ? std::string() : name + " 様\n\n") + "ルーター " + login.device_id +
           " の技術者ログインが発行されました。\n\n" + "ログインID: " + login.login_id + "\n" +
           "パスワード: " + password + "\n" + "有効期限: " + expires +
           "（1回限り。ログインしてから最長 " + ttl_min +
           " 分）\n\nルーターがクラウドにつながっていなくても使えます。"
           "このメールは他の人に転送しないでください。\n\n" +
           (name.empty() ? std::string() : "Dear " + name + ",\n\n") +
           "a technician login for router " + login.device_id + " was issued.\n\n" +
           "Login ID: " + login.login_id + "\n" + "Password: " + password + "\n" +
           "Expires:  " + expires + " (single use; at most " + ttl_min +
           " minutes after you log in)\n\n" +
           "It works while the router is offline too. Do not forward this mail.\n";
  return m;
}

common::result<mail_message> sealed_technician_mail(
    const technician_login& login, const std::string& password, std::int64_t ttl_s,
    const std::string& to, const std::vector<std::uint8_t>& technician_key) {
  if (technician_key.empty()) {
    return common::status::error("technician_mail_unavailable",
                                 "mailing a technician login needs security.technician_key_file");
  }
  return mail::seal_body(technician_login_mail(login, password, ttl_s, to),
                         technician_mail_key(technician_key));
}

}  // namespace aterm::cloud::security
