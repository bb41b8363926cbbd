#include "aterm/cloud/security/rules_for_store.h"

#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/config_profile.h"

namespace aterm::cloud::security {

cloud::store_rules rules_for_store() {
  return {audit_chain_rule(), config_profile_rule()};
}

}  // namespace aterm::cloud::security
