// JSON text writing shared by print_json and the protocol encoders (internal to common/).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aterm::common::detail {

// Length of the JSON number (RFC 8259 grammar) at text[i], 0 when malformed. cJSON alone takes
// whatever strtod takes ("01", "1.", "-.5").
std::size_t number_length(std::string_view text, std::size_t i);
// The value of the four hex digits at s[i] (a "\uXXXX" escape's), -1 when they are not four hex
// digits.
long hex4(std::string_view s, std::size_t i);
// Appends `s` as a quoted JSON string; UTF-8 passes through, control characters are escaped.
void append_json_string(std::string& out, std::string_view s);
// Appends a finite number; integral values in int64 range print as integers ("1700000000",
// never "1.7e+09"), others with 17 significant digits. Non-finite prints as null.
void append_json_number(std::string& out, double d);

}  // namespace aterm::common::detail
