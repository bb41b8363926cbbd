// Folders, ports and waiting: the parts of support.h that start no process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "aterm/test/support.h"
#include "loopback.h"

namespace aterm::test {

fs::path source_dir() {
  return ATERM_SOURCE_DIR;
}
fs::path build_dir() {
  return ATERM_BUILD_DIR;
}
fs::path binary(const std::string& relative) {
  return build_dir() / relative;
}

temp_dir::temp_dir(const std::string& prefix, const fs::path& parent) {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path base = !parent.empty()                  ? parent
                        : tmp != nullptr && *tmp != '\0' ? fs::path(tmp)
                                                         : fs::path("/tmp");
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = buf.data();
  // Traversable by others: Mosquitto started as root reads the public PKI files in here as the
  // user `mosquitto`. Private keys inside are 0600 on their own.
  ::chmod(path_.c_str(), 0755);
}

temp_dir::~temp_dir() {
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path write_script(const fs::path& dir, const std::string& name, const std::string& body) {
  const auto p = dir / name;
  std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
  ::chmod(p.c_str(), 0700);
  return p;
}

namespace detail {

bool on_loopback(int port, int (*op)(int, const sockaddr*, socklen_t)) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = op(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace detail

int free_port() {
  // Below the kernel's ephemeral range (32768-60999), so no outgoing connection of a test running
  // in parallel can hold the port as its local end, and random so parallel tests rarely collide.
  constexpr int k_first = 20000;
  constexpr int k_last = 32767;
  thread_local std::mt19937 gen(std::random_device{}());
  std::uniform_int_distribution<int> pick(k_first, k_last);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = pick(gen);
    if (detail::on_loopback(port, ::bind)) return port;
  }
  throw std::runtime_error("free_port: no free port in 20000-32767");
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(step);
  }
}

}  // namespace aterm::test
