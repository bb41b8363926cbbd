#include "aterm/cloud/security/csv.h"

#include "aterm/common/clock.h"

namespace aterm::cloud::security {

std::string csv_cell(std::string_view value) {
  std::string cell;
  cell.reserve(value.size() + 3);
  if (!value.empty()) {
    const char first = value.front();
    // Spreadsheets run a cell starting with these as a formula (OWASP "CSV injection").
    if (first == '=' || first == '+' || first == '-' || first == '@' || first == '\t' ||
        first == '\r') {
      cell += '\'';
    }
  }
  cell += value;
  const bool quote = cell.find_first_of(",\"\r\n") != std::string::npos ||
                     (!cell.empty() && (cell.front() == ' ' || cell.back() == ' '));
  if (!quote) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

template <typename Range>
std::string join_row(const Range& cells) {
  std::string out;
  bool first = true;
  for (const auto& c : cells) {
    if (!first) out += ',';
    first = false;
    out += csv_cell(c);
  }
  out += "\r\n";
  return out;
}

}  // namespace

std::string csv_row(std::initializer_list<std::string_view> cells) {
  return join_row(cells);
}
std::string csv_row(const std::vector<std::string>& cells) {
  return join_row(cells);
}

std::string escape_controls(std::string_view text) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::string audit_csv_header() {
  return csv_row({"seq", "time_jst", "company_id", "actor", "action", "target", "result",
                  "source_ip", "detail"});
}

std::string audit_csv_row(const audit_record& r) {
  const std::string seq = std::to_string(r.seq);
  const std::string time = common::format_jst(common::from_unix_ms(r.ts_ms));
  return csv_row({seq, time, escape_controls(r.company_id), escape_controls(r.actor),
                  escape_controls(r.action), escape_controls(r.target), escape_controls(r.result),
                  escape_controls(r.source_ip), escape_controls(r.detail)});
}

}  // namespace aterm::cloud::security
