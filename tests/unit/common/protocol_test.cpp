#include <doctest/doctest.h>

#include <string>

#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "test_files.h"

using namespace aterm::common;
using namespace aterm::common::protocol;

TEST_CASE("id patterns") {
  struct row {
    std::string id;
    bool device, command;
  };
  const row rows[] = {
      {"abc", true, true},
      {"ab", false, true},
      {"a", false, true},
      {"", false, false},
      {"router-01_A", true, true},
      {"-abc", false, false},
      {"_abc", false, false},
      {"abc/def", false, false},
      {"abc+", false, false},
      {"abc#", false, false},
      {"cmd.1:2", false, true},
      {std::string(64, 'a'), true, true},
      {std::string(65, 'a'), false, false},
      {"r\xc3\xa9seau", false, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.id);
    CHECK(valid_device_id(r.id) == r.device);
    CHECK(valid_command_id(r.id) == r.command);
  }
  CHECK(valid_name("ping"));
  CHECK(valid_name("technician_login.install"));
  CHECK(valid_name("a"));
  CHECK_FALSE(valid_name("Ping"));
  CHECK_FALSE(valid_name("1ping"));
  CHECK_FALSE(valid_name("ping-x"));
  CHECK_FALSE(valid_name(""));
  CHECK_FALSE(valid_name(std::string(65, 'a')));
}

TEST_CASE("topics") {
  CHECK(topic("dev-001", topic_kind::presence) == "aterm/v1/dev-001/presence");
  CHECK(topic("dev-001", topic_kind::cmd) == "aterm/v1/dev-001/cmd");
  CHECK(topic_filter(topic_kind::state) == "aterm/v1/+/state");
  for (auto k : {topic_kind::presence, topic_kind::state, topic_kind::cmd, topic_kind::result,
                 topic_kind::event}) {
    auto p = parse_topic(topic("dev-001", k));
    REQUIRE(p.ok());
    CHECK(p->device_id == "dev-001");
    CHECK(p->kind == k);
  }
  for (const char* bad : {"aterm/v2/dev-001/state", "aterm/v1/dev-001", "aterm/v1/dev-001/state/x",
                          "aterm/v1/dev-001/status", "aterm/v1/+/state", "aterm/v1/ab/state",
                          "aterm/v1//state", "", "aterm/v1/", "xaterm/v1/dev-001/state"}) {
    CAPTURE(bad);
    auto p = parse_topic(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code() == "bad_topic");
  }
}

TEST_CASE("result status names") {
  for (auto s : {result_status::ok, result_status::error, result_status::rejected,
                 result_status::expired, result_status::unsupported, result_status::progress}) {
    CHECK(parse_result_status(to_string(s)) == s);
  }
  CHECK_FALSE(parse_result_status("OK").has_value());
  CHECK_FALSE(parse_result_status("").has_value());
  CHECK(is_final(result_status::rejected));
  CHECK_FALSE(is_final(result_status::progress));
}

TEST_CASE("presence round trip and exact format") {
  presence p{true, "0.1.0", 1767225600};
  const std::string text = encode(p);
  CHECK(text == R"({"v":1,"online":true,"agent":"0.1.0","ts":1767225600})");
  auto back = decode_presence(text, "dev-001");
  REQUIRE(back.ok());
  CHECK(back->online);
  CHECK(back->agent == "0.1.0");
  CHECK(back->ts == 1767225600);
  p.online = false;
  auto off = decode_presence(encode(p));
  REQUIRE(off.ok());
  CHECK_FALSE(off->online);
}

