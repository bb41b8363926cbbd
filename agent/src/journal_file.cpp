#include "aterm/agent/journal_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "aterm/agent/limits.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"

namespace aterm::agent {

namespace {

using common::status;

std::string check_of(std::string_view record) {
  const auto d = common::crypto::sha256(record);
  return common::crypto::to_hex(std::span<const std::uint8_t>(d.data(), 4));
}

status io_error(const char* call, const std::filesystem::path& p) {
  return common::commands::op_failure(
      common::commands::op_error::io,
      std::string(call) + " " + p.string() + ": " + std::strerror(errno));
}

status write_all(int fd, std::string_view data, const std::filesystem::path& p) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", p);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

void sync_folder(const std::filesystem::path& p) {
  const auto dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// The whole of `p`; nullopt when it does not exist.
common::result<std::optional<std::string>> read_whole(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(p)) return std::optional<std::string>();
    return io_error("open", p);
  }
  return std::optional<std::string>(
      std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
}

}  // namespace

common::result<common::json_ptr> journal_file::read_json(const std::filesystem::path& path) {
  auto text = read_whole(path);
  if (!text.ok()) return text.error();
  if (!*text) return common::json_ptr();
  common::json_limits lim;
  lim.max_bytes = limits::k_max_store_file;
  auto parsed = common::parse_json(**text, lim);
  if (!parsed.ok())
    return status::error("bad_json", path.string() + ": " + parsed.error().message());
  return std::move(*parsed);
}

common::result<journal_file::loaded> journal_file::load() const {
  loaded out;
  lines_ = 0;
  auto whole = read_whole(path_);
  if (!whole.ok()) return whole.error();
  if (!*whole) return out;
  const std::string& content = **whole;
  std::size_t pos = 0;
  while (pos < content.size()) {
    const auto nl = content.find('\n', pos);
    if (nl == std::string::npos) {  // torn tail: the write never finished
      ++out.skipped;
      break;
    }
    std::string_view line(content.data() + pos, nl - pos);
    pos = nl + 1;
    ++lines_;
    if (line.size() < 10 || line[8] != ' ') {
      ++out.skipped;
      continue;
    }
    const auto record = line.substr(9);
    if (line.substr(0, 8) != check_of(record)) {
      ++out.skipped;
      continue;
    }
    out.records.emplace_back(record);
  }
  return out;
}

common::status journal_file::append(std::string_view record) {
  if (record.find('\n') != std::string_view::npos || record.size() > limits::k_max_journal_line)
    return status::error("bad_value", "journal record has a newline or is too long");
  std::string line = check_of(record);
  line += ' ';
  line += record;
  line += '\n';
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("open", path_);
  auto st = write_all(fd, line, path_);
  if (st.ok() && ::fdatasync(fd) != 0) st = io_error("fdatasync", path_);
  ::close(fd);
  if (st.ok()) ++lines_;
  return st;
}

common::status journal_file::rewrite(const std::vector<std::string>& records) {
  std::string data;
  for (const auto& r : records) {
    if (r.find('\n') != std::string::npos) return status::error("bad_value", "newline in record");
    data += check_of(r);
    data += ' ';
    data += r;
    data += '\n';
  }
  auto st = write_atomic(path_, data);
  if (st.ok()) lines_ = records.size();
  return st;
}

common::status journal_file::write_atomic(const std::filesystem::path& path, std::string_view data,
                                          unsigned mode) {
  const auto tmp = path.string() + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return io_error("open", tmp);
  auto st = write_all(fd, data, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = io_error("fsync", tmp);
  ::close(fd);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    st = io_error("rename", path);
    ::unlink(tmp.c_str());
    return st;
  }
  sync_folder(path);
  return {};
}

}  // namespace aterm::agent
