// Helpers of the fuzz targets: a scratch folder for the targets that read files, in RAM when
// /dev/shm exists (a target writes a file per input; fsync on tmpfs costs nothing).
#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>

#include "aterm/test/support.h"

namespace aterm::fuzz {

// One folder per process, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const test::temp_dir dir("aterm-fuzz",
                                  std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "");
  return dir.path();
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace aterm::fuzz
