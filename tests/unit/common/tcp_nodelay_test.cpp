#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aterm/common/tcp_nodelay.h"

using namespace aterm::common;

namespace {

int nodelay(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0);
  return v;
}

}  // namespace

TEST_CASE("TCP_NODELAY is set on the sockets whose peer has the port and only those") {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);

  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const int server_side = ::accept(listener, nullptr, nullptr);
  REQUIRE(server_side >= 0);
  CHECK(nodelay(client) == 0);
  CHECK(nodelay(server_side) == 0);

  CHECK(set_tcp_nodelay_for_peer_port(port == 1 ? 2 : 1) == 0);
  CHECK(nodelay(client) == 0);
  CHECK(set_tcp_nodelay_for_peer_port(port) == 1);
  CHECK(nodelay(client) != 0);
  CHECK(nodelay(server_side) == 0);

  ::close(server_side);
  ::close(client);
  ::close(listener);
}
