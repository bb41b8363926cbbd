// CSV export (RFC 4180) safe for spreadsheets: a cell starting with = + - @ TAB or CR gets a
// leading apostrophe so it is not run as a formula (CSV injection); a cell holding a comma,
// quote, CR or LF, or starting or ending with a space, is quoted with quotes doubled. Rows end in
// CRLF. The access-log export shows times in JST (+09:00) and escapes control characters, so a
// record's user-supplied text cannot make a line that looks like another record in any viewer.
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/device_claim.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// Opens every CSV export: spreadsheet programs then read the file as UTF-8 (Japanese names).
inline constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

std::string csv_cell(std::string_view value);
// Cells through csv_cell, joined with "," and ended with "\r\n".
std::string csv_row(std::initializer_list<std::string_view> cells);
std::string csv_row(const std::vector<std::string>& cells);

// Control characters (C0, DEL) as "\n", "\r", "\t" or "\xHH", backslash as "\\"; other text
// (including UTF-8) kept.
std::string escape_controls(std::string_view text);

// "seq,time_jst,company_id,actor,action,target,result,source_ip,detail\r\n"
std::string audit_csv_header();
// One record; time as common::format_jst, text fields through escape_controls.
std::string audit_csv_row(const audit_record& r);

// A device-claim upload (docs/device-claim.md): one `device_id,claim_code` line per device,
// optionally a third cell of tags separated by semicolons (`device_id,claim_code,tags`), CRLF or
// LF, an optional first header line ("device_id,claim_code[,tags]"), blank lines skipped, cells
// and tags trimmed of spaces and of one pair of surrounding quotes. At most `max_rows` devices.
// Error "bad_csv" naming the first bad line ("line 3: ..."), also for tags the tag rule refuses
// (check_tags); the codes are not checked here (security/device_claim.h does), only that each
// line has its cells. When refused and `refused_line` is given, it receives the 1-based line the
// error names, 0 when the upload holds no device line at all.
common::result<std::vector<device_claim>> parse_device_claim_csv(
    std::string_view text, std::size_t max_rows, std::size_t* refused_line = nullptr);

}  // namespace aterm::cloud::security
