// Expected failures as values (LevelDB's Status): a status is ok or carries a short machine code
// and a human message naming what is wrong. result<T> holds either a value or a failed status.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace aterm::common {

class [[nodiscard]] status {
 public:
  // An ok status.
  status() = default;
  // A failed status. REQUIRES: `code` is not empty (e.g. "bad_json", "missing_field").
  static status error(std::string code, std::string message) {
    assert(!code.empty());
    status s;
    s.code_ = std::move(code);
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return code_.empty(); }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", or "ok".
  std::string to_string() const { return ok() ? "ok" : code_ + ": " + message_; }

 private:
  std::string code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(status failure) : v_(std::move(failure)) {  // NOLINT: implicit by design
    assert(!std::get<status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  // REQUIRES: !ok().
  const status& error() const { return std::get<status>(v_); }

 private:
  std::variant<T, status> v_;
};

}  // namespace aterm::common
