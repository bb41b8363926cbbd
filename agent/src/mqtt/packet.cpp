#include "mqtt/packet.h"

#include <cassert>

namespace aterm::agent::mqtt {

namespace {

constexpr std::uint8_t k_publish_dup = 0x08;
constexpr std::uint8_t k_publish_retain = 0x01;
// SUBSCRIBE's fixed-header flags are fixed by the protocol (3.1.1, 3.8.1).
constexpr std::uint8_t k_subscribe_flags = 0x02;

void append_u16(std::string& out, std::size_t v) {
  assert(v <= 0xFFFF);
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

void append_string(std::string& out, std::string_view s) {
  append_u16(out, s.size());
  out.append(s);
}

void append_header(std::string& out, packet_type t, std::uint8_t flags, std::size_t remaining) {
  assert(remaining <= k_max_remaining_length);
  out.push_back(static_cast<char>((static_cast<std::uint8_t>(t) << 4) | flags));
  do {
    auto byte = static_cast<std::uint8_t>(remaining % 128);
    remaining /= 128;
    if (remaining > 0) byte = static_cast<std::uint8_t>(byte | 0x80);
    out.push_back(static_cast<char>(byte));
  } while (remaining > 0);
}

// A cursor over a packet body: every read checks the bytes left.
class body_reader {
 public:
  explicit body_reader(std::string_view b) : b_(b) {}
  bool u8(std::uint8_t& v) {
    if (b_.empty()) return false;
    v = static_cast<std::uint8_t>(b_[0]);
    b_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (b_.size() < 2) return false;
    v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(b_[0]) << 8) |
                                   static_cast<std::uint8_t>(b_[1]));
    b_.remove_prefix(2);
    return true;
  }
  bool string(std::string_view& s) {
    std::uint16_t n = 0;
    if (!u16(n) || b_.size() < n) return false;
    s = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return b_; }

 private:
  std::string_view b_;
};

}  // namespace

const char* to_string(codec_error e) {
  switch (e) {
    case codec_error::none:
      return "ok";
    case codec_error::need_more:
      return "incomplete packet";
    case codec_error::malformed_length:
      return "malformed remaining length";
    case codec_error::too_large:
      return "packet larger than the limit";
    case codec_error::malformed:
      return "malformed packet";
    case codec_error::unexpected:
      return "unexpected packet type";
  }
  return "unknown";
}

void append_connect(std::string& out, const connect_fields& c) {
  const bool will = !c.will_topic.empty();
  std::size_t remaining = 10 + 2 + c.client_id.size();
  if (will) remaining += 2 + c.will_topic.size() + 2 + c.will_payload.size();
  append_header(out, packet_type::connect, 0, remaining);
  append_string(out, "MQTT");
  out.push_back(4);  // protocol level 3.1.1
  std::uint8_t flags = 0;
  if (c.clean_session) flags |= 0x02;
  if (will) {
    flags = static_cast<std::uint8_t>(flags | 0x04 | ((c.will_qos & 0x03) << 3));
    if (c.will_retain) flags |= 0x20;
  }
  out.push_back(static_cast<char>(flags));
  append_u16(out, c.keepalive_s);
  append_string(out, c.client_id);
  if (will) {
    append_string(out, c.will_topic);
    append_string(out, c.will_payload);
  }
}

bool publish_fits(std::string_view topic, std::string_view payload) {
  return topic.size() <= 0xFFFF && payload.size() <= k_max_remaining_length - 4 - topic.size();
}

void append_publish(std::string& out, std::string_view topic, std::string_view payload, int qos,
                    bool retain, bool dup, std::uint16_t packet_id) {
  assert(publish_fits(topic, payload));
  std::uint8_t flags = static_cast<std::uint8_t>((qos & 0x03) << 1);
  if (retain) flags |= k_publish_retain;
  if (dup) flags |= k_publish_dup;
  append_header(out, packet_type::publish, flags,
                2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size());
  append_string(out, topic);
  if (qos > 0) append_u16(out, packet_id);
  out.append(payload);
}

void append_puback(std::string& out, std::uint16_t packet_id) {
  append_header(out, packet_type::puback, 0, 2);
  append_u16(out, packet_id);
}

void append_subscribe(std::string& out, std::uint16_t packet_id, std::string_view filter, int qos) {
  append_header(out, packet_type::subscribe, k_subscribe_flags, 2 + 2 + filter.size() + 1);
  append_u16(out, packet_id);
  append_string(out, filter);
  out.push_back(static_cast<char>(qos & 0x03));
}

