#include "api/auth.h"

#include <cctype>
#include <mutex>

#include "privacy/api_keys.h"

namespace oc::api {

Result<Principal> Authenticator::Authenticate(std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) return Status::Unauthenticated("missing Authorization: Bearer <api-key>");
  auto scheme_is_bearer = [&] {  // the auth scheme is case-insensitive (RFC 9110 §11.1)
    for (size_t i = 0; i < kBearer.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(header[i])) !=
          std::tolower(static_cast<unsigned char>(kBearer[i]))) {
        return false;
      }
    }
    return true;
  };
  if (header.size() <= kBearer.size() || !scheme_is_bearer()) {
    return Status::Unauthenticated("the Authorization header must be 'Bearer <api-key>'");
  }
  std::string_view key = header.substr(kBearer.size());
  std::string hash = privacy::HashApiKey(key);
  {
    std::shared_lock lock(mu_);
    auto it = by_hash_.find(hash);
    if (it != by_hash_.end()) return it->second;
  }
  OC_ASSIGN_OR_RETURN(auto record, store_.FindApiKeyByHash(hash));
  if (!record) return Status::Unauthenticated("unknown API key");
  std::unique_lock lock(mu_);
  by_hash_.emplace(hash, record->principal);
  return record->principal;
}

}  // namespace oc::api
