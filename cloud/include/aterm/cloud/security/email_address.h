// Every account has an e-mail address (DESIGN.md section 5): the rule for what may be one.
// Pure; thread-safe.
#pragma once

#include <string_view>

namespace aterm::cloud::security {

// Whether `s` can be an account's e-mail address: 3..128 bytes of printable ASCII without
// spaces, one '@' with text on both sides, and a dot inside the domain. A plausibility check,
// not a proof that the mailbox exists.
bool valid_email_address(std::string_view s);

}  // namespace aterm::cloud::security
