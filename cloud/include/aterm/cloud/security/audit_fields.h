// The size rule of the access log (DESIGN.md section 5, "access log"): the log can never be
// deleted, so nothing a caller or a device sends may make one record large. Every text field of
// an entry is cut to limits::k_max_audit_field bytes before the record is built, whoever appends
// it, with a marker that says it was cut; a cut never splits a UTF-8 sequence. Routes still
// validate their input first and record only what they accepted; this bound is what holds when
// one forgets. Kept apart from the chain (audit_chain.h): the chain hashes whatever record it is
// given. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aterm/cloud/model.h"

namespace aterm::cloud::security {

// Appended to a field that was cut; counted within the bound.
inline constexpr std::string_view k_audit_cut_marker = "...[cut]";

// `text` when it is at most `max_bytes` long; otherwise its longest prefix that ends on a UTF-8
// character boundary and leaves room for the marker, followed by k_audit_cut_marker (at most
// `max_bytes` in all). REQUIRES: max_bytes >= k_audit_cut_marker.size().
std::string cut_audit_text(std::string_view text, std::size_t max_bytes);

// `e` with every text field cut to limits::k_max_audit_field bytes.
audit_entry bounded_audit_entry(const audit_entry& e);

}  // namespace aterm::cloud::security
