// The route table of orderd: every (method, path template) the server answers.
//
// The router is built from this table and nothing else, and a test holds api/openapi.yaml to
// it in both directions, so the documented contract and the running server cannot drift apart.
// Path templates use OpenAPI syntax ("/v1/orders/{id}"); a literal segment wins over a
// parameter ("/v1/inventory/oversold" is not the SKU "oversold"). Immutable: thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace oc::api {

enum class RouteId {
  kDashboard,
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kCreateOrder,
  kListOrders,
  kGetOrder,
  kTransitionOrder,
  kAssignOrder,
  kCreateKey,
  kPutInventory,
  kGetInventory,
  kListOversold,
  kCreateReservation,
  kGetReservation,
  kReleaseReservation,
  kCreateSubscription,
  kListSubscriptions,
  kGetSubscription,
  kDeleteSubscription,
  kListDeadLetters,
  kReplayDeadLetter,
  kStepUp,
  kRevealOrder,
  kExportOrders,
  kListAudit,
  kVerifyAudit,
};

struct RouteSpec {
  RouteId id;
  std::string_view method;         // "GET", "POST", ...
  std::string_view path_template;  // "/v1/orders/{id}"
  bool authenticated;              // whether an API key is required
};

std::span<const RouteSpec> AllRoutes();

}  // namespace oc::api
