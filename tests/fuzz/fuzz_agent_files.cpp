// libFuzzer target for the files the agent reads back from data_dir after a crash or power cut:
// the command journal (commands.journal), the outbox (outbox.journal) and the technician logins
// (logins.json). The first byte picks the file and how the rest is written:
//   0 commands.journal as raw bytes      1 commands.journal, each line a record with a good check
//   2 outbox.journal as raw bytes        3 outbox.journal, each line a record with a good check
//   4 logins.json as raw bytes
// The journals' line check (8 hex of SHA-256) cannot be guessed by a fuzzer, so modes 1 and 3
// write the lines through journal_file itself to reach the record decoders behind the check.
// After loading, the store is used once (a begin/finish, a push/ack, an expiry) so a state the
// loader let through is also exercised by the code that trusts it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/agent/command_journal.h"
#include "aterm/agent/journal_file.h"
#include "aterm/agent/login_store.h"
#include "aterm/agent/outbox.h"
#include "aterm/common/clock.h"
#include "fuzz_support.h"

namespace {

namespace agent = aterm::agent;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

void write(const fs::path& file, std::string_view body, bool checked) {
  if (!checked) {
    aterm::fuzz::write_file(file, body);
    return;
  }
  fs::remove(file);
  (void)agent::journal_file(file).rewrite(lines_of(body));
}

void journal(std::string_view body, bool checked) {
  const fs::path file = aterm::fuzz::scratch_dir() / "commands.journal";
  write(file, body, checked);
  auto j = agent::command_journal::open(file, 8);
  if (!j.ok()) return;
  (void)j->find("cmd-1");
  if (j->begin("cmd-new").ok()) (void)j->finish("cmd-new", "{\"ok\":true}");
}

void outbox(std::string_view body, bool checked) {
  const fs::path file = aterm::fuzz::scratch_dir() / "outbox.journal";
  write(file, body, checked);
  auto box = agent::outbox::open(file, {8, 4096});
  if (!box.ok()) return;
  if (!box->entries().empty()) (void)box->ack(box->entries().front().seq);
  (void)box->push(agent::outbox::kind::event, std::string(100, 'e'));
}

void logins(std::string_view body) {
  static const aterm::common::manual_clock clock(aterm::common::from_unix_s(1'795'000'000));
  const fs::path file = aterm::fuzz::scratch_dir() / "logins.json";
  aterm::fuzz::write_file(file, body);
  auto store = agent::login_store::open(file, clock, "boot-1");
  if (!store.ok()) return;
  (void)store->contains("tech-1");
  (void)store->expire();
  (void)store->revoke("tech-1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      journal(body, false);
      break;
    case 1:
      journal(body, true);
      break;
    case 2:
      outbox(body, false);
      break;
    case 3:
      outbox(body, true);
      break;
    default:
      logins(body);
      break;
  }
  return 0;
}
