#include "aterm/cloud/http/static_files.h"

#include <fstream>
#include <iterator>
#include <system_error>

#include "aterm/cloud/http/limits.h"
#include "aterm/cloud/http/router.h"

namespace aterm::cloud::http {

namespace fs = std::filesystem;

namespace {

response not_found() {
  return error_response(404, "not_found", "no such resource");
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

static_files::static_files(fs::path root) : root_(std::move(root)) {}

std::string_view static_files::content_type(std::string_view name) {
  struct entry {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr entry k_types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& e : k_types) {
    if (ends_with(name, e.ext)) return e.type;
  }
  return "application/octet-stream";
}

response static_files::serve(const request& req) const {
  // Build the relative path from decoded segments, refusing anything that could step out.
  fs::path rel;
  std::string_view path = req.path;
  if (path.empty() || path.front() != '/') return not_found();
  path.remove_prefix(1);
  std::size_t segments = 0;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto raw = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (raw.empty()) continue;
    if (++segments > limits::k_max_path_segments) return not_found();
    auto seg = percent_decode(raw, false);
    if (!seg.ok() || seg->empty() || seg->front() == '.' ||
        seg->find_first_of("/\\") != std::string::npos) {
      return not_found();
    }
    rel /= *seg;
  }
  if (rel.empty() || (!req.path.empty() && req.path.back() == '/')) rel /= "index.html";

  std::error_code ec;
  auto root = fs::canonical(root_, ec);
  if (ec) return not_found();
  auto file = fs::canonical(root / rel, ec);
  if (ec) return not_found();
  // Symlinks are resolved by canonical(); the result must still lie under the root.
  auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (root_end != root.end()) return not_found();
  if (!fs::is_regular_file(file, ec) || ec) return not_found();
  auto size = fs::file_size(file, ec);
  if (ec || size > limits::k_max_static_file_bytes) return not_found();

  std::ifstream in(file, std::ios::binary);
  if (!in) return not_found();
  response res;
  res.content_type = std::string(content_type(file.filename().string()));
  res.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  // The dashboard is small and changes with releases: revalidate every time.
  res.set_header("Cache-Control", "no-cache");
  return res;
}

void register_static_files(router& r, const static_files& files) {
  r.set_fallback([&files](request& req) { return files.serve(req); });
}

}  // namespace aterm::cloud::http
