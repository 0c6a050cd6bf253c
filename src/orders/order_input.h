// Parsing and validating an order-creation request into an Order (API.md, POST /v1/orders).
//
// Structural problems (malformed JSON, wrong types, missing or unknown fields — including the
// server-owned ones a client might try to set, like `status`, `version` or `total`) are 400
// invalid_request naming the field; business-invalid input (qty <= 0, unknown currency, empty
// lines, amounts beyond 2^53) is 422 invalid_request. The total is computed here, never taken
// from the client. Pure: thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "core/order.h"
#include "core/status.h"

namespace oc::orders {

// `accept_oversell`, when given, receives the request's "accept_oversell" flag (false if absent).
Result<Order> ParseCreateOrder(const boost::json::value& body, bool* accept_oversell = nullptr);

// The lines of a checkout hold (POST /v1/reservations): 1..kOrderLinesMax of {"sku", "qty"}.
struct SkuQty {
  std::string sku;
  int64_t qty = 0;
};
Result<std::vector<SkuQty>> ParseSkuLines(const boost::json::value* lines);

}  // namespace oc::orders
