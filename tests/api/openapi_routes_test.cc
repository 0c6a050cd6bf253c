// Holds api/openapi.yaml to the route table (oc::api::AllRoutes()) in both directions: every
// route the server answers is documented, every documented operation is served, and the
// routes that need no API key are exactly the operations that say `security: []`.
//
// The file is read line by line, relying on the layout rule stated at its top: under `paths:`
// a path is a line indented 2 spaces ending in ':', an operation is a method key indented 4
// spaces, and an operation's own keys are indented 6. A full YAML parser would accept layouts
// this reader does not; the rule keeps the file regular enough that it never has to.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/routes.h"

namespace {

using Operation = std::pair<std::string, std::string>;  // (METHOD, path template)

struct ParsedPaths {
  std::map<Operation, bool> operations;  // operation -> public (`security: []`)
  std::vector<std::string> errors;       // layout violations and duplicates
};

constexpr std::string_view kMethods[] = {"get",   "put",  "post",    "delete",
                                         "patch", "head", "options", "trace"};

size_t Indent(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Strips a trailing " # comment" (YAML needs whitespace before '#').
std::string_view StripComment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '#' && (i == 0 || s[i - 1] == ' ')) return TrimRight(s.substr(0, i));
  }
  return TrimRight(s);
}

std::string Unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  return std::string(s);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsMethod(std::string_view key) {
  return std::find(std::begin(kMethods), std::end(kMethods), key) != std::end(kMethods);
}

ParsedPaths ParsePaths(const std::string& yaml) {
  ParsedPaths out;
  std::istringstream in(yaml);
  std::string raw;
  bool in_paths = false;
  bool saw_paths = false;
  std::string path;
  const Operation* current = nullptr;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string_view line = StripComment(raw);
    if (line.find('\t') != std::string_view::npos) {
      out.errors.push_back("line " + std::to_string(line_no) + ": tab character");
      continue;
    }
    const size_t indent = Indent(line);
    if (indent == line.size()) continue;  // blank or comment-only
    std::string_view body = line.substr(indent);
    if (indent == 0) {
      in_paths = body == "paths:";
      saw_paths = saw_paths || in_paths;
      current = nullptr;
      continue;
    }
    if (!in_paths) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (indent == 2) {
      current = nullptr;
      path = body.back() == ':' ? Unquote(body.substr(0, body.size() - 1)) : std::string();
      if (!path.starts_with("/")) {
        out.errors.push_back(where + "expected a path entry '  /...:', got '" + std::string(body) +
                             "'");
        path.clear();
      }
    } else if (indent == 4) {
      current = nullptr;
      if (body.back() != ':') continue;  // a scalar path-level key; not an operation
      std::string_view key = body.substr(0, body.size() - 1);
      if (!IsMethod(key)) continue;
      if (path.empty()) {
        out.errors.push_back(where + "method '" + std::string(key) + "' outside a path");
        continue;
      }
      Operation op{Upper(key), path};
      auto [it, inserted] = out.operations.emplace(op, false);
      if (!inserted) out.errors.push_back(where + "duplicate operation " + op.first + " " + path);
      current = &it->first;
    } else if (indent == 6 && current != nullptr) {
      if (body == "security: []") out.operations[*current] = true;
    }
  }
  if (!saw_paths) out.errors.push_back("no top-level 'paths:' section");
  return out;
}

