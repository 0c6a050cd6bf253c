// Static assets compiled into orderd: the dashboard page and the OpenAPI document, so a single
// binary serves them with no files to install beside it.
#pragma once

#include <string_view>

namespace oc::web {

std::string_view DashboardHtml();
std::string_view OpenApiYaml();

}  // namespace oc::web
