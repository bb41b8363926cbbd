// Backups and restore on every engine (jobs/backup.h): names, the signed sidecar, the SHA-256,
// retention, anchors and the access-log check; the engine (backup_port.h) copies, checks its
// own format and schema, and swaps a checked copy in.
#include "aterm/cloud/jobs/backup.h"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/jobs/limits.h"
#include "aterm/cloud/security/anchor_file.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/common/crypto.h"

namespace aterm::cloud::jobs {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_prefix = "aterm-cloud-";
constexpr std::string_view k_sidecar = ".json";
// A backup's ending after the day: a dot and this many of [a-z0-9] at most.
constexpr std::size_t k_max_ext = 16;

common::status backup_error(std::string message) {
  return common::status::error("backup", std::move(message));
}
common::status bad_backup(std::string message) {
  return common::status::error("bad_backup", std::move(message));
}

common::result<std::string> file_sha256(const fs::path& file, std::int64_t& bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return backup_error("cannot read " + file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(limits::k_hash_chunk);
  bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    bytes += static_cast<std::int64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return common::crypto::to_hex(std::span<const std::uint8_t>(md, len));
}

std::string day_of(common::wall_time t) {
  return common::format_utc(t).substr(0, 10);
}

// The day of a backup file name ("aterm-cloud-YYYY-MM-DD.<ext>"), or "" for any other file
// (sidecars and .tmp files included: their ending holds a second dot).
std::string day_of_name(const std::string& name) {
  const std::size_t dot = k_prefix.size() + 10;
  if (name.size() < dot + 2 || name.size() > dot + 1 + k_max_ext) return {};
  if (name.compare(0, k_prefix.size(), k_prefix) != 0 || name[dot] != '.') return {};
  for (std::size_t i = dot + 1; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return {};
  }
  if (name.compare(dot, std::string::npos, k_sidecar) == 0) return {};
  std::string day = name.substr(k_prefix.size(), 10);
  if (!common::parse_iso8601(day).ok()) return {};
  return day;
}

fs::path sidecar_of(const fs::path& file) {
  return fs::path(file.string() + std::string(k_sidecar));
}

// A name for a message: bounded, control characters replaced.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 100)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

common::status write_sidecar(const backup_info& b, const secret_key& key) {
  backup_sidecar side;
  side.file = b.file.filename().string();
  side.day = b.day;
  side.head_seq = b.head.seq;
  side.head_hash = b.head.hash;
  side.sha256 = b.sha256;
  side.bytes = b.bytes;
  sign_sidecar(side, key);
  fs::path path = sidecar_of(b.file);
  fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << format_backup_sidecar(side);
    if (!out) return backup_error("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return backup_error("rename " + tmp.string() + ": " + ec.message());
  return {};
}

common::result<backup_sidecar> read_sidecar(const fs::path& path, const secret_key& key) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return bad_backup("no sidecar " + path.string() + " (a backup without one is not restored)");
  }
  if (fs::file_size(path, ec) > limits::k_max_sidecar_bytes) {
    return bad_backup(path.string() + ": sidecar larger than 64 KiB");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto side = parse_backup_sidecar(text);
  if (!side.ok()) return bad_backup(path.string() + ": " + side.error().message());
  if (!sidecar_authentic(*side, key)) {
    return bad_backup(path.string() + ": not signed with the backup key " + key.id +
                      " (signed as key " + side->key_id.substr(0, 64) + ")");
  }
  return side;
}

common::status anchor(const backup_keys& keys, const audit_head& head, common::wall_time at,
                      bool restored) {
  if (keys.anchor_file.empty()) return {};
  security::audit_anchor a;
  a.time = common::format_utc(at);
  a.seq = head.seq;
  a.mac = head.hash;
  a.key_id = keys.audit_ring.empty() ? std::string() : keys.audit_ring.back().id;
  a.restored = restored;
  return security::append_audit_anchor(keys.anchor_file, a);
}

// A checked backup: what the sidecar and the file say, and the engine's open copy.
struct checked_backup {
  backup_info info;
  std::unique_ptr<backup_copy> copy;
};

// Every check of restore on `file`, whose sidecar is `side_path` and whose name the sidecar must
// carry as `name`. The sidecar and the checksum come first: the engine reads only an authentic
// file.
common::result<checked_backup> check_file(backup_engine& engine, const fs::path& file,
                                          const fs::path& side_path, const std::string& name,
                                          const backup_keys& keys) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return bad_backup("no file " + file.string());
  auto side = read_sidecar(side_path, keys.backup_key);
  if (!side.ok()) return side.error();
  if (side->file != name) {
    return bad_backup(side_path.string() + ": the sidecar is for " + printable(side->file) +
                      ", not " + name);
  }
  checked_backup c;
  backup_info& b = c.info;
  b.file = file;
  b.day = day_of_name(name);
  auto sum = file_sha256(file, b.bytes);
  if (!sum.ok()) return sum.error();
  b.sha256 = *sum;
  if (side->sha256 != b.sha256 || side->bytes != b.bytes) {
    return bad_backup(name + ": SHA-256 differs from the one recorded at backup");
  }
  auto copy = engine.open_backup(file, name);
  if (!copy.ok()) return copy.error();
  c.copy = std::move(copy).value();
  auto head = c.copy->head();
  if (!head.ok()) return bad_backup(name + ": " + head.error().message());
  b.head = *head;
  if (side->head_seq != b.head.seq || side->head_hash != b.head.hash) {
    return bad_backup(name + ": access-log head differs from the one recorded at backup");
  }
  auto anchors = security::load_audit_anchors(keys.anchor_file);
  if (!anchors.ok()) return anchors.error();
  std::erase_if(*anchors, [&](const security::audit_anchor& a) { return a.seq > b.head.seq; });
  auto report = verify_audit(*c.copy, keys.audit_ring, *anchors);
  if (!report.ok()) return report.error();
  if (!report->intact()) return bad_backup(name + ": access log broken: " + report->message);
  return c;
}

}  // namespace

