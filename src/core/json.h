// Strict JSON input: the one parser every request body goes through.
//
// Stricter than Boost.JSON's defaults where lax parsing becomes a security or data bug:
// duplicate keys are refused (otherwise a proxy and the server could read different values),
// nesting is capped, invalid UTF-8 is refused, and the typed accessors below refuse floats and
// integers beyond 2^53 where an integer is expected. Every error names the offending field.
// Stateless and thread-safe.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace oc::json {

inline constexpr size_t kNestingDepthMax = 16;

Result<boost::json::value> ParseStrict(std::string_view body);

// Appends `s` as a JSON string literal (quoted, escaped) for hand-built documents on hot paths.
// `s` must be valid UTF-8 (everything from ParseStrict is).
void AppendQuoted(std::string* out, std::string_view s);

// Field readers over an object. `path` is the field's name as the client sees it
// ("lines[2].qty") and appears in the error detail. Missing required fields and wrong types are
// 400 invalid_request.
class ObjectReader {
 public:
  ObjectReader(const boost::json::object& obj, std::string path_prefix)
      : obj_(obj), prefix_(std::move(path_prefix)) {}

  Result<std::string> RequiredString(std::string_view key, size_t max_len) const;
  Result<std::optional<std::string>> OptionalString(std::string_view key, size_t max_len) const;
  Result<int64_t> RequiredInt(std::string_view key) const;
  Result<std::optional<int64_t>> OptionalInt(std::string_view key) const;
  // As OptionalInt, but null is a wrong type, not "absent": for a field whose absence turns a
  // check off (expected_version), where a null is more likely a client's bug than its intent.
  Result<std::optional<int64_t>> OptionalIntNotNull(std::string_view key) const;
  Result<std::optional<bool>> OptionalBool(std::string_view key) const;
  Result<const boost::json::object*> RequiredObject(std::string_view key) const;
  Result<const boost::json::object*> OptionalObject(std::string_view key) const;
  Result<const boost::json::array*> RequiredArray(std::string_view key) const;
  // Refuses any key not in `allowed`; used where an unknown field could be mass assignment.
  Status OnlyKeys(std::initializer_list<std::string_view> allowed) const;

  std::string Path(std::string_view key) const;

 private:
  const boost::json::value* Find(std::string_view key) const;
  const boost::json::object& obj_;
  std::string prefix_;
};

}  // namespace oc::json
