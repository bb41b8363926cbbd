// The rules a store applies inside its own transactions (store.h, store_options::rules): ports the
// store calls, implemented by the layer that owns each rule, so the store holds no rule of its
// own.
#pragma once

#include <memory>

#include "aterm/cloud/audit_chain_port.h"
#include "aterm/cloud/config_profile_port.h"

namespace aterm::cloud {

// The rules the store applies inside its own transactions, given by the layer that owns them
// (security::rules_for_store(), security/rules_for_store.h).
struct store_rules {
  std::shared_ptr<const audit_chain_port> audit_chain;         // the access log's chain
  std::shared_ptr<const config_profile_port> config_profiles;  // destinations' profiles
};

}  // namespace aterm::cloud
