#include "aterm/test/smtp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace aterm::test {

namespace {

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string whole_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::unique_ptr<process> smtp_server(int port, const fs::path& maildir, const fs::path& log,
                                     const dev_pki* pki) {
  std::vector<std::string> argv{
      "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-dd", "-l", "127.0.0.1:" + std::to_string(port)};
  if (pki != nullptr) {
    for (auto a : {std::string("--tlscert"), pki->server_cert().string(), std::string("--tlskey"),
                   pki->server_key().string()}) {
      argv.push_back(a);
    }
  }
  for (auto a : {std::string("-c"), std::string("aiosmtpd.handlers.Mailbox"), maildir.string()}) {
    argv.push_back(a);
  }
  auto p = std::make_unique<process>(argv, log);
  if (!wait_until([&] { return accepts(port); }, 20s)) {
    throw std::runtime_error("aiosmtpd did not start: " + p->log());
  }
  return p;
}

std::vector<std::string> maildir_messages(const fs::path& maildir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(maildir / "new", ec)) return out;
  for (const auto& e : fs::directory_iterator(maildir / "new")) out.push_back(whole_file(e.path()));
  return out;
}

std::string decoded_body(const std::string& message) {
  auto start = message.find("\n\n");
  if (start == std::string::npos) start = message.find("\r\n\r\n");
  if (start == std::string::npos) return "";
  static const std::string k_alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : message.substr(start)) {
    const auto v = k_alphabet.find(c);
    if (v == std::string::npos) continue;  // line ends and padding
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xffU);
    }
  }
  return out;
}

}  // namespace aterm::test
