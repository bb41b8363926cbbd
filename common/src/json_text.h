// JSON text writing shared by print_json and the protocol encoders (internal to common/).
#pragma once

#include <string>
#include <string_view>

namespace aterm::common::detail {

// Appends `s` as a quoted JSON string; UTF-8 passes through, control characters are escaped.
void append_json_string(std::string& out, std::string_view s);
// Appends a finite number; integral values in int64 range print as integers ("1700000000",
// never "1.7e+09"), others with 17 significant digits. Non-finite prints as null.
void append_json_number(std::string& out, double d);

}  // namespace aterm::common::detail
