#include <ctime>

#include "aterm/cloud/mail/limits.h"
#include "aterm/cloud/mail/mail.h"
#include "aterm/common/json.h"

namespace aterm::cloud::mail {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool is_ascii_printable(std::string_view s) {
  for (const char raw : s) {
    const auto c = static_cast<unsigned char>(raw);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Length of the UTF-8 sequence starting with `lead` (1 for continuation bytes, never split).
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 1;
}

common::status bad(std::string message) {
  return common::status::error("bad_mail", std::move(message));
}

}  // namespace

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > limits::k_max_address) return false;
  auto at = a.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 >= a.size()) return false;
  if (a.find('@', at + 1) != std::string_view::npos) return false;
  for (const char raw : a) {
    const auto c = static_cast<unsigned char>(raw);
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
        c == '(' || c == ')' || c == '\\' || c == '[' || c == ']' || c == ':') {
      return false;
    }
  }
  return true;
}

std::string base64_lines(std::string_view data, std::size_t line) {
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 38 + 8);
  std::size_t col = 0;
  auto put = [&](char c) {
    if (line != 0 && col == line) {
      out += "\r\n";
      col = 0;
    }
    out += c;
    ++col;
  };
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    auto n = (static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16) |
             (static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8) |
             static_cast<unsigned>(static_cast<unsigned char>(data[i + 2]));
    put(k_alphabet[(n >> 18) & 63]);
    put(k_alphabet[(n >> 12) & 63]);
    put(k_alphabet[(n >> 6) & 63]);
    put(k_alphabet[n & 63]);
  }
  std::size_t rest = data.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8;
    put(k_alphabet[(n >> 18) & 63]);
    put(k_alphabet[(n >> 12) & 63]);
    put(rest == 2 ? k_alphabet[(n >> 6) & 63] : '=');
    put('=');
  }
  return out;
}

std::string encode_header_text(std::string_view text) {
  if (is_ascii_printable(text)) return std::string(text);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    // Whole characters only: an encoded-word must not split a UTF-8 sequence (RFC 2047 5.3).
    std::size_t end = i;
    while (end < text.size()) {
      std::size_t n = utf8_length(static_cast<unsigned char>(text[end]));
      if (end + n - i > limits::k_encoded_word_bytes) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + utf8_length(static_cast<unsigned char>(text[i])));
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_lines(text.substr(i, end - i), 0) + "?=";
    i = end;
  }
  return out;
}

std::string rfc5322_date(common::wall_time t) {
  std::time_t s = static_cast<std::time_t>(common::to_unix_s(t));
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  // The C locale's English day and month names, as RFC 5322 requires.
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", k_days[tm.tm_wday],
                tm.tm_mday, k_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

common::result<std::string> format_message(const mail_message& m, std::string_view from,
                                           common::wall_time date, std::string_view message_id) {
  if (!valid_address(m.to)) return bad("bad recipient address");
  if (!valid_address(from)) return bad("bad sender address");
  if (!common::valid_utf8(m.subject) || m.subject.find_first_of("\r\n") != std::string::npos) {
    return bad("subject must be one line of UTF-8");
  }
  if (!common::valid_utf8(m.body)) return bad("body must be UTF-8");
  std::string body;
  body.reserve(m.body.size() + m.body.size() / 40);
  // Line ends become CRLF before encoding, as RFC 2045 requires for text in base64.
  for (std::size_t i = 0; i < m.body.size(); ++i) {
    char c = m.body[i];
    if (c == '\n' && (i == 0 || m.body[i - 1] != '\r')) body += '\r';
    body += c;
  }
  std::string out;
  out += "Date: " + rfc5322_date(date) + "\r\n";
  out += "From: <" + std::string(from) + ">\r\n";
  out += "To: <" + m.to + ">\r\n";
  out += "Subject: " + encode_header_text(m.subject) + "\r\n";
  out += "Message-ID: <" + std::string(message_id) + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  out += "\r\n";
  out += base64_lines(body, limits::k_base64_line);
  out += "\r\n";
  return out;
}

}  // namespace aterm::cloud::mail