void append_pingreq(std::string& out) {
  append_header(out, packet_type::pingreq, 0, 0);
}

void append_disconnect(std::string& out) {
  append_header(out, packet_type::disconnect, 0, 0);
}

codec_error decode_fixed_header(std::string_view in, fixed_header& out) {
  if (in.empty()) return codec_error::need_more;
  std::size_t value = 0;
  std::size_t multiplier = 1;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (i >= in.size()) return codec_error::need_more;
    const auto byte = static_cast<std::uint8_t>(in[i]);
    value += (byte & 0x7Fu) * multiplier;
    if ((byte & 0x80u) == 0) {
      out.first = static_cast<std::uint8_t>(in[0]);
      out.remaining = value;
      out.header_bytes = i + 1;
      return codec_error::none;
    }
    multiplier *= 128;
  }
  return codec_error::malformed_length;
}

void frame_reader::feed(const void* data, std::size_t n) {
  // Consumed bytes are dropped before new ones are added, so the buffer holds at most one packet
  // and what follows it in the same read.
  if (start_ > 0) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(static_cast<const char*>(data), n);
}

codec_error frame_reader::next(packet& out) {
  const std::string_view rest = std::string_view(buf_).substr(start_);
  fixed_header h;
  const auto e = decode_fixed_header(rest, h);
  if (e != codec_error::none) return e;
  if (h.remaining > max_packet_ || h.header_bytes + h.remaining > max_packet_)
    return codec_error::too_large;
  if (rest.size() < h.header_bytes + h.remaining) return codec_error::need_more;
  const auto type = static_cast<std::uint8_t>(h.first >> 4);
  if (type < static_cast<std::uint8_t>(packet_type::connect) ||
      type > static_cast<std::uint8_t>(packet_type::disconnect))
    return codec_error::malformed;
  out.type = static_cast<packet_type>(type);
  out.flags = static_cast<std::uint8_t>(h.first & 0x0F);
  out.body = rest.substr(h.header_bytes, h.remaining);
  start_ += h.header_bytes + h.remaining;
  return codec_error::none;
}

void frame_reader::clear() {
  buf_.clear();
  start_ = 0;
}

codec_error parse_publish(const packet& p, publish_view& out) {
  if (p.type != packet_type::publish) return codec_error::unexpected;
  const int qos = (p.flags >> 1) & 0x03;
  if (qos == 3) return codec_error::malformed;
  if (qos == 2) return codec_error::unexpected;
  body_reader r(p.body);
  publish_view v;
  v.qos = qos;
  v.retain = (p.flags & k_publish_retain) != 0;
  v.dup = (p.flags & k_publish_dup) != 0;
  if (!r.string(v.topic) || v.topic.empty()) return codec_error::malformed;
  if (qos > 0 && (!r.u16(v.packet_id) || v.packet_id == 0)) return codec_error::malformed;
  v.payload = r.rest();
  out = v;
  return codec_error::none;
}

codec_error parse_connack(const packet& p, connack_view& out) {
  if (p.type != packet_type::connack) return codec_error::unexpected;
  if (p.flags != 0 || p.body.size() != 2) return codec_error::malformed;
  const auto ack_flags = static_cast<std::uint8_t>(p.body[0]);
  if ((ack_flags & 0xFE) != 0) return codec_error::malformed;
  out.session_present = (ack_flags & 0x01) != 0;
  out.return_code = static_cast<std::uint8_t>(p.body[1]);
  return codec_error::none;
}

codec_error parse_puback(const packet& p, std::uint16_t& packet_id) {
  if (p.type != packet_type::puback) return codec_error::unexpected;
  body_reader r(p.body);
  if (p.flags != 0 || p.body.size() != 2 || !r.u16(packet_id)) return codec_error::malformed;
  return codec_error::none;
}

codec_error parse_suback(const packet& p, suback_view& out) {
  if (p.type != packet_type::suback) return codec_error::unexpected;
  body_reader r(p.body);
  if (p.flags != 0 || !r.u16(out.packet_id) || !r.u8(out.first_return_code))
    return codec_error::malformed;
  return codec_error::none;
}

codec_error check_pingresp(const packet& p) {
  if (p.type != packet_type::pingresp) return codec_error::unexpected;
  if (p.flags != 0 || !p.body.empty()) return codec_error::malformed;
  return codec_error::none;
}

}  // namespace aterm::agent::mqtt