std::string ReadSpec() {
  const char* dir = std::getenv("ORDERCENTER_SOURCE_DIR");
#ifdef ORDERCENTER_DEFAULT_SOURCE_DIR
  const std::string root = dir != nullptr ? dir : ORDERCENTER_DEFAULT_SOURCE_DIR;
#else
  const std::string root = dir != nullptr ? dir : ".";
#endif
  std::ifstream f(root + "/api/openapi.yaml");
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::map<Operation, bool> RouteTable() {
  std::map<Operation, bool> routes;
  for (const auto& r : oc::api::AllRoutes()) {
    routes.emplace(Operation{std::string(r.method), std::string(r.path_template)},
                   !r.authenticated);
  }
  return routes;
}

std::string Describe(const std::vector<Operation>& ops) {
  std::string s;
  for (const auto& [method, path] : ops) s += "\n  " + method + " " + path;
  return s;
}

// Entries of `a` whose key is missing from `b`.
std::vector<Operation> Missing(const std::map<Operation, bool>& a,
                               const std::map<Operation, bool>& b) {
  std::vector<Operation> out;
  for (const auto& [op, unused] : a) {
    if (!b.contains(op)) out.push_back(op);
  }
  return out;
}

TEST(OpenApiRoutes, FileIsOpenApi31) {
  const std::string spec = ReadSpec();
  ASSERT_FALSE(spec.empty()) << "cannot read api/openapi.yaml under ORDERCENTER_SOURCE_DIR";
  bool seen = false;
  std::istringstream in(spec);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view v = StripComment(line);
    if (!v.starts_with("openapi:")) continue;
    v.remove_prefix(std::string_view("openapi:").size());
    const std::string value = Unquote(v.substr(Indent(v)));
    seen = true;
    EXPECT_TRUE(value == "3.1" || value.starts_with("3.1."))
        << "top-level 'openapi:' is '" << value << "', want 3.1.x";
    break;
  }
  EXPECT_TRUE(seen) << "no top-level 'openapi:' line";
}

TEST(OpenApiRoutes, EveryRouteDocumentedAndEveryOperationServed) {
  const std::string spec = ReadSpec();
  ASSERT_FALSE(spec.empty()) << "cannot read api/openapi.yaml under ORDERCENTER_SOURCE_DIR";
  const ParsedPaths parsed = ParsePaths(spec);
  for (const auto& e : parsed.errors) ADD_FAILURE() << "api/openapi.yaml " << e;

  const auto routes = RouteTable();
  ASSERT_FALSE(routes.empty());
  const auto undocumented = Missing(routes, parsed.operations);
  const auto unserved = Missing(parsed.operations, routes);
  EXPECT_TRUE(undocumented.empty())
      << "in AllRoutes() (src/api/routes.cc) but not in api/openapi.yaml:"
      << Describe(undocumented);
  EXPECT_TRUE(unserved.empty()) << "in api/openapi.yaml but not in AllRoutes() (src/api/routes.cc):"
                                << Describe(unserved);
}

TEST(OpenApiRoutes, PublicRoutesAreExactlyTheOperationsWithoutSecurity) {
  const ParsedPaths parsed = ParsePaths(ReadSpec());
  for (const auto& [op, is_public] : RouteTable()) {
    auto it = parsed.operations.find(op);
    if (it == parsed.operations.end()) continue;  // reported by the test above
    EXPECT_EQ(it->second, is_public)
        << op.first << " " << op.second << ": route table says "
        << (is_public ? "no API key" : "API key required") << ", api/openapi.yaml says "
        << (it->second ? "`security: []`" : "the default bearer security");
  }
}

// The reader itself must notice drift, or the tests above would pass vacuously.
TEST(OpenApiRoutes, ReaderDetectsMissingExtraAndMalformedEntries) {
  const std::string doc =
      "openapi: 3.1.0\n"
      "paths:\n"
      "  /healthz:\n"
      "    get:\n"
      "      security: []\n"
      "      responses: {}\n"
      "  /v1/orders/{id}:  # comment\n"
      "    get:\n"
      "      parameters: []\n"
      "    post:\n"
      "components:\n"
      "  /not-a-path:\n"
      "    get:\n";
  ParsedPaths p = ParsePaths(doc);
  EXPECT_TRUE(p.errors.empty());
  std::map<Operation, bool> want = {{{"GET", "/healthz"}, true},
                                    {{"GET", "/v1/orders/{id}"}, false},
                                    {{"POST", "/v1/orders/{id}"}, false}};
  EXPECT_EQ(p.operations, want);

  std::map<Operation, bool> served = {{{"GET", "/healthz"}, true}, {{"GET", "/readyz"}, true}};
  EXPECT_EQ(Missing(served, p.operations), (std::vector<Operation>{{"GET", "/readyz"}}));
  EXPECT_EQ(Missing(p.operations, served).size(), 2u);

  EXPECT_FALSE(ParsePaths("paths:\n  healthz:\n    get:\n").errors.empty());
  EXPECT_FALSE(ParsePaths("paths:\n  /a:\n    get:\n    get:\n").errors.empty());
  EXPECT_FALSE(ParsePaths("openapi: 3.1.0\n").errors.empty());
}

}  // namespace
