// The technician login check on the router (DESIGN.md section 4): a unix stream socket at
// `local_socket`, mode 0600 (owner only) unless a group is configured (then 0660 and that
// group); peers are also checked by SO_PEERCRED. One JSON request per connection,
// {"op":"login.check","login_id":..,"password":..} -> {"ok":bool}, bounded in size
// (limits::k_max_socket_request) and time (`request_timeout`).
// Threads: the server runs one thread of its own that accepts and serves one connection at a
// time; `check` is called on that thread and must hand the work to the agent thread and wait.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "aterm/common/status.h"

namespace aterm::agent {

struct local_socket_settings {
  std::filesystem::path path;
  std::string group;                                // "" = owner only
  std::chrono::milliseconds request_timeout{2000};  // Default: 2 s.
};

class local_socket_server {
 public:
  using checker = std::function<bool(const std::string& login_id, const std::string& password)>;
  // Binds (replacing a stale socket file) and starts the thread. Errors: "io", "bad_group".
  static common::result<std::unique_ptr<local_socket_server>> start(local_socket_settings s,
                                                                    checker check);
  // Stops the thread and removes the socket file.
  ~local_socket_server();

 private:
  local_socket_server(local_socket_settings s, checker check, int fd, int wake_r, int wake_w,
                      unsigned gid);
  void serve();
  void handle(int conn);

  local_socket_settings s_;
  checker check_;
  int fd_;
  int wake_r_;
  int wake_w_;
  unsigned gid_;
  std::thread thread_;
};

// Asks a running agent. Returns the answer; errors: "unavailable" (no socket or nobody
// listening), "io" (the conversation failed), "denied" (no permission on the socket).
common::result<bool> ask_login_check(const std::filesystem::path& socket_path,
                                     const std::string& login_id, const std::string& password,
                                     std::chrono::milliseconds timeout);

}  // namespace aterm::agent
