#include <doctest/doctest.h>

#include <string>

#include "aterm/common/json.h"
#include "aterm/common/json_reader.h"
#include "test_files.h"

using namespace aterm::common;

TEST_CASE("parse_json accepts valid documents and prints them compactly") {
  struct row {
    std::string in;
    std::string out;
  };
  const row rows[] = {
      {R"({"a":1})", R"({"a":1})"},
      {" { \"a\" : [ 1 , 2 , {\"b\":null} ] } \n", R"({"a":[1,2,{"b":null}]})"},
      {R"({"ts":1767225600})", R"({"ts":1767225600})"},
      {R"({"ms":1767225600123})", R"({"ms":1767225600123})"},
      {R"({"big":1e15})", R"({"big":1000000000000000})"},
      {R"({"neg":-42,"f":1.5})", R"({"neg":-42,"f":1.5})"},
      {R"({"s":"\u00e9\n\"x\"\\"})", "{\"s\":\"\xc3\xa9\\n\\\"x\\\"\\\\\"}"},
      {R"("text")", R"("text")"},
      {"[true,false]", "[true,false]"},
      {R"(["\ud83d\ude00","\u0041\u00e9"])", "[\"\xf0\x9f\x98\x80\",\"A\xc3\xa9\"]"},
      {"[-0,0.0,1E2,1e-2,-1.5e+3,0,10]", "[0,0,100,0.01,-1500,0,10]"},
      {"[0.1,0.25,3.141592653589793,1e300]", "[0.1,0.25,3.141592653589793,1e+300]"},
      {"{}", "{}"},
      {"\xEF\xBB\xBF {\"bom\":1}", R"({"bom":1})"},
      {"\xEF\xBB\xBF"
       "7",
       "7"},
      {"[1" + std::string(99, '0') + "]", "[1e+99]"},
      {R"({"a\u0062":[],"ab\/":{}})", R"({"ab":[],"ab/":{}})"},
  };
  // The decoders' reader (json_reader.h) accepts the same and prints the same.
  json_reader reader;
  for (const auto& r : rows) {
    CAPTURE(r.in);
    auto parsed = parse_json(r.in);
    REQUIRE(parsed.ok());
    CHECK(print_json(parsed->get()) == r.out);
    REQUIRE(reader.parse(r.in).ok());
    std::string printed;
    reader.print(reader.root(), printed);
    CHECK(printed == r.out);
  }
}

