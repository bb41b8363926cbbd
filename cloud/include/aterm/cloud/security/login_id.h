// Login ids of accounts (DESIGN.md section 6): what a person types is trimmed of surrounding
// white space (the login form trims too, so an id stored with spaces could never sign in), and
// two ids that differ only in ASCII case name the same account within a company (the store
// compares and indexes them folded). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace aterm::cloud::security {

// `typed` without leading and trailing spaces, tabs and line breaks.
std::string trim_login_id(std::string_view typed);

}  // namespace aterm::cloud::security
