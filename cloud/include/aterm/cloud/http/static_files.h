// The dashboard's static files from one folder: `/` is index.html, content types by extension,
// and nothing outside the folder is ever served (no "..", no encoded slashes, no symlinks
// leading out, no dot-files). Thread-safe; the folder is read on each request.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "aterm/cloud/http/message.h"

namespace aterm::cloud::http {

class router;

class static_files {
 public:
  explicit static_files(std::filesystem::path root);
  // GET/HEAD of request::path: 200 with the file, 404 JSON when absent or refused.
  response serve(const request& req) const;
  // Content type for a file name ("index.html" -> "text/html; charset=utf-8").
  static std::string_view content_type(std::string_view file_name);

 private:
  std::filesystem::path root_;
};

// Makes `files` the router's fallback for GET/HEAD. `files` must outlive the router's use.
void register_static_files(router& r, const static_files& files);

}  // namespace aterm::cloud::http
