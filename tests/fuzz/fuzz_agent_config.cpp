// libFuzzer target for the agent's configuration file (agent.json): the schema's load and every
// reading of the loaded values the agent does (router and simulate settings).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aterm/agent/agent_config.h"
#include "aterm/common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace agent = aterm::agent;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto c = aterm::common::parse_config(in, "agent.json", agent::agent_config_schema());
  if (!c.ok()) return 0;
  (void)agent::router_settings_from(*c);
  (void)agent::simulate_settings_from(*c);
  return 0;
}