TEST_CASE("parse_json refuses bad input with bad_json") {
  const std::string rows[] = {
      "",
      "{",
      R"({"a":1)",
      R"({"a":})",
      R"({"a":1} x)",
      R"({"a":1}{"b":2})",
      R"({"a":1e400})",
      R"({"a":-1e400})",
      R"([1e999])",
      R"({"a":1,"a":2})",
      std::string("{\"a\":\"x\ny\"}"),
      R"({"a":"\u0000"})",
      std::string("{\"a\":1}\0", 8),
      std::string(17, '[') + std::string(17, ']'),
      "nul",
      "01",
      "[1.]",
      "[.5]",
      "[-]",
      "[1e]",
      "[1e+]",
      "[+1]",
      "[--1]",
      "[-01]",
      "[1.5.2]",
      "[0x10]",
      "[1e5e5]",
      R"(["\ud800"])",
      R"(["\udc00"])",
      R"(["\ud800x"])",
      R"(["\x41"])",
      "[1,\x0b 2]",
      "\x0c{}",
      R"({"a":1,"\u0061":2})",
      R"(["\u12G4"])",
      R"({"a":"\u25{["})",
      // One BOM is skipped, a second is no JSON (cJSON alone would skip it too).
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "55",
      "\xEF\xBB\xBF",
  };
  json_reader reader;
  for (const auto& in : rows) {
    CAPTURE(in);
    auto parsed = parse_json(in);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == "bad_json");
    auto read = reader.parse(in);
    REQUIRE_FALSE(read.ok());
    CHECK(read.code() == "bad_json");
  }
}

TEST_CASE("parse_json depth limit is exact and skips string contents") {
  const std::string at_limit = std::string(16, '[') + std::string(16, ']');
  CHECK(parse_json(at_limit).ok());
  CHECK_FALSE(parse_json("[" + at_limit + "]").ok());
  CHECK(parse_json(R"({"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})").ok());
  CHECK(parse_json(R"({"s":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\""})").ok());
  CHECK(parse_json(at_limit, {64, 16}).ok());
  CHECK_FALSE(parse_json(at_limit, {31, 16}).ok());
}

TEST_CASE("parse_json: 10k-deep nesting from fixtures is a clean error") {
  for (const char* name :
       {"protocol/deep_nesting_10k_arrays.json", "protocol/deep_nesting_10k_unclosed.json"}) {
    CAPTURE(name);
    const std::string text = testing::read_fixture(name);
    REQUIRE(text.size() > 10000);
    auto parsed = parse_json(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == "bad_json");
    CHECK(parsed.error().message().find("nesting") != std::string::npos);
  }
}

TEST_CASE("valid_utf8") {
  struct row {
    std::string in;
    bool ok;
  };
  const row rows[] = {
      {"", true},
      {"plain ascii", true},
      {"\xc3\xa9", true},
      {"\xe6\x97\xa5\xe6\x9c\xac", true},
      {"\xf0\x9f\x98\x80", true},
      {"\xf4\x8f\xbf\xbf", true},
      {"\xc0\xaf", false},
      {"\xc1\xbf", false},
      {"\xe0\x80\x80", false},
      {"\xf0\x80\x80\x80", false},
      {"\xed\xa0\x80", false},
      {"\xed\xbf\xbf", false},
      {"\xf4\x90\x80\x80", false},
      {"\xe3\x81", false},
      {"a\xf0\x9f\x98", false},
      {"\x80", false},
      {"\xff", false},
      {"\xc3\x28", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.in);
    CHECK(valid_utf8(r.in) == r.ok);
  }
}

TEST_CASE("typed field access") {
  auto parsed = parse_json(R"({"s":"x","i":7,"f":1.5,"b":true,"big":1e19,"n":null})");
  REQUIRE(parsed.ok());
  const cJSON* o = parsed->get();
  CHECK(json_string(o, "s") == "x");
  CHECK_FALSE(json_string(o, "i").has_value());
  CHECK_FALSE(json_string(o, "S").has_value());
  CHECK(json_int(o, "i") == 7);
  CHECK_FALSE(json_int(o, "f").has_value());
  CHECK_FALSE(json_int(o, "big").has_value());
  CHECK_FALSE(json_int(o, "s").has_value());
  CHECK(json_number(o, "i") == 7.0);
  CHECK(json_number(o, "f") == 1.5);
  CHECK(json_bool(o, "b") == true);
  CHECK_FALSE(json_bool(o, "n").has_value());
  CHECK_FALSE(json_bool(o, "missing").has_value());
}

TEST_CASE("json_writer writes what print_json prints, and reads back") {
  json_writer w;
  w.begin_object()
      .key("id")
      .string("rt-1")
      .key("quote\"d")
      .string("a\"b\\c\n\t\x01\x1f/\xc3\xa9")
      .key("n")
      .number(1767225600123)
      .key("neg")
      .number(-9223372036854775807 - 1)
      .key("on")
      .boolean(true)
      .key("off")
      .boolean(false)
      .key("none")
      .null()
      .key("state")
      .raw(R"({"wan":{"ip":"192.0.2.1"}})")
      .key("empty")
      .begin_array()
      .end_array()
      .key("tags")
      .begin_array()
      .string("")
      .string("x")
      .begin_object()
      .end_object()
      .begin_object()
      .key("k")
      .number(0)
      .end_object()
      .end_array()
      .end_object();
  const std::string text = w.take();
  const std::string expected =
      "{\"id\":\"rt-1\",\"quote\\\"d\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\xc3\xa9\","
      "\"n\":1767225600123,\"neg\":-9223372036854775808,\"on\":true,\"off\":false,"
      "\"none\":null,\"state\":{\"wan\":{\"ip\":\"192.0.2.1\"}},\"empty\":[],"
      "\"tags\":[\"\",\"x\",{},{\"k\":0}]}";
  CHECK(text == expected);
  auto parsed = parse_json(text);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().to_string());
  CHECK(print_json(parsed->get()) == text);
  CHECK(json_string(parsed->get(), "quote\"d") == "a\"b\\c\n\t\x01\x1f/\xc3\xa9");
  // Two values in a row at the top (a caller's list of documents) are separated, too.
  json_writer two;
  two.begin_array().end_array().begin_object().end_object();
  CHECK(two.take() == "[],{}");
}
