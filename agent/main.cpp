// aterm-agent: argument parsing only; the logic lives in the aterm_agent library.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "aterm/agent/programs.h"

namespace {

int usage() {
  std::fputs(
      "usage: aterm-agent run --config FILE\n"
      "       aterm-agent login-check --config FILE --login-id ID   (password on stdin)\n"
      "       aterm-agent login-logout --config FILE --login-id ID\n"
      "       aterm-agent claim-code --config FILE\n",
      stderr);
#if ATERM_AGENT_SIMULATE
  std::fputs("       aterm-agent simulate --config FILE --count N [--id-prefix P]\n", stderr);
#endif
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string_view cmd = argv[1];
  std::string config, login_id, prefix = "sim-", count_text;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "--config")
      config = argv[++i];
    else if (a == "--login-id")
      login_id = argv[++i];
    else if (a == "--count")
      count_text = argv[++i];
    else if (a == "--id-prefix")
      prefix = argv[++i];
    else
      return usage();
  }
  if (config.empty()) return usage();
  if (cmd == "run") return aterm::agent::run_agent(config);
  if (cmd == "login-check") {
    if (login_id.empty()) return usage();
    return aterm::agent::login_check(config, login_id, std::cin);
  }
  if (cmd == "login-logout") {
    if (login_id.empty()) return usage();
    return aterm::agent::login_logout(config, login_id);
  }
  if (cmd == "claim-code") return aterm::agent::print_claim_code(config, std::cout);
  if (cmd == "simulate") {
#if ATERM_AGENT_SIMULATE
    char* end = nullptr;
    const long count = std::strtol(count_text.c_str(), &end, 10);
    if (count_text.empty() || *end != '\0' || count < 1) return usage();
    return aterm::agent::simulate(config, count, prefix);
#else
    std::fputs("aterm-agent: simulate is not in this build (ATERM_AGENT_SIMULATE=OFF)\n", stderr);
    return 2;
#endif
  }
  return usage();
}
