// libFuzzer target for the agent's MQTT packet decoder (agent/src/mqtt/packet.h): the bytes a
// broker, or whoever sits between it and the router, sends. The input is cut into the reads of a
// socket (its first byte picks the read size) and fed to a frame_reader as the link does; every
// packet is given to the parser of its type. Properties checked beyond "no crash": a packet is
// never longer than the reader's limit, a decoded publish lies inside its packet, and a publish
// re-encoded decodes to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mqtt/packet.h"

namespace {

namespace mqtt = aterm::agent::mqtt;

// Small, so the fuzzer reaches the too_large refusal without megabytes of input.
constexpr std::size_t k_limit = 512;

void check_publish(const mqtt::packet& p) {
  mqtt::publish_view v;
  if (mqtt::parse_publish(p, v) != mqtt::codec_error::none) return;
  const char* begin = p.body.data();
  const char* end = begin + p.body.size();
  if (v.topic.data() < begin || v.topic.data() + v.topic.size() > end) std::abort();
  if (v.payload.data() < begin || v.payload.data() + v.payload.size() > end) std::abort();
  std::string again;
  mqtt::append_publish(again, v.topic, v.payload, v.qos, v.retain, v.dup, v.packet_id);
  mqtt::frame_reader r(again.size());
  r.feed(again.data(), again.size());
  mqtt::packet q;
  mqtt::publish_view w;
  if (r.next(q) != mqtt::codec_error::none || mqtt::parse_publish(q, w) != mqtt::codec_error::none)
    std::abort();
  if (w.topic != v.topic || w.payload != v.payload || w.qos != v.qos || w.retain != v.retain ||
      w.dup != v.dup || w.packet_id != v.packet_id)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = static_cast<std::size_t>(data[0] % 64) + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  mqtt::frame_reader reader(k_limit);
  while (!in.empty()) {
    const auto n = in.size() < chunk ? in.size() : chunk;
    reader.feed(in.data(), n);
    in.remove_prefix(n);
    for (;;) {
      mqtt::packet p;
      const auto e = reader.next(p);
      if (e == mqtt::codec_error::need_more) break;
      if (e != mqtt::codec_error::none) return 0;  // the link ends the connection here
      if (p.body.size() > k_limit) std::abort();
      mqtt::connack_view c;
      mqtt::suback_view s;
      std::uint16_t id = 0;
      switch (p.type) {
        case mqtt::packet_type::publish:
          check_publish(p);
          break;
        case mqtt::packet_type::connack:
          (void)mqtt::parse_connack(p, c);
          break;
        case mqtt::packet_type::puback:
          (void)mqtt::parse_puback(p, id);
          break;
        case mqtt::packet_type::suback:
          (void)mqtt::parse_suback(p, s);
          break;
        default:
          (void)mqtt::check_pingresp(p);
          break;
      }
    }
  }
  return 0;
}
