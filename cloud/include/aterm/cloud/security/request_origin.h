// The login CSRF rule (DESIGN.md section 6): a browser may sign in only from the server's own
// pages, so a foreign page cannot sign a victim into the attacker's company. Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aterm::cloud::security {

// The origin the dashboard is served from: `public_origin` (http.public_origin, e.g.
// "https://cloud.example.com") when configured, else "https://" + the request's Host header.
// The Host header names the server the browser connected to, which a foreign page cannot
// choose; behind a proxy that rewrites Host, configure http.public_origin.
std::string own_origin(std::string_view public_origin, std::string_view host);

// True when the request may come from the server's own origin: Sec-Fetch-Site, when present, is
// "same-origin" or "none" (typed into the address bar); Origin, when present, equals `own`
// (scheme and host compared without case; "null" is foreign). A request with neither header is
// not from a browser that could be steered by a foreign page, and passes.
bool from_own_origin(std::optional<std::string_view> origin,
                     std::optional<std::string_view> sec_fetch_site, std::string_view own);

}  // namespace aterm::cloud::security