TEST_CASE("state round trip: full and minimal") {
  state_snapshot s;
  s.ts = 1767225600;
  s.seq = 42;
  s.model = "WX3000HP";
  s.fw = "1.2.3";
  s.uptime_s = 3600;
  s.wan_ip = "203.0.113.7";
  s.wan_up = true;
  s.lan_clients = 5;
  s.cpu_load1 = 0.25;
  s.mem_total_kb = 262144;
  s.mem_free_kb = 100000;
  s.config_rev = 7;
  const std::string text = encode(s);
  CHECK(text ==
        R"({"v":1,"ts":1767225600,"seq":42,"model":"WX3000HP","fw":"1.2.3","uptime_s":3600,)"
        R"("wan":{"ip":"203.0.113.7","up":true},"lan":{"clients":5},"cpu":{"load1":0.25},)"
        R"("mem":{"total_kb":262144,"free_kb":100000},"config_rev":7})");
  auto back = decode_state(text);
  REQUIRE(back.ok());
  CHECK(back->ts == s.ts);
  CHECK(back->seq == s.seq);
  CHECK(back->model == s.model);
  CHECK(back->fw == s.fw);
  CHECK(back->uptime_s == s.uptime_s);
  CHECK(back->wan_ip == s.wan_ip);
  CHECK(back->wan_up == s.wan_up);
  CHECK(back->lan_clients == s.lan_clients);
  CHECK(back->cpu_load1 == s.cpu_load1);
  CHECK(back->mem_total_kb == s.mem_total_kb);
  CHECK(back->mem_free_kb == s.mem_free_kb);
  CHECK(back->config_rev == s.config_rev);

  state_snapshot minimal;
  minimal.ts = 1;
  minimal.seq = 0;
  minimal.wan_up = false;
  minimal.mem_free_kb = 1;
  const std::string mtext = encode(minimal);
  CHECK(mtext == R"({"v":1,"ts":1,"seq":0,"wan":{"up":false},"mem":{"free_kb":1}})");
  auto mback = decode_state(mtext);
  REQUIRE(mback.ok());
  CHECK_FALSE(mback->model.has_value());
  CHECK_FALSE(mback->wan_ip.has_value());
  CHECK(mback->wan_up == false);
  CHECK_FALSE(mback->mem_total_kb.has_value());
  CHECK(mback->mem_free_kb == 1);
  CHECK_FALSE(mback->cpu_load1.has_value());
}

TEST_CASE("command round trip with optional args") {
  command c{"cmd-1", "config.set", R"({ "rev" : 3, "values" : {"wifi.ssid":"x"} })", 1767225660};
  const std::string text = encode(c);
  CHECK(text ==
        R"({"v":1,"id":"cmd-1","op":"config.set","args":{"rev":3,"values":{"wifi.ssid":"x"}},)"
        R"("deadline":1767225660})");
  auto back = decode_command(text, "dev-001");
  REQUIRE(back.ok());
  CHECK(back->id == "cmd-1");
  CHECK(back->op == "config.set");
  CHECK(back->args_json == R"({"rev":3,"values":{"wifi.ssid":"x"}})");
  CHECK(back->deadline == 1767225660);
  auto no_args = decode_command(R"({"v":1,"id":"c1","op":"ping","deadline":5})");
  REQUIRE(no_args.ok());
  CHECK(no_args->args_json == "{}");
}

TEST_CASE("result round trip and error truncated on a UTF-8 boundary") {
  command_result r{"cmd-1", result_status::ok, R"({"pong":true})", ""};
  const std::string text = encode(r);
  CHECK(text == R"({"v":1,"id":"cmd-1","status":"ok","result":{"pong":true}})");
  auto back = decode_result(text);
  REQUIRE(back.ok());
  CHECK(back->status == result_status::ok);
  CHECK(back->result_json == R"({"pong":true})");
  CHECK(back->error.empty());

  command_result e{"cmd-2", result_status::rejected, "{}", "rev mismatch: \"3\"\n"};
  auto eback = decode_result(encode(e));
  REQUIRE(eback.ok());
  CHECK(eback->status == result_status::rejected);
  CHECK(eback->error == e.error);

  std::string long_error = "x";
  while (long_error.size() < 3000) long_error += "\xe3\x81\x82";  // あ
  command_result l{"cmd-3", result_status::error, "{}", long_error};
  auto lback = decode_result(encode(l));
  REQUIRE(lback.ok());
  CHECK(lback->error.size() <= 1024);
  CHECK(lback->error.size() >= 1021);
  CHECK(valid_utf8(lback->error));

  auto min = decode_result(R"({"v":1,"id":"c","status":"progress"})");
  REQUIRE(min.ok());
  CHECK(min->result_json == "{}");
  CHECK(min->status == result_status::progress);
}