std::string backup_file_name(const backup_engine& engine, common::wall_time t) {
  return std::string(k_prefix) + day_of(t) + std::string(engine.suffix());
}

bool has_backup_for(const backup_engine& engine, const fs::path& dir, common::wall_time as_of) {
  std::error_code ec;
  return fs::exists(dir / backup_file_name(engine, as_of), ec);
}

common::result<backup_info> make_backup(backup_engine& engine, const fs::path& dir,
                                        common::wall_time as_of, const backup_keys& keys) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return backup_error("create " + dir.string() + ": " + ec.message());
  backup_info b;
  b.day = day_of(as_of);
  b.file = dir / backup_file_name(engine, as_of);
  fs::path tmp = b.file.string() + ".tmp";
  fs::remove(tmp, ec);
  auto head = engine.write_backup(tmp);
  if (!head.ok()) {
    fs::remove(tmp, ec);
    return head.error();
  }
  b.head = *head;
  auto sum = file_sha256(tmp, b.bytes);
  if (!sum.ok()) return sum.error();
  b.sha256 = *sum;
  fs::rename(tmp, b.file, ec);
  if (ec) return backup_error("rename " + tmp.string() + ": " + ec.message());
  if (auto st = write_sidecar(b, keys.backup_key); !st.ok()) return st;
  if (auto st = anchor(keys, b.head, as_of, false); !st.ok()) return st;
  return b;
}

