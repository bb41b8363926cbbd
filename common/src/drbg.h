// The calling thread's CTR_DRBG as an mbedTLS f_rng callback (internal to common/), for key
// generation and signing in x509_mint.cpp. `ctx` is ignored.
#pragma once

#include <cstddef>

namespace aterm::common::crypto::detail {

int drbg_random(void* ctx, unsigned char* out, std::size_t len);

}  // namespace aterm::common::crypto::detail
