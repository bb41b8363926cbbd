// MQTT 3.1.1 packets as the agent's link writes and reads them: what a client of QoS 0 and 1
// needs, nothing more. Pure functions over bytes, no I/O, no threads. What the decoder reads
// comes from the network: every length is checked against what arrived and against the limit the
// reader was given, and a malformed packet is an error value, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aterm::agent::mqtt {

enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

enum class codec_error {
  none,
  need_more,         // not a whole packet yet (the reader waits for more bytes)
  malformed_length,  // a remaining length of more than four bytes
  too_large,         // a packet longer than the reader's limit
  malformed,         // a field runs past the packet, a bad flag or a length that does not add up
  unexpected,        // a packet a broker never sends to a client
};
// One string form each ("malformed remaining length", ...).
const char* to_string(codec_error e);

// The largest remaining length MQTT can express (four bytes of seven bits).
inline constexpr std::size_t k_max_remaining_length = 268'435'455;

struct connect_fields {
  std::string_view client_id;
  std::uint16_t keepalive_s = 60;
  bool clean_session = false;
  std::string_view will_topic;  // empty: no Last Will
  std::string_view will_payload;
  std::uint8_t will_qos = 1;
  bool will_retain = true;
};

// The append_* functions add one whole packet to `out`. REQUIRES: every string fits its 16-bit
// length and the packet fits k_max_remaining_length (publish_fits says so for a publish).
void append_connect(std::string& out, const connect_fields& c);
bool publish_fits(std::string_view topic, std::string_view payload);
void append_publish(std::string& out, std::string_view topic, std::string_view payload, int qos,
                    bool retain, bool dup, std::uint16_t packet_id);
void append_puback(std::string& out, std::uint16_t packet_id);
void append_subscribe(std::string& out, std::uint16_t packet_id, std::string_view filter, int qos);
void append_pingreq(std::string& out);
void append_disconnect(std::string& out);

// Decodes the fixed header at the start of `in`: the remaining length and how many bytes the
// header took (2 to 5). need_more while the length bytes are incomplete.
struct fixed_header {
  std::uint8_t first = 0;
  std::size_t remaining = 0;
  std::size_t header_bytes = 0;
};
codec_error decode_fixed_header(std::string_view in, fixed_header& out);

// One packet read off the stream. `body` points into the reader's buffer: valid until the next
// feed() or next().
struct packet {
  packet_type type = packet_type::connect;
  std::uint8_t flags = 0;
  std::string_view body;
};

// Cuts the byte stream into packets, refusing one longer than `max_packet` (fixed header
// included) as soon as its header says so, before buffering its body.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_packet) : max_packet_(max_packet) {}
  void feed(const void* data, std::size_t n);
  // none and `out` set; need_more; or an error after which the stream is unusable.
  codec_error next(packet& out);
  void clear();

 private:
  std::size_t max_packet_;
  std::string buf_;
  std::size_t start_ = 0;
};

struct publish_view {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
};
struct connack_view {
  bool session_present = false;
  std::uint8_t return_code = 0;
};
struct suback_view {
  std::uint16_t packet_id = 0;
  std::uint8_t first_return_code = 0;  // 0x80 when the broker refused the subscription
};

// Each checks the type's fixed-header flags and every length. `unexpected` for a packet type a
// broker never sends a client (CONNECT, SUBSCRIBE, PINGREQ, ...) or QoS 2 traffic, which the
// agent never asks for; UNSUBACK too, as the agent never unsubscribes.
codec_error parse_publish(const packet& p, publish_view& out);
codec_error parse_connack(const packet& p, connack_view& out);
codec_error parse_puback(const packet& p, std::uint16_t& packet_id);
codec_error parse_suback(const packet& p, suback_view& out);
codec_error check_pingresp(const packet& p);

}  // namespace aterm::agent::mqtt
