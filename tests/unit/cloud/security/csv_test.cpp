#include "aterm/cloud/security/csv.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "aterm/common/clock.h"

namespace sec = aterm::cloud::security;

TEST_CASE("csv: formula injection is neutralised and cells are quoted correctly") {
  struct row {
    const char* in;
    const char* out;
  };
  const row rows[] = {
      {"plain", "plain"},
      {"", ""},
      {"=1+2", "'=1+2"},
      {"+cmd", "'+cmd"},
      {"-2", "'-2"},
      {"@SUM(A1)", "'@SUM(A1)"},
      {"\t=x", "'\t=x"},
      {"\r=x", "\"'\r=x\""},
      {"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"two\nlines", "\"two\nlines\""},
      {" padded", "\" padded\""},
      {"a=b", "a=b"},
      {"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.in);
    CHECK(sec::csv_cell(r.in) == r.out);
  }
  CHECK(sec::csv_row({"a", "=b", "c,d"}) == "a,'=b,\"c,d\"\r\n");
  CHECK(sec::csv_row(std::vector<std::string>{"x", ""}) == "x,\r\n");
}

TEST_CASE("csv: control characters escaped for line-safe output") {
  CHECK(sec::escape_controls("a\nb\rc\td\\e\x01\x7f") == "a\\nb\\rc\\td\\\\e\\x01\\x7f");
  CHECK(sec::escape_controls("\xe6\x97\xa5") == "\xe6\x97\xa5");
}

TEST_CASE("csv: an access-log row in JST whose user text cannot forge a line") {
  aterm::cloud::audit_record r;
  r.seq = 42;
  r.ts_ms = aterm::common::to_unix_ms(*aterm::common::parse_iso8601("2026-11-27T15:30:05Z"));
  r.company_id = "acme";
  r.actor = "alice";
  r.action = "device.command";
  r.target = "=cmd|' /C calc'!A0";
  r.result = "ok";
  r.source_ip = "192.0.2.1";
  r.detail = "x\r\n43,2026-11-28T00:00:00+09:00,acme,admin,session.login,,ok,,forged";
  const std::string line = sec::audit_csv_row(r);
  CHECK(line.starts_with("42,2026-11-28T00:30:05+09:00,acme,alice,device.command,"));
  CHECK(line.find("'=cmd|' /C calc'!A0") != std::string::npos);
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  CHECK(line.ends_with("forged\"\r\n"));
  CHECK(sec::audit_csv_header() ==
        "seq,time_jst,company_id,actor,action,target,result,source_ip,detail\r\n");
}
