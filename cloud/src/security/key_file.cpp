#include "aterm/cloud/security/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "aterm/common/crypto.h"

namespace aterm::cloud::security {

namespace fs = std::filesystem;
namespace crypto = common::crypto;

namespace {

constexpr std::size_t k_key_bytes = 32;
constexpr std::size_t k_id_hex = 16;
// A key file holds one line per rotation; far more lines is not a key file.
constexpr std::size_t k_max_keys = 1000;

common::status key_error(std::string message) {
  return common::status::error("key_file", std::move(message));
}

std::string line_of(const secret_key& k) {
  return k.id + " " +
         crypto::to_hex(std::span<const std::uint8_t>(
             reinterpret_cast<const std::uint8_t*>(k.secret.data()), k.secret.size())) +
         "\n";
}

secret_key new_key() {
  auto b = crypto::random_bytes(k_key_bytes);
  secret_key k;
  k.secret.assign(b.begin(), b.end());
  k.id = key_id_of(k.secret);
  return k;
}

// Writes `text` to a new file created 0600 (O_EXCL: never through an existing file or link).
common::status write_new_file(const fs::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return key_error("create " + path.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      return key_error("write " + path.string() + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return key_error("write " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

std::string_view take_line(std::string_view& text) {
  auto end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

std::string key_id_of(std::string_view secret) {
  return crypto::to_hex(crypto::sha256(secret)).substr(0, k_id_hex);
}

common::result<keyring> parse_keyring(std::string_view text) {
  keyring ring;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::string_view line = take_line(text);
    if (line.empty()) continue;
    auto space = line.find(' ');
    if (space == std::string_view::npos) {
      return key_error("line " + std::to_string(line_no) + ": expected \"<id> <hex key>\"");
    }
    auto hex = crypto::from_hex(line.substr(space + 1));
    if (!hex.ok() || hex->size() != k_key_bytes) {
      return key_error("line " + std::to_string(line_no) + ": the key is not 64 hex digits");
    }
    secret_key k;
    k.secret.assign(hex->begin(), hex->end());
    k.id = key_id_of(k.secret);
    if (line.substr(0, space) != k.id) {
      return key_error("line " + std::to_string(line_no) + ": the id does not match the key");
    }
    if (ring.size() >= k_max_keys) return key_error("more than 1000 keys");
    ring.push_back(std::move(k));
  }
  if (ring.empty()) return key_error("no key");
  return ring;
}

common::result<keyring> load_keyring(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return key_error(path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return key_error(path.string() + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    return key_error(path.string() + ": readable or writable by group or others (chmod 600)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return key_error("cannot read " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto ring = parse_keyring(text);
  if (!ring.ok()) return key_error(path.string() + ": " + ring.error().message());
  return ring;
}

common::result<keyring> load_or_create_keyring(const fs::path& path, bool* created) {
  if (created != nullptr) *created = false;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    auto st = write_new_file(path, line_of(new_key()));
    if (!st.ok()) return st;
    if (created != nullptr) *created = true;
  }
  return load_keyring(path);
}

common::result<keyring> add_key(const fs::path& path) {
  auto ring = load_keyring(path);
  if (!ring.ok()) return ring;
  ring->push_back(new_key());
  std::string text;
  for (const auto& k : *ring) text += line_of(k);
  fs::path tmp = path.string() + ".new";
  std::error_code ec;
  fs::remove(tmp, ec);
  if (auto st = write_new_file(tmp, text); !st.ok()) return st;
  fs::rename(tmp, path, ec);
  if (ec) return key_error("rename " + tmp.string() + ": " + ec.message());
  return ring;
}

const secret_key* find_key(const keyring& ring, std::string_view id) {
  for (const auto& k : ring) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

secret_files secret_files_from(const common::config& c) {
  const std::string& db = c.get_string("db");
  auto or_next_to_db = [&](const char* key, const char* suffix) {
    const std::string& v = c.get_string(key);
    return fs::path(v.empty() ? db + suffix : v);
  };
  return {or_next_to_db("security.audit_key_file", ".audit-key"),
          or_next_to_db("security.audit_anchor_file", ".audit-anchors"),
          or_next_to_db("backup.key_file", ".backup-key")};
}

}  // namespace aterm::cloud::security
