// The agent's MQTT packet codec: what it writes is what MQTT 3.1.1 says, and what it reads from
// the broker is refused cleanly when malformed or longer than the limit.
#include <doctest/doctest.h>

#include <string>

#include "mqtt/packet.h"

namespace mqtt = aterm::agent::mqtt;
using namespace std::string_literals;
using namespace std::string_view_literals;

TEST_CASE("the remaining length decodes one to four bytes and refuses a fifth") {
  struct row {
    std::string in;
    mqtt::codec_error e;
    std::size_t remaining;
    std::size_t header;
  };
  const row rows[] = {
      {"\x30\x00"s, mqtt::codec_error::none, 0, 2},
      {"\x30\x7f"s, mqtt::codec_error::none, 127, 2},
      {"\x30\x80\x01"s, mqtt::codec_error::none, 128, 3},
      {"\x30\xff\xff\xff\x7f"s, mqtt::codec_error::none, mqtt::k_max_remaining_length, 5},
      {"\x30\xff\xff\xff\xff\x01"s, mqtt::codec_error::malformed_length, 0, 0},
      {"\x30\xff\xff"s, mqtt::codec_error::need_more, 0, 0},
      {"\x30"s, mqtt::codec_error::need_more, 0, 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.remaining);
    mqtt::fixed_header h;
    CHECK(mqtt::decode_fixed_header(r.in, h) == r.e);
    if (r.e == mqtt::codec_error::none) {
      CHECK(h.remaining == r.remaining);
      CHECK(h.header_bytes == r.header);
    }
  }
}

TEST_CASE("a publish round-trips through the frame reader, fed a byte at a time") {
  std::string wire;
  mqtt::append_publish(wire, "aterm/v1/rt-01/result", std::string(300, 'x'), 1, true, false, 42);
  mqtt::append_puback(wire, 42);
  mqtt::frame_reader r(1024);
  mqtt::packet p;
  for (std::size_t i = 0; i + 1 < wire.size() - 4; ++i) {
    r.feed(&wire[i], 1);
    REQUIRE(r.next(p) == mqtt::codec_error::need_more);
  }
  r.feed(&wire[wire.size() - 5], 5);
  REQUIRE(r.next(p) == mqtt::codec_error::none);
  mqtt::publish_view v;
  REQUIRE(mqtt::parse_publish(p, v) == mqtt::codec_error::none);
  CHECK(v.topic == "aterm/v1/rt-01/result");
  CHECK(v.payload == std::string(300, 'x'));
  CHECK(v.qos == 1);
  CHECK(v.retain);
  CHECK(v.packet_id == 42);
  REQUIRE(r.next(p) == mqtt::codec_error::none);
  std::uint16_t id = 0;
  CHECK(mqtt::parse_puback(p, id) == mqtt::codec_error::none);
  CHECK(id == 42);
  CHECK(r.next(p) == mqtt::codec_error::need_more);
}

TEST_CASE("an oversized packet is refused from its header, before its body arrives") {
  std::string wire;
  mqtt::append_publish(wire, "t", std::string(2000, 'x'), 0, false, false, 0);
  mqtt::frame_reader r(1024);
  r.feed(wire.data(), 4);
  mqtt::packet p;
  CHECK(r.next(p) == mqtt::codec_error::too_large);
}

TEST_CASE("malformed packets from the broker are errors") {
  struct row {
    const char* what;
    std::string in;
  };
  const row rows[] = {
      {"QoS 3", "\x36\x05\x00\x01t\x00\x01"s},
      {"topic past the end", "\x32\x03\x00\x09t"s},
      {"QoS 1 without a packet id", "\x32\x03\x00\x01t"s},
      {"packet id 0", "\x32\x05\x00\x01t\x00\x00"s},
      {"empty topic", "\x30\x02\x00\x00"s},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    mqtt::frame_reader fr(1024);
    fr.feed(r.in.data(), r.in.size());
    mqtt::packet p;
    REQUIRE(fr.next(p) == mqtt::codec_error::none);
    mqtt::publish_view v;
    CHECK(mqtt::parse_publish(p, v) == mqtt::codec_error::malformed);
  }
  mqtt::packet connack{mqtt::packet_type::connack, 0, "\x00"sv};
  mqtt::connack_view c;
  CHECK(mqtt::parse_connack(connack, c) == mqtt::codec_error::malformed);
  mqtt::packet qos2{mqtt::packet_type::publish, 0x04, "\x00\x01t\x00\x01"sv};
  mqtt::publish_view v;
  CHECK(mqtt::parse_publish(qos2, v) == mqtt::codec_error::unexpected);
}

TEST_CASE("CONNECT carries clean session off, the keepalive and a retained QoS 1 will") {
  std::string wire;
  mqtt::connect_fields c;
  c.client_id = "rt-01";
  c.keepalive_s = 60;
  c.will_topic = "w";
  c.will_payload = "p";
  mqtt::append_connect(wire, c);
  const std::string expected =
      "\x10\x17\x00\x04MQTT\x04\x2c\x00\x3c\x00\x05rt-01\x00\x01w\x00\x01p"s;
  CHECK(wire == expected);
}
