// Parsing and validating an order-creation request into an Order (API.md, POST /v1/orders).
//
// Structural problems (malformed JSON, wrong types, missing or unknown fields — including the
// server-owned ones a client might try to set, like `status`, `version` or `total`) are 400
// invalid_request naming the field; business-invalid input (qty <= 0, unknown currency, empty
// lines, amounts beyond 2^53) is 422 invalid_request. The total is computed here, never taken
// from the client. Pure: thread-safe.
#pragma once

#include <boost/json.hpp>

#include "core/order.h"
#include "core/status.h"

namespace oc::orders {

Result<Order> ParseCreateOrder(const boost::json::value& body);

}  // namespace oc::orders
