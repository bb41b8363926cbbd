#include "aterm/cloud/jobs/backup_sidecar.h"

#include <algorithm>

#include "aterm/cloud/jobs/limits.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"

namespace aterm::cloud::jobs {

namespace crypto = common::crypto;

namespace {

// Sidecar numbers are written by cJSON as doubles: exact up to 2^53.
constexpr std::int64_t k_max_exact = std::int64_t{1} << 53;

common::status bad(std::string message) {
  return common::status::error("bad_backup", "sidecar: " + std::move(message));
}

void put_field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string sidecar_signed_text(const backup_sidecar& s) {
  std::string out;
  put_field(out, s.format);
  put_field(out, s.file);
  put_field(out, s.day);
  put_field(out, std::to_string(s.head_seq));
  put_field(out, s.head_hash);
  put_field(out, s.sha256);
  put_field(out, std::to_string(s.bytes));
  put_field(out, s.key_id);
  return out;
}

void sign_sidecar(backup_sidecar& s, const secret_key& key) {
  s.key_id = key.id;
  s.mac = crypto::to_hex(crypto::hmac_sha256(key.secret, sidecar_signed_text(s)));
}

bool sidecar_authentic(const backup_sidecar& s, const secret_key& key) {
  if (s.key_id != key.id) return false;
  const std::string expected =
      crypto::to_hex(crypto::hmac_sha256(key.secret, sidecar_signed_text(s)));
  return crypto::constant_time_equal(expected, s.mac);
}

std::string format_backup_sidecar(const backup_sidecar& s) {
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), "format", s.format.c_str());
  cJSON_AddStringToObject(obj.get(), "file", s.file.c_str());
  cJSON_AddStringToObject(obj.get(), "day", s.day.c_str());
  cJSON_AddNumberToObject(obj.get(), "head_seq", static_cast<double>(s.head_seq));
  cJSON_AddStringToObject(obj.get(), "head_hash", s.head_hash.c_str());
  cJSON_AddStringToObject(obj.get(), "sha256", s.sha256.c_str());
  cJSON_AddNumberToObject(obj.get(), "bytes", static_cast<double>(s.bytes));
  cJSON_AddStringToObject(obj.get(), "key_id", s.key_id.c_str());
  cJSON_AddStringToObject(obj.get(), "mac", s.mac.c_str());
  return common::print_json(obj.get()) + "\n";
}

common::result<backup_sidecar> parse_backup_sidecar(std::string_view text) {
  if (text.size() > limits::k_max_sidecar_bytes) return bad("larger than 64 KiB");
  auto parsed = common::parse_json(text);
  if (!parsed.ok()) return bad(parsed.error().message());
  const cJSON* obj = parsed->get();
  if (!cJSON_IsObject(obj)) return bad("not a JSON object");
  backup_sidecar s;
  auto text_field = [&](const char* name, std::string& out) -> common::status {
    auto v = common::json_string(obj, name);
    if (!v) return bad("missing or non-string \"" + std::string(name) + "\"");
    out = std::move(*v);
    return {};
  };
  auto int_field = [&](const char* name, std::int64_t& out) -> common::status {
    auto v = common::json_int(obj, name);
    if (!v || *v < 0 || *v > k_max_exact) {
      return bad("missing or bad \"" + std::string(name) + "\" (a non-negative integer)");
    }
    out = *v;
    return {};
  };
  for (auto st :
       {text_field("format", s.format), text_field("file", s.file), text_field("day", s.day),
        int_field("head_seq", s.head_seq), text_field("head_hash", s.head_hash),
        text_field("sha256", s.sha256), int_field("bytes", s.bytes), text_field("key_id", s.key_id),
        text_field("mac", s.mac)}) {
    if (!st.ok()) return st;
  }
  if (s.format != k_sidecar_format) {
    return bad("format is not " + std::string(k_sidecar_format) +
               " (a backup of an older program has no signed sidecar)");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"head_hash", s.head_hash},
        {"sha256", s.sha256},
        {"mac", s.mac}}) {
    if (!is_hex64(value)) return bad(std::string(name) + " is not 64 lowercase hex digits");
  }
  return s;
}

}  // namespace aterm::cloud::jobs
