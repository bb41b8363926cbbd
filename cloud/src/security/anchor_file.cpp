#include "aterm/cloud/security/anchor_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace aterm::cloud::security {

namespace fs = std::filesystem;

common::status append_audit_anchor(const fs::path& file, const audit_anchor& a) {
  const std::string line = format_anchor(a);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return common::status::error("anchor", "open " + file.string() + ": " + std::strerror(errno));
  }
  ssize_t n = ::write(fd, line.data(), line.size());
  int e = errno;
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()) || !synced) {
    return common::status::error("anchor", "write " + file.string() + ": " + std::strerror(e));
  }
  return {};
}

common::result<std::vector<audit_anchor>> load_audit_anchors(const fs::path& file) {
  std::error_code ec;
  if (file.empty() || !fs::exists(file, ec)) return std::vector<audit_anchor>{};
  std::ifstream in(file, std::ios::binary);
  if (!in) return common::status::error("bad_anchor", "cannot read " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto anchors = parse_anchors(text);
  if (!anchors.ok()) {
    return common::status::error("bad_anchor", file.string() + ": " + anchors.error().message());
  }
  return anchors;
}

}  // namespace aterm::cloud::security
