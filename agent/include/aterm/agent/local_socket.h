// The technician login check on the router (DESIGN.md section 4): a unix stream socket at
// `local_socket`, mode 0600 (owner only) unless a group is configured (then 0660 and that
// group); peers are also checked by SO_PEERCRED. One JSON request per connection,
// {"op":"login.check","login_id":..,"password":..} -> {"ok":bool}, or, when the technician
// logs out of the router's UI, {"op":"login.logout","login_id":..} -> {"ok":bool} (false: no
// open local session of that id), bounded in size
// (limits::k_max_socket_request), in time (`request_timeout`) and in connections open at once.
// Threads: everything runs on the event_loop's thread (non-blocking sockets watched by the
// loop), so `check` is called there directly. Destroy it on that thread or after the loop
// stopped.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aterm/agent/event_loop.h"
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
  using logouter = std::function<bool(const std::string& login_id)>;
  // Binds (replacing a stale socket file) and starts watching. Without `logout`, login.logout
  // is a bad request. Errors: "io", "bad_group".
  static common::result<std::unique_ptr<local_socket_server>> start(event_loop& loop,
                                                                    local_socket_settings s,
                                                                    checker check,
                                                                    logouter logout = {});
  // Closes every connection and removes the socket file.
  ~local_socket_server();
  local_socket_server(const local_socket_server&) = delete;
  local_socket_server& operator=(const local_socket_server&) = delete;

 private:
  struct connection {
    std::string buffer;
    event_loop::timer_id timer = 0;
  };
  local_socket_server(event_loop& loop, local_socket_settings s, checker check, logouter logout,
                      int fd, unsigned gid);
  void on_accept();
  void on_readable(int conn);
  void finish(int conn, const std::string& answer);
  std::string answer_for(const std::string& request);

  event_loop& loop_;
  local_socket_settings s_;
  checker check_;
  logouter logout_;
  int fd_;
  unsigned gid_;
  std::map<int, connection> conns_;
  std::shared_ptr<local_socket_server*> self_;
};

// What a running agent answered, or that none listens (no socket, or nobody behind it): then
// the caller checks the store itself.
enum class login_answer { accepted, refused, no_agent };

// Asks a running agent to check a password, or with no password (nullopt) to end the local
// session of `login_id`. Errors: "io" (the conversation failed), "denied" (no permission on the
// socket).
common::result<login_answer> ask_agent(const std::filesystem::path& socket_path,
                                       const std::string& login_id,
                                       const std::optional<std::string>& password,
                                       std::chrono::milliseconds timeout);

}  // namespace aterm::agent
