#include "aterm/common/crypto.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha256.h>
#include <unistd.h>

#include <cassert>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "drbg.h"

namespace aterm::common::crypto {

namespace {

// One generator per thread, so no lock is needed. It is reseeded in a forked child, which
// would otherwise repeat its parent's stream.
class thread_drbg {
 public:
  thread_drbg() { seed(); }
  ~thread_drbg() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  thread_drbg(const thread_drbg&) = delete;
  thread_drbg& operator=(const thread_drbg&) = delete;

  void fill(unsigned char* out, std::size_t len) {
    if (pid_ != ::getpid()) {
      mbedtls_ctr_drbg_free(&drbg_);
      mbedtls_entropy_free(&entropy_);
      seed();
    }
    while (len > 0) {
      const std::size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
      if (mbedtls_ctr_drbg_random(&drbg_, out, n) != 0) {
        std::fputs("aterm: CTR_DRBG failed\n", stderr);
        std::abort();
      }
      out += n;
      len -= n;
    }
  }

 private:
  void seed() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static constexpr unsigned char k_personal[] = "aterm-common-drbg";
    if (mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, k_personal,
                              sizeof k_personal - 1) != 0) {
      std::fputs("aterm: cannot seed CTR_DRBG from the OS entropy source\n", stderr);
      std::abort();
    }
    pid_ = ::getpid();
  }

  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  pid_t pid_ = 0;
};

thread_drbg& drbg() {
  // Heap-allocated on first use: a thread_local object of this size (~38 KB of mbedTLS entropy
  // and DRBG state) would sit in .tbss, which glibc zeroes for every thread of the process,
  // Paho's included, though only a few threads ever draw random numbers.
  thread_local std::unique_ptr<thread_drbg> instance;
  if (!instance) instance = std::make_unique<thread_drbg>();
  return *instance;
}

const mbedtls_md_info_t* sha256_info() {
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  assert(info != nullptr);
  return info;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

constexpr char k_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

namespace detail {

int drbg_random(void*, unsigned char* out, std::size_t len) {
  drbg().fill(out, len);
  return 0;
}

}  // namespace detail

void random_fill(std::span<std::uint8_t> out) {
  drbg().fill(out.data(), out.size());
}

bytes random_bytes(std::size_t n) {
  bytes b(n);
  random_fill(b);
  return b;
}

std::uint32_t random_below(std::uint32_t bound) {
  assert(bound > 0);
  // Values below 2^32 mod bound would make the low residues more likely; draw again.
  const std::uint32_t threshold = static_cast<std::uint32_t>(-bound) % bound;
  for (;;) {
    std::uint32_t r = 0;
    drbg().fill(reinterpret_cast<unsigned char*>(&r), sizeof r);
    if (r >= threshold) return r % bound;
  }
}

digest sha256(std::span<const std::uint8_t> data) {
  digest d{};
  const int rc = mbedtls_sha256_ret(data.data(), data.size(), d.data(), 0);
  assert(rc == 0);
  (void)rc;
  return d;
}

digest sha256(std::string_view data) {
  return sha256(as_bytes(data));
}

digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  digest d{};
  const int rc =
      mbedtls_md_hmac(sha256_info(), key.data(), key.size(), data.data(), data.size(), d.data());
  assert(rc == 0);
  (void)rc;
  return d;
}

digest hmac_sha256(std::string_view key, std::string_view data) {
  return hmac_sha256(as_bytes(key), as_bytes(data));
}

bytes pbkdf2_hmac_sha256(std::string_view password, std::span<const std::uint8_t> salt,
                         std::uint32_t iterations, std::size_t length) {
  assert(iterations >= 1 && length >= 1 && length <= UINT32_MAX);
  bytes out(length);
  mbedtls_md_context_t md;
  mbedtls_md_init(&md);
  int rc = mbedtls_md_setup(&md, sha256_info(), 1);
  if (rc == 0) {
    rc = mbedtls_pkcs5_pbkdf2_hmac(&md, reinterpret_cast<const unsigned char*>(password.data()),
                                   password.size(), salt.data(), salt.size(), iterations,
                                   static_cast<std::uint32_t>(length), out.data());
  }
  mbedtls_md_free(&md);
  if (rc != 0) {
    std::fputs("aterm: PBKDF2 failed\n", stderr);
    std::abort();
  }
  return out;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return constant_time_equal(as_bytes(a), as_bytes(b));
}

std::string to_hex(std::span<const std::uint8_t> data) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const std::uint8_t b : data) {
    out += k_hex[b >> 4];
    out += k_hex[b & 0xF];
  }
  return out;
}

result<bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return status::error("bad_hex", "odd number of hex digits");
  bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return status::error("bad_hex", "not a hex digit");
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

std::string base64url_encode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out += k_b64url[(v >> 18) & 63];
    out += k_b64url[(v >> 12) & 63];
    out += k_b64url[(v >> 6) & 63];
    out += k_b64url[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += k_b64url[(v >> 18) & 63];
    out += k_b64url[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += k_b64url[(v >> 18) & 63];
    out += k_b64url[(v >> 12) & 63];
    out += k_b64url[(v >> 6) & 63];
  }
  return out;
}

result<bytes> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return status::error("bad_base64", "impossible length");
  bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = b64url_value(c);
    if (v < 0) return status::error("bad_base64", "not a base64url character");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return status::error("bad_base64", "non-canonical ending");
  return out;
}

std::string generate_token(std::size_t n_bytes) {
  return base64url_encode(random_bytes(n_bytes));
}

std::string generate_password(std::size_t length) {
  return generate_from(k_password_alphabet, length);
}

std::string generate_from(std::string_view alphabet, std::size_t length) {
  assert(!alphabet.empty() && alphabet.size() <= UINT32_MAX);
  std::string out;
  out.reserve(length);
  for (std::size_t i = 0; i < length; ++i) {
    out += alphabet[random_below(static_cast<std::uint32_t>(alphabet.size()))];
  }
  return out;
}

}  // namespace aterm::common::crypto
