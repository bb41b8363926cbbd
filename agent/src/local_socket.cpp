#include "aterm/agent/local_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aterm/agent/limits.h"
#include "aterm/common/json.h"
#include "aterm/common/log.h"

namespace aterm::agent {

using common::status;

namespace {

bool fill_addr(const std::filesystem::path& p, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  const auto& s = p.native();
  if (s.empty() || s.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, s.c_str(), s.size());
  return true;
}

// Reads until a newline, EOF, `max` bytes or the deadline. False on timeout or overflow.
bool read_request(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  char buf[512];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !out.empty();
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limits::k_max_socket_request) return false;
    if (out.find('\n') != std::string::npos) return true;
  }
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

common::result<std::unique_ptr<local_socket_server>> local_socket_server::start(
    event_loop& loop, local_socket_settings s, checker check, logouter logout) {
  sockaddr_un addr;
  if (!fill_addr(s.path, addr))
    return status::error("io", "local_socket path is empty or too long");
  unsigned gid = 0;
  if (!s.group.empty()) {
    group* g = ::getgrnam(s.group.c_str());
    if (!g) return status::error("bad_group", "no such group \"" + s.group + "\"");
    gid = g->gr_gid;
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return status::error("io", std::string("socket: ") + std::strerror(errno));
  // We hold the data_dir lock, so a socket file left here is stale.
  struct stat st {};
  if (::lstat(s.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(s.path.c_str());
  // Bind under a umask that leaves the socket owner-only from its first moment.
  const mode_t old = ::umask(0177);
  const int b = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (b != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return status::error("io", "bind " + s.path.string() + ": " + err);
  }
  if (!s.group.empty()) {
    if (::chown(s.path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0 ||
        ::chmod(s.path.c_str(), 0660) != 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(s.path.c_str());
      return status::error("io", "chown/chmod " + s.path.string() + ": " + err);
    }
  } else {
    ::chmod(s.path.c_str(), 0600);
  }
  if (::listen(fd, 8) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return status::error("io", "listen: " + err);
  }
  std::unique_ptr<local_socket_server> srv(
      new local_socket_server(loop, std::move(s), std::move(check), std::move(logout), fd, gid));
  local_socket_server* p = srv.get();
  loop.watch(fd, [p] { p->on_accept(); });
  return srv;
}

local_socket_server::local_socket_server(event_loop& loop, local_socket_settings s, checker check,
                                         logouter logout, int fd, unsigned gid)
    : loop_(loop),
      s_(std::move(s)),
      check_(std::move(check)),
      logout_(std::move(logout)),
      fd_(fd),
      gid_(gid),
      self_(std::make_shared<local_socket_server*>(this)) {}

local_socket_server::~local_socket_server() {
  *self_ = nullptr;
  for (auto& [conn, c] : conns_) {
    loop_.unwatch(conn);
    loop_.cancel(c.timer);
    ::close(conn);
  }
  loop_.unwatch(fd_);
  ::close(fd_);
  ::unlink(s_.path.c_str());
}

void local_socket_server::on_accept() {
  while (true) {
    const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) return;
    ucred cred{};
    socklen_t len = sizeof cred;
    const bool known = ::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
    const bool allowed = known && (cred.uid == 0 || cred.uid == ::geteuid() ||
                                   (!s_.group.empty() && cred.gid == static_cast<gid_t>(gid_)));
    if (!allowed || conns_.size() >= limits::k_max_socket_connections) {
      if (!allowed)
        common::log(common::log_level::warn, "agent", "local socket peer refused",
                    {{"uid", static_cast<std::int64_t>(cred.uid)}});
      ::close(conn);
      continue;
    }
    std::weak_ptr<local_socket_server*> weak = self_;
    connection c;
    c.timer = loop_.schedule(s_.request_timeout, [weak, conn] {
      if (auto p = weak.lock(); p && *p)
        (*p)->finish(conn, "{\"ok\":false,\"error\":\"timeout\"}\n");
    });
    conns_.emplace(conn, std::move(c));
    loop_.watch(conn, [this, conn] { on_readable(conn); });
  }
}

void local_socket_server::on_readable(int conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  char buf[512];
  while (true) {
    const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: wait for more
    if (n > 0) it->second.buffer.append(buf, static_cast<std::size_t>(n));
    const bool complete = n == 0 || it->second.buffer.find('\n') != std::string::npos;
    if (it->second.buffer.size() > limits::k_max_socket_request) {
      finish(conn, "{\"ok\":false,\"error\":\"bad_request\"}\n");
      return;
    }
    if (complete) {
      const std::string request = std::move(it->second.buffer);
      finish(conn, answer_for(request));
      return;
    }
  }
}

std::string local_socket_server::answer_for(const std::string& raw) {
  std::string req = raw;
  const auto nl = req.find('\n');
  if (nl != std::string::npos) req.resize(nl);
  if (!req.empty() && req.back() == '\r') req.pop_back();
  auto parsed = common::parse_json(req);
  std::optional<std::string> op, id, pw;
  if (parsed.ok()) {
    op = common::json_string(parsed->get(), "op");
    id = common::json_string(parsed->get(), "login_id");
    pw = common::json_string(parsed->get(), "password");
  }
  const std::string bad = "{\"ok\":false,\"error\":\"bad_request\"}\n";
  if (!op || !id || id->size() > limits::k_max_login_id) return bad;
  bool ok = false;
  if (*op == "login.check" && pw && pw->size() <= limits::k_max_password)
    ok = check_(*id, *pw);
  else if (*op == "login.logout" && !pw && logout_)
    ok = logout_(*id);
  else
    return bad;
  return ok ? "{\"ok\":true}\n" : "{\"ok\":false}\n";
}

void local_socket_server::finish(int conn, const std::string& answer) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  // The answer is a few bytes into an empty socket buffer: one non-blocking send suffices.
  send_all(conn, answer);
  loop_.cancel(it->second.timer);
  loop_.unwatch(conn);
  ::close(conn);
  conns_.erase(it);
}

common::result<login_answer> ask_agent(const std::filesystem::path& socket_path,
                                       const std::string& login_id,
                                       const std::optional<std::string>& password,
                                       std::chrono::milliseconds timeout) {
  sockaddr_un addr;
  if (!fill_addr(socket_path, addr)) return login_answer::no_agent;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return status::error("io", "socket failed");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EACCES || e == EPERM) return status::error("denied", "no permission on the socket");
    return login_answer::no_agent;
  }
  common::json_ptr req(cJSON_CreateObject());
  cJSON_AddStringToObject(req.get(), "op", password ? "login.check" : "login.logout");
  cJSON_AddStringToObject(req.get(), "login_id", login_id.c_str());
  if (password) cJSON_AddStringToObject(req.get(), "password", password->c_str());
  send_all(fd, common::print_json(req.get()) + "\n");
  std::string answer;
  const bool got = read_request(fd, answer, std::chrono::steady_clock::now() + timeout);
  ::close(fd);
  if (!got) return status::error("io", "no answer from the agent");
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  auto parsed = common::parse_json(answer);
  if (!parsed.ok()) return status::error("io", "bad answer from the agent");
  auto ok = common::json_bool(parsed->get(), "ok");
  if (!ok) return status::error("io", "bad answer from the agent");
  if (common::json_string(parsed->get(), "error"))
    return status::error("io", "the agent refused the request");
  return *ok ? login_answer::accepted : login_answer::refused;
}

}  // namespace aterm::agent
