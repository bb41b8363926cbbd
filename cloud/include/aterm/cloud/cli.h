// The verbs of `aterm-cloud` (DESIGN.md section 7). main.cpp only splits argv into an
// invocation; everything else is here so tests can run verbs in-process.
//
// Each admin verb prints one JSON object on stdout (a generated password appears there once,
// as "password"); on error it prints a message on stderr, exits non-zero and changes nothing.
// Exit codes: 0 ok, 1 refused or failed (or `audit verify`: chain broken), 2 usage error.
//
// To add a verb: one line in the table of cli.cpp naming its words and a function
// `int (const invocation&, std::ostream& out, std::ostream& err)`.
#pragma once

#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace aterm::cloud::cli {

struct invocation {
  // Words that are not options, in order: the verb ("admin", "company", "create") and then
  // positional arguments (e.g. the FILE of `restore`).
  std::vector<std::string> words;
  std::map<std::string, std::string> options;  // "--config F" -> {"config", "F"}
  std::set<std::string> flags;                 // "--dry-run" (an option without a value)
};

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;

// Runs the verb named by inv.words; returns the exit code.
int run(const invocation& inv, std::ostream& out, std::ostream& err);

// The words after the verb (positional arguments). Valid inside a verb's function.
std::vector<std::string> positional(const invocation& inv, std::size_t verb_words);

std::string usage();

}  // namespace aterm::cloud::cli
