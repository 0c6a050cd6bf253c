#include "api/routes.h"

#include <array>

namespace oc::api {
namespace {
constexpr std::array<RouteSpec, 28> kRoutes = {{
    {RouteId::kDashboard, "GET", "/", false},
    {RouteId::kHealthz, "GET", "/healthz", false},
    {RouteId::kReadyz, "GET", "/readyz", false},
    {RouteId::kMetrics, "GET", "/metrics", false},
    {RouteId::kOpenApi, "GET", "/openapi.yaml", false},
    {RouteId::kCreateOrder, "POST", "/v1/orders", true},
    {RouteId::kListOrders, "GET", "/v1/orders", true},
    {RouteId::kGetOrder, "GET", "/v1/orders/{id}", true},
    {RouteId::kTransitionOrder, "POST", "/v1/orders/{id}/transitions", true},
    {RouteId::kAssignOrder, "POST", "/v1/orders/{id}/assign", true},
    {RouteId::kCreateKey, "POST", "/v1/keys", true},
    {RouteId::kPutInventory, "PUT", "/v1/inventory/{sku}", true},
    {RouteId::kGetInventory, "GET", "/v1/inventory/{sku}", true},
    {RouteId::kListOversold, "GET", "/v1/inventory/oversold", true},
    {RouteId::kCreateReservation, "POST", "/v1/reservations", true},
    {RouteId::kGetReservation, "GET", "/v1/reservations/{id}", true},
    {RouteId::kReleaseReservation, "DELETE", "/v1/reservations/{id}", true},
    {RouteId::kCreateSubscription, "POST", "/v1/subscriptions", true},
    {RouteId::kListSubscriptions, "GET", "/v1/subscriptions", true},
    {RouteId::kGetSubscription, "GET", "/v1/subscriptions/{id}", true},
    {RouteId::kDeleteSubscription, "DELETE", "/v1/subscriptions/{id}", true},
    {RouteId::kListDeadLetters, "GET", "/v1/dead-letters", true},
    {RouteId::kReplayDeadLetter, "POST", "/v1/dead-letters/{id}/replay", true},
    {RouteId::kStepUp, "POST", "/v1/auth/step-up", true},
    {RouteId::kRevealOrder, "POST", "/v1/orders/{id}/reveal", true},
    {RouteId::kExportOrders, "GET", "/v1/orders/export.csv", true},
    {RouteId::kListAudit, "GET", "/v1/audit", true},
    {RouteId::kVerifyAudit, "GET", "/v1/audit/verify", true},
}};
}  // namespace

std::span<const RouteSpec> AllRoutes() { return kRoutes; }

}  // namespace oc::api