common::result<std::vector<fs::path>> prune_backups(const fs::path& dir, common::wall_time as_of,
                                                    std::int64_t keep_days) {
  std::vector<fs::path> deleted;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return deleted;
  auto today = common::parse_iso8601(day_of(as_of));
  if (!today.ok()) return today.error();
  std::int64_t oldest_kept = common::to_unix_s(*today) - (keep_days - 1) * 86400;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
  if (ec) return backup_error("list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string day = day_of_name(f.filename().string());
    if (day.empty()) continue;
    auto t = common::parse_iso8601(day);
    if (!t.ok() || common::to_unix_s(*t) >= oldest_kept) continue;
    fs::remove(f, ec);
    if (ec) return backup_error("remove " + f.string() + ": " + ec.message());
    fs::remove(sidecar_of(f), ec);
    deleted.push_back(f);
  }
  return deleted;
}

common::result<backup_keys> load_backup_keys(const common::config& c) {
  auto files = security::secret_files_from(c);
  auto backup_ring = security::load_or_create_keyring(files.backup_key);
  if (!backup_ring.ok()) return backup_ring.error();
  auto audit_ring = security::load_or_create_keyring(files.audit_key);
  if (!audit_ring.ok()) return audit_ring.error();
  backup_keys k;
  k.backup_key = backup_ring->back();
  k.audit_ring = std::move(audit_ring).value();
  k.anchor_file = files.audit_anchors;
  return k;
}

common::result<backup_info> check_backup(backup_engine& engine, const fs::path& file,
                                         const backup_keys& keys) {
  auto c = check_file(engine, file, sidecar_of(file), file.filename().string(), keys);
  if (!c.ok()) return c.error();
  return c->info;
}

common::result<backup_info> restore_backup(backup_engine& engine, const fs::path& file,
                                           const backup_keys& keys) {
  // The checks and the restore read one private copy, so the file cannot change between them.
  // It sits in a folder of its own, readable by this user only.
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return bad_backup("no file " + file.string());
  if (auto st = engine.ready_for_restore(); !st.ok()) return st;
  fs::path dir = fs::temp_directory_path(ec) / "aterm-restore-XXXXXX";
  std::string templ = dir.string();
  if (ec || ::mkdtemp(templ.data()) == nullptr) {
    return backup_error("cannot create a private folder for the restore");
  }
  struct remove_dir {
    fs::path p;
    ~remove_dir() {
      std::error_code e;
      fs::remove_all(p, e);
    }
  } cleanup{templ};
  fs::path copy = fs::path(templ) / file.filename();
  fs::copy_file(file, copy, ec);
  if (ec) return backup_error("copy " + file.string() + ": " + ec.message());
  auto c = check_file(engine, copy, sidecar_of(file), file.filename().string(), keys);
  if (!c.ok()) return c.error();
  c->info.file = file;
  if (auto st = engine.restore(*c->copy); !st.ok()) return st;
  c->copy.reset();
  auto live = engine.open_live();
  if (!live.ok()) return live.error();
  auto report = verify_audit(**live, keys.audit_ring);
  if (!report.ok()) return report.error();
  if (!report->intact()) {
    return backup_error("restored access log does not verify: " + report->message);
  }
  if (auto st = anchor(keys, c->info.head, common::system_clock::instance().now(), true);
      !st.ok()) {
    return st;
  }
  return c->info;
}

common::result<security::chain_report> verify_audit(
    backup_copy& db, const security::keyring& audit_ring,
    const std::vector<security::audit_anchor>& anchors) {
  auto head = db.head();
  if (!head.ok()) return head.error();
  security::chain_verifier v(audit_ring, anchors);
  if (auto st = db.read_audit([&v](const audit_record& r) { return v.add(r); }); !st.ok()) {
    return st;
  }
  return v.finish(*head);
}

common::result<security::chain_report> verify_audit_file(
    const std::string& db, const security::keyring& audit_ring,
    const std::vector<security::audit_anchor>& anchors) {
  backup_engine_options o;
  o.db = db;
  auto engine = open_backup_engine(o);
  if (!engine.ok()) return engine.error();
  auto live = (*engine)->open_live();
  if (!live.ok()) return live.error();
  return verify_audit(**live, audit_ring, anchors);
}

}  // namespace aterm::cloud::jobs
