// Principals and roles: who is calling, and the one role that decides what they may do and see.
//
// Every API key belongs to exactly one principal with exactly one role (API.md). A `channel`
// principal is bound to one channel name and only ever touches that channel's orders.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace oc {

enum class Role { kAdmin, kChannel, kCustomerService, kWarehouse, kFinance, kOperations };

std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct Principal {
  std::string id;    // "key_…"; also the agent id used by assignment
  std::string name;
  Role role = Role::kOperations;
  std::string channel;  // only for Role::kChannel
};

}  // namespace oc
