// The rules every store is opened with (store_rules.h, store.h's store_options::rules): the
// access log's chain (audit_chain.h) and destinations' configuration profiles
// (config_profile.h). The store applies them inside its own transactions and holds no rule of
// its own.
#pragma once

#include "aterm/cloud/store_rules.h"

namespace aterm::cloud::security {

cloud::store_rules rules_for_store();

}  // namespace aterm::cloud::security