TEST_CASE("event round trip keeps extra fields") {
  event e{1767225600, "technician_login.failed", R"({"login_id":"T-ABCDEFGH","failures":2})"};
  const std::string text = encode(e);
  CHECK(text ==
        R"({"v":1,"ts":1767225600,"type":"technician_login.failed","login_id":"T-ABCDEFGH",)"
        R"("failures":2})");
  auto back = decode_event(text, "dev-001");
  REQUIRE(back.ok());
  CHECK(back->ts == e.ts);
  CHECK(back->type == e.type);
  CHECK(back->fields_json == R"({"login_id":"T-ABCDEFGH","failures":2})");
  auto plain = decode_event(R"({"v":1,"ts":5,"type":"boot"})");
  REQUIRE(plain.ok());
  CHECK(plain->fields_json == "{}");
  event shadow{9, "boot", R"({"v":2,"ts":1,"type":"x","k":"v"})"};
  CHECK(encode(shadow) == R"({"v":1,"ts":9,"type":"boot","k":"v"})");
}

TEST_CASE("device_id in the payload must match the topic") {
  const std::string mine = R"({"v":1,"online":true,"agent":"1","ts":1,"device_id":"dev-001"})";
  CHECK(decode_presence(mine, "dev-001").ok());
  CHECK(decode_presence(mine).ok());
  auto other = decode_presence(mine, "dev-002");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code() == "id_mismatch");
  auto ev = decode_event(R"({"v":1,"ts":1,"type":"boot","device_id":"evil-1"})", "dev-001");
  REQUIRE_FALSE(ev.ok());
  CHECK(ev.error().code() == "id_mismatch");
  auto typed = decode_state(R"({"v":1,"ts":1,"seq":1,"device_id":5})", "dev-001");
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.error().code() == "wrong_type");
}

namespace {

enum class kind { presence, state, cmd, result, event };

std::string decode_code(kind k, const std::string& payload) {
  switch (k) {
    case kind::presence: {
      auto r = decode_presence(payload, "dev-001");
      return r.ok() ? "ok" : r.error().code();
    }
    case kind::state: {
      auto r = decode_state(payload, "dev-001");
      return r.ok() ? "ok" : r.error().code();
    }
    case kind::cmd: {
      auto r = decode_command(payload, "dev-001");
      return r.ok() ? "ok" : r.error().code();
    }
    case kind::result: {
      auto r = decode_result(payload, "dev-001");
      return r.ok() ? "ok" : r.error().code();
    }
    case kind::event: {
      auto r = decode_event(payload, "dev-001");
      return r.ok() ? "ok" : r.error().code();
    }
  }
  return "?";
}

std::string decode_message(kind k, const std::string& payload) {
  switch (k) {
    case kind::presence:
      return decode_presence(payload).error().message();
    case kind::state:
      return decode_state(payload).error().message();
    case kind::cmd:
      return decode_command(payload).error().message();
    case kind::result:
      return decode_result(payload).error().message();
    case kind::event:
      return decode_event(payload).error().message();
  }
  return "?";
}

}  // namespace

