// Reading fixtures and scratch directories for unit_common.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace aterm::common::testing {

inline std::string read_fixture(const std::string& relative) {
  std::ifstream in(std::string(ATERM_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace aterm::common::testing
