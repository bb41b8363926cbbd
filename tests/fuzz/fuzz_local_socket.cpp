// libFuzzer target for the agent's local socket (the technician login check): a real
// local_socket_server on its event loop, one connection per input that sends the input and
// reads the answer, as `aterm-agent login-check` or a router's web UI would. Property checked
// beyond "no crash": every request gets exactly one of the three answers.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "aterm/agent/event_loop.h"
#include "aterm/agent/local_socket.h"
#include "fuzz_support.h"

namespace {

namespace agent = aterm::agent;
using namespace std::chrono_literals;

struct running_server {
  agent::event_loop loop;
  std::unique_ptr<agent::local_socket_server> server;
  std::thread thread;
  std::filesystem::path path = aterm::fuzz::scratch_dir() / "agent.sock";

  running_server() {
    // The request timeout only ends connections that never finish; every input here does.
    auto s = agent::local_socket_server::start(
        loop, {path, "", 10s},
        [](const std::string& id, const std::string& pw) { return id == "tech-1" && pw == "pw"; });
    if (!s.ok()) std::abort();
    server = std::move(s).value();
    thread = std::thread([this] { loop.run(); });
  }
  ~running_server() {
    loop.stop();
    thread.join();
  }
};

std::string ask(const std::filesystem::path& path, std::string_view request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.native().size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  // The server may answer and close before reading everything (a request past its bound).
  while (!request.empty()) {
    const ssize_t n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.remove_prefix(static_cast<std::size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[256];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static running_server srv;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string answer = ask(srv.path, in);
  if (answer != "{\"ok\":true}\n" && answer != "{\"ok\":false}\n" &&
      answer != "{\"ok\":false,\"error\":\"bad_request\"}\n")
    std::abort();
  return 0;
}
