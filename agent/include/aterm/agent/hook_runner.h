// Runs an operator-configured hook program (issue 3): fork + execve of an argv taken from the
// configuration, never a shell and never text from a message in the arguments; `input` (JSON) on
// stdin, stdout captured (bounded), a minimal environment, killed (whole process group) when it
// runs past `timeout`. Blocks the calling thread for at most `timeout`. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "aterm/common/status.h"

namespace aterm::agent {

struct hook_output {
  int exit_code = -1;
  std::string out;
};

// Errors: op_error::failed (common/command_table.h), its message saying which: no such
// program, fork failed, ran past its timeout, wrote too much. A non-zero exit is not an error
// here; callers look at exit_code.
common::result<hook_output> run_hook(const std::vector<std::string>& argv, const std::string& input,
                                     std::chrono::milliseconds timeout);

}  // namespace aterm::agent
