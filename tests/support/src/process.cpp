// Child processes for tests: run() to completion and background `process`, each in its own
// process group so that stopping it also stops what it started.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "aterm/test/support.h"

extern char** environ;

namespace aterm::test {

namespace {

// argv and envp built before fork: the child of a multi-threaded test may only call
// async-signal-safe functions.
struct exec_args {
  std::vector<std::string> strings_;
  std::vector<char*> argv_;
  std::vector<std::string> env_strings_;
  std::vector<char*> envp_;

  exec_args(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    if (argv.empty()) throw std::invalid_argument("process: empty argv");
    strings_ = argv;
    for (auto& s : strings_) argv_.push_back(s.data());
    argv_.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      auto eq = entry.find('=');
      if (eq != std::string::npos && env.count(entry.substr(0, eq)) != 0) continue;
      env_strings_.push_back(std::move(entry));
    }
    for (const auto& [k, v] : env) env_strings_.push_back(k + "=" + v);
    for (auto& s : env_strings_) envp_.push_back(s.data());
    envp_.push_back(nullptr);
  }
};

// Forks a child in a new process group with the given stdin/stdout/stderr (-1: inherit).
pid_t spawn(exec_args& args, int in_fd, int out_fd, int err_fd) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    ::close_range(3, ~0U, 0);
    ::execvpe(args.argv_[0], args.argv_.data(), args.envp_.data());
    ::_exit(127);
  }
  // Also in the parent, so a kill(-pid) right after spawn cannot miss the group.
  ::setpgid(pid, pid);
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// Writes to a pipe without a SIGPIPE killing the test when the child closed its stdin.
ssize_t write_no_sigpipe(int fd, const char* data, size_t len) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t n = ::write(fd, data, len);
  int saved = errno;
  if (n < 0 && saved == EPIPE) {
    timespec zero{};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return n;
}

struct fd_closer {
  int fd = -1;
  ~fd_closer() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

run_result run(const std::vector<std::string>& argv, const std::string& input,
               const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout) {
  exec_args args(argv, env);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  fd_closer in_r{in[0]}, in_w{in[1]};
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  fd_closer out_r{out[0]}, out_w{out[1]};
  if (::pipe2(err, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  fd_closer err_r{err[0]}, err_w{err[1]};

  pid_t pid = spawn(args, in_r.fd, out_w.fd, err_w.fd);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
  if (input.empty()) in_w.reset();

  run_result result;
  size_t written = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.fd >= 0) fds[out_i = static_cast<int>(n++)] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[err_i = static_cast<int>(n++)] = {err_r.fd, POLLIN, 0};
    if (in_w.fd >= 0) fds[in_i = static_cast<int>(n++)] = {in_w.fd, POLLOUT, 0};
    int r = ::poll(fds, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (r <= 0) continue;
    char buf[65536];
    auto drain = [&](int i, fd_closer& fd, std::string& into) {
      if (i < 0 || fds[i].revents == 0) return;
      ssize_t got = ::read(fd.fd, buf, sizeof buf);
      if (got > 0) {
        into.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fd.reset();
      }
    };
    drain(out_i, out_r, result.out);
    drain(err_i, err_r, result.err);
    if (in_i >= 0 && fds[in_i].revents != 0) {
      ssize_t put = write_no_sigpipe(in_w.fd, input.data() + written, input.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in_w.reset();
    }
  }
  int status = 0;
  auto reaped = [&] { return ::waitpid(pid, &status, WNOHANG) == pid; };
  if (timed_out || !wait_until(reaped,
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(1))) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    status = 0;
    result.exit_code = -1;
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

process::process(const std::vector<std::string>& argv, const fs::path& log_file,
                 const std::map<std::string, std::string>& env)
    : log_file_(log_file) {
  exec_args args(argv, env);
  fd_closer null_in{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  fd_closer log;
  if (!log_file.empty()) {
    log.fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log.fd < 0) {
      throw std::system_error(errno, std::generic_category(), "open " + log_file.string());
    }
  }
  pid_ = spawn(args, null_in.fd, log.fd, log.fd);
}

process::~process() {
  if (!reaped_) stop(SIGTERM, std::chrono::seconds(5));
}

bool process::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    reaped_ = true;
    return false;
  }
  return true;
}

int process::stop(int sig, std::chrono::milliseconds timeout) {
  if (!reaped_) {
    ::kill(-pid_, sig);
    if (!wait_until([this] { return !running(); }, timeout, std::chrono::milliseconds(5))) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = status;
      reaped_ = true;
    }
  }
  return decode_status(status_);
}

std::string process::log() const {
  if (log_file_.empty()) return {};
  std::ifstream in(log_file_, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

run_result cloud_cli(const fs::path& config, const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary("cloud/aterm-cloud").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config.string());
  return run(argv);
}

}  // namespace aterm::test
