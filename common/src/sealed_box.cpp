#include "aterm/common/sealed_box.h"

#include <mbedtls/gcm.h>

#include <cassert>

namespace aterm::common::sealed_box {

namespace {

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// One GCM context for one call: mbedTLS contexts are not shared between threads.
class gcm_context {
 public:
  explicit gcm_context(std::span<const std::uint8_t> key) {
    assert(key.size() == k_key_bytes);
    mbedtls_gcm_init(&ctx_);
    const int rc = mbedtls_gcm_setkey(&ctx_, MBEDTLS_CIPHER_ID_AES, key.data(),
                                      static_cast<unsigned int>(key.size() * 8));
    assert(rc == 0);
    (void)rc;
  }
  ~gcm_context() { mbedtls_gcm_free(&ctx_); }
  gcm_context(const gcm_context&) = delete;
  gcm_context& operator=(const gcm_context&) = delete;
  mbedtls_gcm_context* get() { return &ctx_; }

 private:
  mbedtls_gcm_context ctx_;
};

}  // namespace

crypto::bytes seal(std::span<const std::uint8_t> key, std::string_view plain,
                   std::string_view context) {
  gcm_context gcm(key);
  crypto::bytes out(k_nonce_bytes + plain.size() + k_tag_bytes);
  crypto::random_fill(std::span(out.data(), k_nonce_bytes));
  unsigned char* body = out.data() + k_nonce_bytes;
  const int rc = mbedtls_gcm_crypt_and_tag(gcm.get(), MBEDTLS_GCM_ENCRYPT, plain.size(), out.data(),
                                           k_nonce_bytes, bytes_of(context), context.size(),
                                           bytes_of(plain), body, k_tag_bytes, body + plain.size());
  assert(rc == 0);
  (void)rc;
  return out;
}

result<std::string> open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> sealed,
                         std::string_view context) {
  if (sealed.size() < k_nonce_bytes + k_tag_bytes) {
    return status::error("sealed_box_refused", "sealed text too short");
  }
  gcm_context gcm(key);
  const std::size_t n = sealed.size() - k_nonce_bytes - k_tag_bytes;
  std::string plain(n, '\0');
  const unsigned char* body = sealed.data() + k_nonce_bytes;
  const int rc = mbedtls_gcm_auth_decrypt(gcm.get(), n, sealed.data(), k_nonce_bytes,
                                          bytes_of(context), context.size(), body + n, k_tag_bytes,
                                          body, reinterpret_cast<unsigned char*>(plain.data()));
  if (rc != 0) return status::error("sealed_box_refused", "the sealed text does not open");
  return plain;
}

}  // namespace aterm::common::sealed_box
