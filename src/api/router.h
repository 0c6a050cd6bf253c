// Router: matches a method and path against the route table (routes.h).
// A path that matches no template is 404 not_found; a known path with another method is
// 405 method_not_allowed; a path parameter with malformed percent-encoding or a NUL is 400
// invalid_request. Stateless: thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "api/routes.h"
#include "core/status.h"

namespace oc::api {

struct RouteMatch {
  const RouteSpec* route = nullptr;
  std::string id;  // the {id} path parameter, percent-decoded, when the template has one
  std::string allowed_methods;  // for 405 responses
};

Result<RouteMatch> MatchRoute(std::string_view method, std::string_view path);

// The methods `path` answers to, comma-separated, for a 405's Allow header ("" if none).
std::string AllowedMethods(std::string_view path);

}  // namespace oc::api
