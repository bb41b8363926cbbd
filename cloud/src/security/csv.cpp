#include "aterm/cloud/security/csv.h"

#include "aterm/cloud/fleet.h"
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

namespace {

std::string_view trim_cell(std::string_view c) {
  while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
  while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
  if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
  return c;
}

// The header line's first cell: "device_id" (any case).
bool is_header_cell(std::string_view c) {
  constexpr std::string_view k_word = "device_id";
  if (c.size() != k_word.size()) return false;
  for (std::size_t i = 0; i < k_word.size(); ++i) {
    const char lower = c[i] >= 'A' && c[i] <= 'Z' ? static_cast<char>(c[i] - 'A' + 'a') : c[i];
    if (lower != k_word[i]) return false;
  }
  return true;
}

}  // namespace

common::result<std::vector<device_claim>> parse_device_claim_csv(std::string_view text,
                                                                 std::size_t max_rows,
                                                                 std::size_t* refused_line) {
  std::vector<device_claim> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_cell(line).empty()) continue;
    const auto bad = [&](const std::string& why) {
      if (refused_line != nullptr) *refused_line = line_no;
      return common::status::error("bad_csv", "line " + std::to_string(line_no) + ": " + why);
    };
    auto comma = line.find(',');
    if (line_no == 1 && is_header_cell(trim_cell(line.substr(0, comma)))) continue;
    const auto second = comma == std::string_view::npos ? comma : line.find(',', comma + 1);
    if (comma == std::string_view::npos || (second != std::string_view::npos &&
                                            line.find(',', second + 1) != std::string_view::npos)) {
      return bad("expected device_id,claim_code[,tags]");
    }
    std::string_view id = trim_cell(line.substr(0, comma));
    std::string_view code = trim_cell(line.substr(comma + 1, second - comma - 1));
    if (out.size() == max_rows) return bad("more than " + std::to_string(max_rows) + " devices");
    device_claim claim{std::string(id), std::string(code), std::nullopt};
    if (second != std::string_view::npos) {
      std::vector<std::string> tags;
      std::string_view rest = trim_cell(line.substr(second + 1));
      while (!rest.empty()) {
        auto semi = rest.find(';');
        auto tag = trim_cell(rest.substr(0, semi));
        if (!tag.empty()) tags.emplace_back(tag);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      }
      if (auto s = check_tags(tags); !s.ok()) return bad(s.message());
      claim.tags = std::move(tags);
    }
    out.push_back(std::move(claim));
  }
  if (out.empty()) {
    if (refused_line != nullptr) *refused_line = 0;
    return common::status::error("bad_csv", "no device_id,claim_code line");
  }
  return out;
}

}  // namespace aterm::cloud::security
