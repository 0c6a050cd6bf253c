// Authenticator: turns an `Authorization: Bearer <api-key>` header into a Principal.
//
// Keys are looked up by their SHA-256 (the only form the store holds) and cached in memory;
// a miss goes to the store, so keys created by `orderctl` beside a running orderd work at once.
// Unknown keys are never cached, and the key itself is never logged. Thread-safe.
#pragma once

#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/principal.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::api {

class Authenticator {
 public:
  explicit Authenticator(store::Store& store) : store_(store) {}
  Result<Principal> Authenticate(std::string_view authorization_header);

 private:
  store::Store& store_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, Principal> by_hash_;
};

}  // namespace oc::api