TEST_CASE("decoders refuse hostile and malformed payloads with a clear code") {
  struct row {
    kind k;
    std::string payload;
    std::string code;
    std::string field;  // named in the message when not empty
  };
  const row rows[] = {
      // truncated and not JSON
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":1)", "bad_json", ""},
      {kind::presence, "", "bad_json", ""},
      {kind::presence, "null", "bad_json", ""},
      {kind::presence, "[1]", "bad_json", ""},
      {kind::presence, R"("v")", "bad_json", ""},
      // version
      {kind::presence, R"({"online":true,"agent":"1","ts":1})", "missing_field", "v"},
      {kind::presence, R"({"v":2,"online":true,"agent":"1","ts":1})", "bad_version", "v"},
      {kind::presence, R"({"v":0,"online":true,"agent":"1","ts":1})", "bad_version", "v"},
      {kind::presence, R"({"v":"1","online":true,"agent":"1","ts":1})", "wrong_type", "v"},
      {kind::presence, R"({"v":1.5,"online":true,"agent":"1","ts":1})", "wrong_type", "v"},
      {kind::cmd, R"({"v":2,"id":"c","op":"ping","deadline":1})", "bad_version", "v"},
      // presence fields
      {kind::presence, R"({"v":1,"agent":"1","ts":1})", "missing_field", "online"},
      {kind::presence, R"({"v":1,"online":1,"agent":"1","ts":1})", "wrong_type", "online"},
      {kind::presence, R"({"v":1,"online":true,"ts":1})", "missing_field", "agent"},
      {kind::presence, R"({"v":1,"online":true,"agent":7,"ts":1})", "wrong_type", "agent"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1"})", "missing_field", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":1.5})", "wrong_type", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":"1"})", "wrong_type", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":-1})", "bad_value", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":1e18})", "bad_value", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":"1","ts":1e19})", "wrong_type", "ts"},
      {kind::presence, R"({"v":1,"online":true,"agent":")" + std::string(65, 'a') + R"(","ts":1})",
       "bad_value", "agent"},
      // state fields
      {kind::state, R"({"v":1,"seq":1})", "missing_field", "ts"},
      {kind::state, R"({"v":1,"ts":1})", "missing_field", "seq"},
      {kind::state, R"({"v":1,"ts":1,"seq":-1})", "bad_value", "seq"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"model":1})", "wrong_type", "model"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"fw":null})", "wrong_type", "fw"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"uptime_s":1.5})", "wrong_type", "uptime_s"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"wan":"up"})", "wrong_type", "wan"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"wan":{"ip":1}})", "wrong_type", "wan.ip"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"wan":{"up":"yes"}})", "wrong_type", "wan.up"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"lan":{"clients":"5"}})", "wrong_type", "lan.clients"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"cpu":{"load1":"0.5"}})", "wrong_type", "cpu.load1"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"cpu":[]})", "wrong_type", "cpu"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"mem":{"total_kb":1.5}})", "wrong_type",
       "mem.total_kb"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"mem":{"free_kb":-5}})", "bad_value", "mem.free_kb"},
      {kind::state, R"({"v":1,"ts":1,"seq":1,"config_rev":true})", "wrong_type", "config_rev"},
      // command fields
      {kind::cmd, R"({"v":1,"op":"ping","deadline":1})", "missing_field", "id"},
      {kind::cmd, R"({"v":1,"id":5,"op":"ping","deadline":1})", "wrong_type", "id"},
      {kind::cmd, R"({"v":1,"id":"a/b","op":"ping","deadline":1})", "bad_value", "id"},
      {kind::cmd, R"({"v":1,"id":"","op":"ping","deadline":1})", "bad_value", "id"},
      {kind::cmd, R"({"v":1,"id":"c","deadline":1})", "missing_field", "op"},
      {kind::cmd, R"({"v":1,"id":"c","op":"Ping","deadline":1})", "bad_value", "op"},
      {kind::cmd, R"({"v":1,"id":"c","op":"ping","args":[],"deadline":1})", "wrong_type", "args"},
      {kind::cmd, R"({"v":1,"id":"c","op":"ping","args":"{}","deadline":1})", "wrong_type", "args"},
      {kind::cmd, R"({"v":1,"id":"c","op":"ping"})", "missing_field", "deadline"},
      {kind::cmd, R"({"v":1,"id":"c","op":"ping","deadline":1.25})", "wrong_type", "deadline"},
      // result fields
      {kind::result, R"({"v":1,"status":"ok"})", "missing_field", "id"},
      {kind::result, R"({"v":1,"id":"c"})", "missing_field", "status"},
      {kind::result, R"({"v":1,"id":"c","status":"done"})", "bad_value", "status"},
      {kind::result, R"({"v":1,"id":"c","status":1})", "wrong_type", "status"},
      {kind::result, R"({"v":1,"id":"c","status":"ok","result":[1]})", "wrong_type", "result"},
      {kind::result, R"({"v":1,"id":"c","status":"ok","error":{}})", "wrong_type", "error"},
      // event fields
      {kind::event, R"({"v":1,"type":"boot"})", "missing_field", "ts"},
      {kind::event, R"({"v":1,"ts":1})", "missing_field", "type"},
      {kind::event, R"({"v":1,"ts":1,"type":"Boot!"})", "bad_value", "type"},
      {kind::event, R"({"v":1,"ts":1,"type":["boot"]})", "wrong_type", "type"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.payload);
    CHECK(decode_code(r.k, r.payload) == r.code);
    if (!r.field.empty()) {
      CHECK(decode_message(r.k, r.payload).find("\"" + r.field + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("hostile fixtures under tests/data/protocol") {
  struct row {
    const char* file;
    kind k;
    const char* code;
  };
  const row rows[] = {
      {"deep_nesting_10k_arrays.json", kind::event, "bad_json"},
      {"deep_nesting_10k_unclosed.json", kind::state, "bad_json"},
      {"number_overflow_1e400.json", kind::presence, "bad_json"},
      {"number_negative_overflow.json", kind::state, "bad_json"},
      {"utf8_overlong_slash.json", kind::presence, "bad_json"},
      {"utf8_overlong_nul.json", kind::presence, "bad_json"},
      {"utf8_surrogate.json", kind::presence, "bad_json"},
      {"utf8_truncated.json", kind::presence, "bad_json"},
      {"utf8_truncated_at_end.json", kind::presence, "bad_json"},
      {"utf8_above_max.json", kind::presence, "bad_json"},
      {"trailing_garbage.json", kind::presence, "bad_json"},
      {"two_values.json", kind::presence, "bad_json"},
      {"embedded_nul.json", kind::presence, "bad_json"},
      {"raw_newline_in_string.json", kind::presence, "bad_json"},
      {"escaped_nul_in_string.json", kind::presence, "bad_json"},
      {"duplicate_key.json", kind::presence, "bad_json"},
      {"brackets_inside_strings.json", kind::event, "ok"},
      {"valid_presence.json", kind::presence, "ok"},
      {"valid_state.json", kind::state, "ok"},
      {"valid_result.json", kind::result, "ok"},
      {"valid_event.json", kind::event, "ok"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.file);
    const std::string payload = testing::read_fixture(std::string("protocol/") + r.file);
    REQUIRE_FALSE(payload.empty());
    CHECK(decode_code(r.k, payload) == r.code);
    if (std::string_view(r.code) != "ok") CHECK_FALSE(peek_command_id(payload).has_value());
  }
  const std::string cmd = testing::read_fixture("protocol/valid_cmd.json");
  CHECK(decode_code(kind::cmd, cmd) == "ok");
  CHECK(peek_command_id(cmd) == "cmd-1");
}

TEST_CASE("payload size limit - 64 KiB accepted and 65 KiB refused as too_large") {
  const std::string head = R"({"v":1,"ts":1,"type":"boot","pad":")";
  const std::string tail = R"("})";
  const std::string exact = head + std::string(64 * 1024 - head.size() - tail.size(), 'x') + tail;
  REQUIRE(exact.size() == 64 * 1024);
  CHECK(decode_event(exact).ok());
  const std::string big = head + std::string(65 * 1024, 'x') + tail;
  for (kind k : {kind::presence, kind::state, kind::cmd, kind::result, kind::event}) {
    CHECK(decode_code(k, big) == "too_large");
  }
  CHECK_FALSE(peek_command_id(big).has_value());
}

TEST_CASE("peek_command_id") {
  CHECK(peek_command_id(R"({"v":9,"id":"cmd-7","op":"BAD"})") == "cmd-7");
  CHECK(peek_command_id(R"({"id":"cmd-7"})") == "cmd-7");
  CHECK_FALSE(peek_command_id(R"({"id":"a b"})").has_value());
  CHECK_FALSE(peek_command_id(R"({"id":7})").has_value());
  CHECK_FALSE(peek_command_id(R"(["cmd-7"])").has_value());
  CHECK_FALSE(peek_command_id(R"({"id":"cmd-7")").has_value());
}
