#include "aterm/agent/hook_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aterm/agent/limits.h"
#include "aterm/common/command_table.h"

namespace aterm::agent {

using common::status;
namespace cmd = common::commands;

namespace {

status failed(std::string message) {
  return cmd::op_failure(cmd::op_error::failed, std::move(message));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}
}  // namespace

common::result<hook_output> run_hook(const std::vector<std::string>& argv, const std::string& input,
                                     std::chrono::milliseconds timeout) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return failed("hook program must be an absolute path");
  if (::access(argv[0].c_str(), X_OK) != 0) return failed(argv[0] + ": " + std::strerror(errno));
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return failed("pipe failed");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return failed("pipe failed");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};

  const pid_t pid = ::fork();
  if (pid < 0) return failed(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(args[0], args.data(), envp);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  int to_child = in_pipe[1];
  int from_child = out_pipe[0];
  ::fcntl(to_child, F_SETFL, O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  if (input.empty()) close_fd(to_child);
  hook_output out;
  bool too_long = false;
  bool timed_out = false;
  while (from_child >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {from_child, POLLIN, 0};
    if (to_child >= 0) fds[n++] = {to_child, POLLOUT, 0};
    const int r = ::poll(fds, n, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (n == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(to_child, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(to_child);
      if (written >= input.size()) close_fd(to_child);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      const ssize_t got = ::read(from_child, buf, sizeof buf);
      if (got > 0) {
        out.out.append(buf, static_cast<std::size_t>(got));
        if (out.out.size() > limits::k_max_hook_output) {
          too_long = true;
          break;
        }
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(from_child);
      }
    }
  }
  close_fd(to_child);
  close_fd(from_child);
  if (timed_out || too_long) ::kill(-pid, SIGKILL);
  int wstatus = 0;
  // After EOF on stdout the child is exiting; wait for it within what is left of the deadline.
  while (true) {
    const pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      break;
    }
    ::poll(nullptr, 0, 5);
  }
  if (timed_out) return failed(argv[0] + " ran past its timeout");
  if (too_long) return failed(argv[0] + " wrote too much");
  out.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  return out;
}

}  // namespace aterm::agent
