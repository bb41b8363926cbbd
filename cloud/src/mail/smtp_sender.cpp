// The SMTP sender through libcurl: the only file of the mail library that includes curl.h.
#include <curl/curl.h>

#include <cstring>
#include <mutex>

#include "aterm/cloud/mail/limits.h"
#include "aterm/cloud/mail/mail.h"

namespace aterm::cloud::mail {

namespace {

struct upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t read_chunk(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* u = static_cast<upload*>(user);
  std::size_t room = size * count;
  std::size_t n = std::min(room, u->data->size() - u->offset);
  std::memcpy(buffer, u->data->data() + u->offset, n);
  u->offset += n;
  return n;
}

common::status smtp_error(std::string message, std::string_view code = "smtp") {
  if (message.size() > limits::k_max_error) message.resize(limits::k_max_error);
  return common::status::error(std::string(code), std::move(message));
}

// The host of "scheme://[user@]host[:port][/...]", brackets of an IPv6 literal removed.
std::string_view url_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view authority = url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    return close == std::string_view::npos ? std::string_view{} : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

// 127.0.0.0/8 in dotted decimal, four parts of 0-255.
bool ipv4_loopback(std::string_view host) {
  if (!host.starts_with("127.")) return false;
  int parts = 0;
  std::size_t digits = 0;
  int value = 0;
  for (char ch : host) {
    if (ch == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = 0;
      value = 0;
      continue;
    }
    if (ch < '0' || ch > '9' || ++digits > 3) return false;
    value = value * 10 + (ch - '0');
    if (value > 255) return false;
  }
  return parts == 3 && digits > 0;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

class curl_sender final : public sender {
 public:
  explicit curl_sender(smtp_settings s) : settings_(std::move(s)) {
    // curl_global_init is not thread-safe; every sender of the process shares one call.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  common::status send(const std::string& from, const std::string& to,
                      const std::string& data) override {
    if (settings_.url.empty()) return smtp_error("mail.smtp_url is not set");
    const bool smtps = settings_.url.starts_with("smtps://");
    if (!smtps && !settings_.url.starts_with("smtp://")) {
      return smtp_error("mail.smtp_url must be smtp:// or smtps://");
    }
    CURL* c = curl_easy_init();
    if (c == nullptr) return smtp_error("curl_easy_init failed");
    char error[CURL_ERROR_SIZE] = {};
    std::string mail_from = "<" + from + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to + ">").c_str());
    upload u{&data};
    curl_easy_setopt(c, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    // TLS or nothing: a relay without STARTTLS gets neither AUTH nor the message. A loopback relay
    // allowed plain text still gets STARTTLS when it offers it.
    const bool plain_ok = plaintext_allowed(settings_);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     static_cast<long>(plain_ok ? CURLUSESSL_TRY : CURLUSESSL_ALL));
    if (!settings_.ca.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, settings_.ca.c_str());
    if (!settings_.username.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, settings_.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, settings_.password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_chunk);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(settings_.timeout.count()));
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      // The error buffer names the host and the server's answer, never the credentials.
      std::string why = error[0] != '\0' ? error : curl_easy_strerror(rc);
      if (rc == CURLE_USE_SSL_FAILED) {
        return smtp_error(why +
                              ": the server offers no STARTTLS and TLS is required (plain text "
                              "only to a loopback relay with mail.allow_plaintext_loopback)",
                          k_tls_required);
      }
      return smtp_error(why + " (smtp code " + std::to_string(code) + ")");
    }
    return {};
  }

 private:
  smtp_settings settings_;
};

}  // namespace

bool loopback_smtp_url(std::string_view url) {
  if (!url.starts_with("smtp://")) return false;
  std::string_view host = url_host(url);
  return ipv4_loopback(host) || host == "::1" || ascii_iequals(host, "localhost");
}

bool plaintext_allowed(const smtp_settings& s) {
  return s.allow_plaintext_loopback && loopback_smtp_url(s.url);
}

std::unique_ptr<sender> make_smtp_sender(const smtp_settings& settings) {
  return std::make_unique<curl_sender>(settings);
}

}  // namespace aterm::cloud::mail
