// Parsing and validating an order-creation request into an Order (API.md, POST /v1/orders).
//
// Structural problems (malformed JSON, wrong types, missing or unknown fields — including the
// server-owned ones a client might try to set, like `status`, `version` or `total`) are 400
// invalid_request naming the field; business-invalid input (qty <= 0, unknown currency, empty
// lines, amounts beyond 2^53) is 422 invalid_request. The total is computed here, never taken
// from the client. Pure: thread-safe.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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

// A checkout hold's request body: {"lines": [...], "ttl_seconds": N} (ttl optional; its range
// is the caller's to check).
struct HoldRequest {
  std::vector<SkuQty> lines;
  std::optional<int64_t> ttl_seconds;
};
// Reads the body with ReadSimpleHoldRequest when it has the usual shape, else the general way
// (ParseStrict, ParseSkuLines), which also words every error.
Result<HoldRequest> ParseHoldRequest(std::string_view body);
// The general way alone.
Result<HoldRequest> ParseHoldRequestGeneral(std::string_view body);
// The usual shape read without building a JSON document: keys "lines" (each line exactly
// {"sku", "qty"}) and "ttl_seconds" once each in any order, JSON whitespace anywhere, skus of
// 1..kShortTextMax letters, digits and "-_.:/", quantities 1..kLineQtyMax and a ttl of at most
// nine digits, written without sign, fraction, exponent or leading zero. Anything else gives
// nullopt, for the general way to read (and refuse, if it must): this accepts nothing the
// general way refuses, and reads the same values (tests compare the two). A flash sale sends
// this shape thousands of times a second; a document costs about a tenth of a hold.
std::optional<HoldRequest> ReadSimpleHoldRequest(std::string_view body);

}  // namespace oc::orders
