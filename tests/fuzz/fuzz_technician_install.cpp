// libFuzzer target for the technician_login.install arguments as the router decodes them
// (login_store::install), then the store written by the install read back as at the agent's
// next start. Property checked beyond "no crash": an install that succeeded is found after the
// reload while it is still alive.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "aterm/agent/login_store.h"
#include "aterm/common/clock.h"
#include "aterm/common/json.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace agent = aterm::agent;
  static const aterm::common::manual_clock clock(aterm::common::from_unix_s(1'795'000'000));
  const std::filesystem::path file = aterm::fuzz::scratch_dir() / "logins.json";
  std::filesystem::remove(file);
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  auto store = agent::login_store::open(file, clock, "boot-1");
  if (!store.ok()) std::abort();
  if (!store->install(in).ok()) return 0;
  auto parsed = aterm::common::parse_json(in);
  if (!parsed.ok()) std::abort();
  const auto id = aterm::common::json_string(parsed->get(), "login_id");
  if (!id || !store->contains(*id)) std::abort();
  auto again = agent::login_store::open(file, clock, "boot-1");
  if (!again.ok() || !again->contains(*id)) std::abort();
  return 0;
}
