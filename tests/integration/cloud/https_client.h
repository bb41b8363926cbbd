// The tests' HTTPS client now lives in tests/support (target aterm_test_https); this name stays
// for the tests in this folder that include it.
#pragma once

#include "aterm/test/https_client.h"
