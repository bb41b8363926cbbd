// One-time technician logins on the router (DESIGN.md section 4), through the real agent,
// its local socket and `aterm-agent login-check`.
#include <doctest/doctest.h>

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "agent_fixture.h"

using namespace agent_test;

namespace {

struct login_agent {
  stack s;
  agent_process a{s.pki, s.broker, s.dir.path(), "dev-login", R"("state_poll_s":1)"};
  login_agent() { start(); }
  void start() {
    const auto boots = s.cloud.events("dev-login", "boot").size();
    a.start();
    REQUIRE(t::wait_until([&] { return s.cloud.events("dev-login", "boot").size() > boots; }));
    REQUIRE(t::wait_until([&] { return fs::exists(a.socket()); }));
  }
  void install(const std::string& cmd_id, const std::string& login_id, const std::string& pw,
               std::int64_t ttl_s = 3600, std::int64_t expires_in = 3600) {
    s.cloud.command("dev-login", cmd_id, "technician_login.install",
                    install_args(login_id, pw, now_s() + expires_in, ttl_s));
    auto r = s.cloud.result("dev-login", cmd_id);
    REQUIRE(r.has_value());
    REQUIRE(r->status == proto::result_status::ok);
  }
  std::string store_text() const {
    std::ifstream in(a.data_dir() / "logins.json");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

// Connects to the socket as user `nobody` from a forked child; returns the child's errno of
// connect() (0 when it connected).
int connect_as_nobody(const fs::path& socket_path) {
  const passwd* pw = ::getpwnam("nobody");
  REQUIRE(pw != nullptr);
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(200);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::_exit(rc == 0 ? 0 : (errno & 0x7f));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 200);
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a technician login is accepted once, then refused") {
  login_agent l;
  l.install("i1", "T-once0001", "Abc234defGH9");
  CHECK(l.store_text().find("Abc234defGH9") == std::string::npos);
  CHECK(l.a.login_check("T-once0001", "Abc234defGH9") == 0);
  CHECK(l.a.login_check("T-once0001", "Abc234defGH9") == 1);
  CHECK(t::wait_until(
      [&] { return l.s.cloud.events("dev-login", "technician_login.used").size() == 1; }));
  CHECK(l.a.login_check("T-nosuch00", "whatever") == 1);
}

TEST_CASE("expiry via a short ttl_s") {
  login_agent l;
  l.install("i1", "T-short001", "Abc234defGH9", 1);
  // The agent drops it from its store once the ttl has run out (checked every state_poll_s).
  REQUIRE(
      t::wait_until([&] { return l.store_text().find("T-short001") == std::string::npos; }, 10s));
  CHECK(l.a.login_check("T-short001", "Abc234defGH9") == 1);
  // Already dead on arrival: refused at install.
  l.s.cloud.command("dev-login", "i2", "technician_login.install",
                    install_args("T-late0001", "pw", now_s() - 5, 3600));
  auto r = l.s.cloud.result("dev-login", "i2");
  REQUIRE(r.has_value());
  CHECK(r->status == proto::result_status::rejected);
}

TEST_CASE("the local session ends with the credential and is reported once, with revisions") {
  login_agent l;
  l.install("i1", "T-sess0001", "Abc234defGH9", 2);
  CHECK(l.a.login_check("T-sess0001", "Abc234defGH9") == 0);
  // Reported by the running agent within state_poll_s of the end (receipt + ttl_s).
  REQUIRE(t::wait_until(
      [&] { return l.s.cloud.events("dev-login", "technician_login.ended").size() == 1; }, 10s));
  const auto ended = l.s.cloud.events("dev-login", "technician_login.ended")[0].fields_json;
  CHECK(ended.find(R"("login_id":"T-sess0001")") != std::string::npos);
  CHECK(ended.find(R"("reason":"expired")") != std::string::npos);
  CHECK(ended.find(R"("config_rev_before":)") != std::string::npos);
  CHECK(ended.find(R"("config_rev_after":)") != std::string::npos);
  // Ended once: a logout after it finds no session.
  CHECK(l.a.login_logout("T-sess0001") == 1);
}

TEST_CASE("revoke ends a login early") {
  login_agent l;
  l.install("i1", "T-revoke01", "Abc234defGH9");
  l.s.cloud.command("dev-login", "r1", "technician_login.revoke", R"({"login_id":"T-revoke01"})");
  auto r = l.s.cloud.result("dev-login", "r1");
  REQUIRE(r.has_value());
  CHECK(r->status == proto::result_status::ok);
  CHECK(l.a.login_check("T-revoke01", "Abc234defGH9") == 1);
}

TEST_CASE("5 wrong passwords lock the login") {
  login_agent l;
  l.install("i1", "T-lock0001", "Abc234defGH9");
  for (int i = 0; i < 5; ++i)
    CHECK(l.a.login_check("T-lock0001", "wrong-" + std::to_string(i)) == 1);
  CHECK(l.a.login_check("T-lock0001", "Abc234defGH9") == 1);
  CHECK(t::wait_until(
      [&] { return l.s.cloud.events("dev-login", "technician_login.failed").size() == 5; }));
  CHECK(t::wait_until(
      [&] { return l.s.cloud.events("dev-login", "technician_login.locked").size() == 1; }));
  CHECK(l.s.cloud.events("dev-login", "technician_login.used").empty());
}

TEST_CASE("logins survive an agent restart and login-check works without a running agent") {
  login_agent l;
  l.install("i1", "T-restart1", "Abc234defGH9");
  l.install("i2", "T-offline1", "Zyx234defGH9");
  REQUIRE(l.a.stop(SIGTERM) == 0);
  // No agent: login-check takes the data_dir lock and checks the store itself; the event waits
  // in the outbox for the agent's next start.
  CHECK_FALSE(fs::exists(l.a.socket()));
  CHECK(l.a.login_check("T-offline1", "Zyx234defGH9") == 0);
  CHECK(l.a.login_check("T-offline1", "Zyx234defGH9") == 1);
  l.start();
  CHECK(l.a.login_check("T-restart1", "Abc234defGH9") == 0);
  CHECK(t::wait_until(
      [&] { return l.s.cloud.events("dev-login", "technician_login.used").size() == 2; }));
}

TEST_CASE("the local socket refuses other users") {
  login_agent l;
  // Make the path traversable by others, so only the socket's own mode protects it.
  ::chmod(l.s.dir.path().c_str(), 0711);
  struct stat st {};
  REQUIRE(::stat(l.a.socket().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(connect_as_nobody(l.a.socket()) == EACCES);
  // The owner (root here) gets through.
  l.install("i1", "T-owner001", "Abc234defGH9");
  CHECK(l.a.login_check("T-owner001", "Abc234defGH9") == 0);
}

TEST_CASE("the local socket bounds request time and size, and keeps serving") {
  login_agent l;
  auto open_conn = [&] {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, l.a.socket().c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  auto read_all = [](int fd) {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
  };
  // Silent client: answered and closed at the request timeout.
  const int silent = open_conn();
  // Oversized request: refused as soon as it passes the bound.
  const int big = open_conn();
  const std::string junk(8192, 'x');
  (void)::send(big, junk.data(), junk.size(), MSG_NOSIGNAL);
  CHECK(read_all(big).find("bad_request") != std::string::npos);
  CHECK(read_all(silent).find("timeout") != std::string::npos);
  // A malformed request gets an answer, not a hang.
  const int bad = open_conn();
  (void)::send(bad, "{\"op\":\"other\"}\n", 15, MSG_NOSIGNAL);
  CHECK(read_all(bad).find("bad_request") != std::string::npos);
  l.install("i1", "T-after001", "Abc234defGH9");
  CHECK(l.a.login_check("T-after001", "Abc234defGH9") == 0);
}
