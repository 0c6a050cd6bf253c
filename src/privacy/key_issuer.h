// Issuing API keys: one code path for `orderctl keys create` and `POST /v1/keys`.
//
// Validates the role and its channel binding, generates the secret, stores only its hash, and
// returns the secret once. Admin keys get a TOTP secret for step-up. Thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::privacy {

struct KeyRequest {
  std::string role;
  std::string name;
  std::string channel;
};

// The issued key as JSON: {"id","key","role","name","channel"?,"totp_secret"?,"created_at"}.
Result<boost::json::object> IssueApiKey(store::Store& store, IdGenerator& ids, Random& random,
                                        const Clock& clock, const KeyRequest& request);

}  // namespace oc::privacy
