#include "core/principal.h"

#include <array>
#include <utility>

namespace oc {
namespace {
constexpr std::array<std::pair<Role, std::string_view>, 6> kRoleNames = {{
    {Role::kAdmin, "admin"},
    {Role::kChannel, "channel"},
    {Role::kCustomerService, "customer_service"},
    {Role::kWarehouse, "warehouse"},
    {Role::kFinance, "finance"},
    {Role::kOperations, "operations"},
}};
}  // namespace

std::string_view ToString(Role role) {
  for (const auto& [r, n] : kRoleNames) {
    if (r == role) return n;
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [r, n] : kRoleNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

}  // namespace oc
