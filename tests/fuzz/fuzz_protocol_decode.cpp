// libFuzzer target for every decoder of external text in common/: the five MQTT message kinds,
// peek_command_id, topics, times and configuration. Property checked beyond "no crash": a
// decoded message re-encodes to text that decodes to the same encoding (encode is a fixed point),
// and the decoders' json_reader accepts what parse_json accepts and prints what it prints.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aterm/common/clock.h"
#include "aterm/common/config.h"
#include "aterm/common/json.h"
#include "aterm/common/json_reader.h"
#include "aterm/common/protocol.h"

namespace {

using namespace aterm::common;
namespace proto = aterm::common::protocol;

template <typename Decode>
void round_trip(std::string_view payload, Decode decode) {
  auto first = decode(payload, "dev-001");
  if (!first.ok()) return;
  const std::string text = proto::encode(*first);
  auto second = decode(text, "dev-001");
  if (!second.ok() || proto::encode(*second) != text) std::abort();
}

const config_schema& schema() {
  static const config_schema s = {
      {"device_id", config_type::string, {}, false, {}, {}},
      {"broker.uri", config_type::string, std::string("x"), false, {}, {}},
      {"state_interval_s", config_type::integer, std::int64_t{60}, false, 1, 86400},
      {"ratio", config_type::number, {}, false, {}, {}},
      {"debug", config_type::boolean, false, false, {}, {}},
      {"http.trusted_proxies", config_type::string_list, {}, false, {}, {}},
  };
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  round_trip(in,
             [](std::string_view p, std::string_view id) { return proto::decode_presence(p, id); });
  round_trip(in,
             [](std::string_view p, std::string_view id) { return proto::decode_state(p, id); });
  round_trip(in,
             [](std::string_view p, std::string_view id) { return proto::decode_command(p, id); });
  round_trip(in,
             [](std::string_view p, std::string_view id) { return proto::decode_result(p, id); });
  round_trip(in,
             [](std::string_view p, std::string_view id) { return proto::decode_event(p, id); });
  (void)proto::peek_command_id(in);
  (void)proto::parse_topic(in);
  (void)parse_iso8601(in);
  (void)parse_config(in, "fuzz.json", schema());
  auto tree = parse_json(in);
  if (tree.ok()) {
    // Printed JSON must parse again to the same text.
    const std::string text = print_json(tree->get());
    auto again = parse_json(text, {text.size() + 1, 16});
    if (!again.ok() || print_json(again->get()) != text) std::abort();
  }
  // The decoders' reader accepts exactly what parse_json accepts, and reads the same values.
  json_reader reader;
  const bool read = reader.parse(in).ok();
  if (read != tree.ok()) std::abort();
  if (read) {
    std::string text;
    reader.print(reader.root(), text);
    if (text != print_json(tree->get())) std::abort();
  }
  return 0;
}
