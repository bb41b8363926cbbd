// aterm-cloud: splits argv into words, --options with values and --flags; the verbs are in
// cloud/src/cli (cli.h).
#include <iostream>
#include <string>
#include <string_view>

#include "aterm/cloud/cli.h"

namespace {
// Options that never take a value.
bool is_flag(std::string_view name) {
  return name == "dry-run" || name == "help";
}
}  // namespace

int main(int argc, char** argv) {
  aterm::cloud::cli::invocation inv;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      std::string name(arg.substr(2));
      if (auto eq = name.find('='); eq != std::string::npos) {
        inv.options[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (!is_flag(name) && i + 1 < argc &&
                 std::string_view(argv[i + 1]).substr(0, 2) != "--") {
        inv.options[name] = argv[++i];
      } else {
        inv.flags.insert(name);
      }
    } else {
      inv.words.emplace_back(arg);
    }
  }
  return aterm::cloud::cli::run(inv, std::cout, std::cerr);
}
