#include "privacy/key_issuer.h"

#include "core/order.h"
#include "privacy/api_keys.h"

namespace oc::privacy {

Result<boost::json::object> IssueApiKey(store::Store& store, IdGenerator& ids, Random& random,
                                        const Clock& clock, const KeyRequest& request) {
  auto role = ParseRole(request.role);
  if (!role) {
    return Status::Unprocessable("unknown role '" + request.role +
                                 "' (admin, channel, customer_service, warehouse, finance, "
                                 "operations)");
  }
  if (*role == Role::kChannel && request.channel.empty()) {
    return Status::Unprocessable("a channel key needs a channel (e.g. douyin)");
  }
  if (*role != Role::kChannel && !request.channel.empty()) {
    return Status::Unprocessable("only channel keys are bound to a channel");
  }
  if (request.name.size() > kShortTextMax || request.channel.size() > kShortTextMax) {
    return Status::Unprocessable("name and channel are at most 128 bytes");
  }
  store::ApiKeyRecord record;
  record.principal.id = ids.Next("key");
  record.principal.name = request.name.empty() ? std::string(ToString(*role)) : request.name;
  record.principal.role = *role;
  record.principal.channel = request.channel;
  record.created_at_ms = clock.NowUnixMs();
  std::string secret = GenerateApiKey(random);
  record.key_hash = HashApiKey(secret);
  if (*role == Role::kAdmin) record.totp_secret = GenerateTotpSecret(random);
  OC_RETURN_IF_ERROR(store.InsertApiKey(record));

  boost::json::object out;
  out["id"] = record.principal.id;
  out["key"] = secret;
  out["role"] = ToString(*role);
  out["name"] = record.principal.name;
  if (!record.principal.channel.empty()) out["channel"] = record.principal.channel;
  if (!record.totp_secret.empty()) out["totp_secret"] = record.totp_secret;
  out["created_at"] = FormatRfc3339(record.created_at_ms);
  return out;
}

}  // namespace oc::privacy
