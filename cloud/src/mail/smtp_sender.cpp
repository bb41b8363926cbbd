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

common::status smtp_error(std::string message) {
  if (message.size() > limits::k_max_error) message.resize(limits::k_max_error);
  return common::status::error("smtp", std::move(message));
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
    CURL* c = curl_easy_init();
    if (c == nullptr) return smtp_error("curl_easy_init failed");
    char error[CURL_ERROR_SIZE] = {};
    std::string mail_from = "<" + from + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to + ">").c_str());
    upload u{&data};
    curl_easy_setopt(c, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    // STARTTLS whenever the server offers it; smtps:// URLs are TLS from the start anyway.
    curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
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
      return smtp_error(why + " (smtp code " + std::to_string(code) + ")");
    }
    return {};
  }

 private:
  smtp_settings settings_;
};

}  // namespace

std::unique_ptr<sender> make_smtp_sender(const smtp_settings& settings) {
  return std::make_unique<curl_sender>(settings);
}

}  // namespace aterm::cloud::mail
