// The webhook signature, sender (libcurl: the only file of the alerts part that includes curl.h)
// and the outbox worker.
#include "aterm/cloud/alerts/webhook.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "aterm/cloud/alerts/limits.h"
#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/log.h"

namespace aterm::cloud::alerts {

namespace {

namespace crypto = common::crypto;

common::status webhook_error(std::string message) {
  if (message.size() > limits::k_max_error_text) message.resize(limits::k_max_error_text);
  return common::status::error("webhook", std::move(message));
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
  return size * count;
}

class https_poster final : public webhook_poster {
 public:
  explicit https_poster(webhook_settings s) : settings_(std::move(s)) {
    // curl_global_init is not thread-safe: once, from the thread that builds the daemon's tasks
    // (libcurl counts its calls, so the mail sender's own call does no harm).
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  common::status post(const std::string& url, const std::string& body,
                      const std::string& signature) override {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return webhook_error("curl_easy_init failed");
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "User-Agent: aterm-cloud");
    const std::string sig = std::string(k_signature_header) + ": " + signature;
    headers = curl_slist_append(headers, sig.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    // HTTPS only, also after a redirect (none are followed).
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings_.ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) return webhook_error(curl_easy_strerror(rc));
    if (status < 200 || status > 299) return webhook_error("HTTP " + std::to_string(status));
    return {};
  }

 private:
  webhook_settings settings_;
};

bool url_char_ok(char ch) {
  return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '<' && ch != '>' && ch != '\\' && ch != '^' &&
         ch != '`' && ch != '{' && ch != '|' && ch != '}';
}

}  // namespace

std::string new_webhook_salt() {
  return crypto::to_hex(crypto::random_bytes(limits::k_webhook_salt_bytes));
}

std::string webhook_secret(const secret_key& key, std::string_view salt) {
  return crypto::to_hex(
      crypto::hmac_sha256(key.secret, "aterm-webhook-secret:" + std::string(salt)));
}

std::string signature_of(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::to_hex(crypto::hmac_sha256(secret, body));
}

common::status check_webhook_url(std::string_view url) {
  auto bad = [](std::string why) {
    return common::status::error(std::string(k_bad_webhook_url), std::move(why));
  };
  if (url.size() > limits::k_max_webhook_url) return bad("the URL is too long");
  if (!url.starts_with("https://")) return bad("the URL must start with https://");
  if (!std::all_of(url.begin(), url.end(), url_char_ok)) {
    return bad("the URL holds a space, a control or a character that needs escaping");
  }
  auto authority = url.substr(8);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.empty()) return bad("the URL names no host");
  if (authority.find('@') != std::string_view::npos) return bad("the URL may not hold user info");
  return {};
}

webhook_settings webhook_settings_from(const common::config& c) {
  webhook_settings s;
  s.key_file = webhook_key_path(c);
  s.ca = c.get_string("alerts.webhook_ca");
  s.timeout = std::chrono::seconds(c.get_int("alerts.webhook_timeout_s"));
  s.retry_initial_s = c.get_int("alerts.webhook_retry_initial_s");
  s.retry_max_s = c.get_int("alerts.webhook_retry_max_s");
  s.disable_after_s = c.get_int("alerts.webhook_disable_after_s");
  return s;
}

std::string webhook_key_path(const common::config& c) {
  const std::string& v = c.get_string("alerts.webhook_key_file");
  if (!v.empty()) return v;
  // A database server has no place next to it; its instances all name the access log's key
  // file, so the webhook key sits beside that one and every instance finds the same.
  const std::string& db = c.get_string("db");
  if (db_is_server(db)) return c.get_string("security.audit_key_file") + ".webhook";
  return db + ".webhook-key";
}

std::unique_ptr<webhook_poster> make_https_poster(const webhook_settings& s) {
  return std::make_unique<https_poster>(s);
}

webhook_worker::webhook_worker(alert_port& port, webhook_poster& out, secret_key key,
                               webhook_settings s, const common::clock& clock)
    : port_(port), out_(out), key_(std::move(key)), settings_(std::move(s)), clock_(clock) {}

webhook_run webhook_worker::run_once() {
  webhook_run run;
  auto due = port_.due_webhooks(clock_.now_s(), limits::k_webhook_batch);
  if (!due.ok()) {
    common::log(common::log_level::error, "alerts", "webhook outbox not readable",
                {{"error", due.error().to_string()}});
    return run;
  }
  mail::outbox_settings backoff;
  backoff.retry_initial_s = settings_.retry_initial_s;
  backoff.retry_max_s = settings_.retry_max_s;
  for (const auto& d : *due) {
    auto signature = signature_of(webhook_secret(key_, d.salt), d.payload);
    auto sent = out_.post(d.url, d.payload, signature);
    std::int64_t now_s = clock_.now_s();
    if (sent.ok()) {
      ++run.sent;
      if (auto s = port_.mark_webhook_sent(d.id, now_s); !s.ok()) {
        common::log(common::log_level::error, "alerts", "delivered webhook not marked",
                    {{"id", d.id}, {"error", s.to_string()}});
        return run;
      }
      common::log(common::log_level::info, "alerts", "webhook delivered",
                  {{"id", d.id}, {"channel", d.channel_id}});
      continue;
    }
    ++run.failed;
    std::int64_t next = now_s + mail::backoff_s(d.attempts + 1, backoff);
    common::log(common::log_level::warn, "alerts", "webhook failed",
                {{"id", d.id},
                 {"channel", d.channel_id},
                 {"attempts", d.attempts + 1},
                 {"next_attempt_s", next},
                 {"error", sent.to_string()}});
    if (auto s =
            port_.mark_webhook_failed(d.id, sent.message(), next, now_s, settings_.disable_after_s);
        !s.ok()) {
      common::log(common::log_level::error, "alerts", "webhook failure not recorded",
                  {{"id", d.id}, {"error", s.to_string()}});
      return run;
    }
  }
  return run;
}

}  // namespace aterm::cloud::alerts
