// libFuzzer target for the CSV a company uploads to claim devices (POST .../devices/claim with
// text/csv, docs/device-claim.md), and for the cell writer of every CSV export: the parse never
// answers more rows than allowed or a cell that still holds a separator, its error names a line
// and echoes none of the input; an exported cell never starts a spreadsheet formula.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aterm/cloud/security/csv.h"

namespace {

constexpr std::size_t k_max_rows = 8;

void require(bool ok) {
  if (!ok) std::abort();
}

bool formula_start(std::string_view cell) {
  if (!cell.empty() && cell.front() == '"') cell.remove_prefix(1);
  if (cell.empty()) return false;
  const char c = cell.front();
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace security = aterm::cloud::security;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  auto claims = security::parse_device_claim_csv(in, k_max_rows);
  if (claims.ok()) {
    require(!claims->empty() && claims->size() <= k_max_rows);
    for (const auto& c : *claims) {
      for (std::string_view cell :
           {std::string_view(c.device_id), std::string_view(c.claim_code)}) {
        require(cell.find_first_of(",\n") == std::string_view::npos);
        require(cell.size() <= in.size());
      }
    }
  } else {
    const auto& e = claims.error();
    require(e.code() == "bad_csv");
    require(e.message().rfind("line ", 0) == 0 || e.message() == "no device_id,claim_code line");
    require(e.message().size() < 80);
  }

  const std::string cell = security::csv_cell(in);
  require(!formula_start(cell));
  const std::string escaped = security::escape_controls(in);
  for (char c : escaped) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  return 0;
}
