// The one place in common/ that touches sockets. It does no I/O on them: it only finds the
// process's own TCP sockets by peer port and sets TCP_NODELAY, because Paho C 1.3.12 cannot.
#include "aterm/common/tcp_nodelay.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

namespace aterm::common {

int set_tcp_nodelay_for_peer_port(int peer_port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own_fd = ::dirfd(dir);
  int changed = 0;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long parsed = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || parsed < 0 || parsed == own_fd) continue;
    const int fd = static_cast<int>(parsed);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    int port = -1;
    if (peer.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port);
    } else if (peer.ss_family == AF_INET6) {
      port = ntohs(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_port);
    }
    if (port != peer_port) continue;
    const int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++changed;
  }
  ::closedir(dir);
  return changed;
}

}  // namespace aterm::common
