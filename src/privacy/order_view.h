// Role views of an order: the only code that turns an Order into JSON for a caller.
//
// API.md's role table lives here and nowhere else. A field a role may not see is absent from
// the object (never null, never a placeholder); personal data is masked for every role, and
// plaintext leaves the server only through the audited reveal endpoint. Scope rules decide
// whether a principal may know an order exists: out-of-scope reads answer 404 (so ids cannot be
// probed), and roles with no order access at all answer 403. Pure functions: thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "core/order.h"
#include "core/principal.h"
#include "core/status.h"

namespace oc::privacy {

// Whether `viewer` may read single orders or lists at all (operations may not: 403).
Status CheckOrderReadAccess(const Principal& viewer);

// Whether `order` is inside `viewer`'s scope; a NotFound status when it is not.
Status CheckOrderScope(const Order& order, const Principal& viewer);

// Whether `viewer` sees only some orders (its channel's, or those assigned to it), so that an
// order it is told does not exist may exist outside its scope.
bool ReadsWithinScope(const Principal& viewer);

// The order as `viewer` may see it, as JSON text appended to `out` (the serving path).
void AppendOrderJson(const Order& order, const Principal& viewer, std::string* out);
std::string RenderOrderJson(const Order& order, const Principal& viewer);
// The same view as a JSON object, for callers that compose or inspect it (parses the text, so
// there is one renderer and the two forms cannot disagree).
boost::json::object RenderOrder(const Order& order, const Principal& viewer);

}  // namespace oc::privacy
