#include "api/router.h"

#include <boost/url/pct_string_view.hpp>

namespace oc::api {
namespace {

// Matches "/v1/orders/{id}/transitions" against a concrete path, capturing one {param}.
bool MatchTemplate(std::string_view tmpl, std::string_view path, std::string* param) {
  while (!tmpl.empty() || !path.empty()) {
    size_t brace = tmpl.find('{');
    if (brace == std::string_view::npos) return tmpl == path;
    if (path.substr(0, brace) != tmpl.substr(0, brace)) return false;
    tmpl.remove_prefix(brace);
    path.remove_prefix(brace);
    size_t close = tmpl.find('}');
    tmpl.remove_prefix(close + 1);
    size_t slash = path.find('/');
    std::string_view value = path.substr(0, slash);
    if (value.empty()) return false;
    *param = std::string(value);
    path.remove_prefix(value.size());
  }
  return true;
}

// A path parameter as the client meant it: "A%20B" is the SKU "A B" that order lines name in
// their JSON. Malformed escapes and NUL are refused rather than kept as literal text.
Result<std::string> DecodeParam(std::string_view raw) {
  if (raw.find('%') == std::string_view::npos) return std::string(raw);  // ids: nothing to do
  auto pct = boost::urls::make_pct_string_view(raw);
  if (!pct) return Status::InvalidArgument("malformed percent-encoding in the path");
  std::string decoded = pct->decode();
  if (decoded.find('\0') != std::string::npos || decoded.empty()) {
    return Status::InvalidArgument("the path names an empty value or one with a NUL byte");
  }
  return decoded;
}

bool IsLiteral(std::string_view tmpl) { return tmpl.find('{') == std::string_view::npos; }

// Whether some literal template names exactly this path; then templates with parameters
// don't apply to it at all.
bool LiteralPathExists(std::string_view path) {
  for (const RouteSpec& r : AllRoutes()) {
    if (IsLiteral(r.path_template) && r.path_template == path) return true;
  }
  return false;
}

// Does route `r` answer `path`?
bool Applies(const RouteSpec& r, std::string_view path, bool literal_exists, std::string* param) {
  if (literal_exists && !IsLiteral(r.path_template)) return false;
  return MatchTemplate(r.path_template, path, param);
}

}  // namespace

std::string AllowedMethods(std::string_view path) {
  std::string allowed;
  bool literal = LiteralPathExists(path);
  for (const RouteSpec& r : AllRoutes()) {
    std::string param;
    if (!Applies(r, path, literal, &param)) continue;
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
  }
  return allowed;
}

Result<RouteMatch> MatchRoute(std::string_view method, std::string_view path) {
  // Fast path for the hot endpoints (POST /v1/reservations, /v1/orders): a literal template
  // naming this exact path and method is the answer the full walk below would give (literal
  // paths shadow templates), without matching every template and listing the allowed methods
  // only a 405 needs. That walk was ~4% of a checkout hold's instructions.
  for (const RouteSpec& r : AllRoutes()) {
    if (r.path_template.size() == path.size() && IsLiteral(r.path_template) &&
        r.path_template == path &&
        (r.method == method || (method == "HEAD" && r.method == "GET"))) {
      RouteMatch fast;
      fast.route = &r;
      return fast;
    }
  }
  RouteMatch m;
  bool path_known = false;
  bool literal = LiteralPathExists(path);
  for (const RouteSpec& r : AllRoutes()) {
    std::string param;
    if (!Applies(r, path, literal, &param)) continue;
    path_known = true;
    if (!m.allowed_methods.empty()) m.allowed_methods += ", ";
    m.allowed_methods += r.method;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      m.route = &r;
      m.id = std::move(param);
    }
  }
  if (m.route != nullptr) {
    OC_ASSIGN_OR_RETURN(m.id, DecodeParam(m.id));
    return m;
  }
  if (path_known) {
    return Status::Make(
        ErrorKind::kMethodNotAllowed, "method_not_allowed",
        std::string(method) + " is not allowed here; allowed: " + m.allowed_methods);
  }
  return Status::NotFound("no such route");
}

}  // namespace oc::api
