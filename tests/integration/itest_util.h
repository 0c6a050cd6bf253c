// Small helpers shared by the integration tests (header-only, on top of orderd_harness.h).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>

#include "integration/orderd_harness.h"

namespace oc::itest {

// The value at a dotted path ("customer.phone", "lines"), or nullptr when absent.
inline const boost::json::value* At(const boost::json::object& o, const std::string& path) {
  const boost::json::object* cur = &o;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const boost::json::value* v = cur->if_contains(key);
    if (v == nullptr || dot == std::string::npos) return v;
    if (!v->is_object()) return nullptr;
    cur = &v->get_object();
    start = dot + 1;
  }
}

inline std::string Str(const boost::json::object& o, const std::string& path) {
  const boost::json::value* v = At(o, path);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

inline int64_t Int(const boost::json::object& o, const std::string& path) {
  const boost::json::value* v = At(o, path);
  return v && v->is_int64() ? v->as_int64()
                            : (v && v->is_uint64() ? static_cast<int64_t>(v->as_uint64()) : -1);
}

inline boost::json::object Obj(const HttpResponse& r) {
  boost::json::value v = r.Json();
  return v.is_object() ? v.get_object() : boost::json::object{};
}

inline std::string TransitionBody(const std::string& to, int64_t expected_version,
                                  const std::string& reason = "integration test") {
  boost::json::object b;
  b["to"] = to;
  b["expected_version"] = expected_version;
  b["reason"] = reason;
  return boost::json::serialize(b);
}

// The personal data the privacy tests plant in orders, and then look for where it must not be.
inline constexpr const char* kPiiPhone = "13812345678";
inline constexpr const char* kPiiName = "李四";
inline constexpr const char* kPiiIdNumber = "110101199003071234";
inline constexpr const char* kPiiDetail = "文三路 1 号";
inline constexpr const char* kPiiInvoiceTitle = "杭州西湖云栖科技有限公司";
inline constexpr const char* kPiiTaxId = "91330106MA2B0Q7X3K";

// An order view flattened as the CSV export flattens it: nested objects become dotted keys,
// arrays and scalars are leaves (strings as themselves, null as "", the rest as JSON text).
inline std::map<std::string, std::string> FlattenView(const boost::json::object& o,
                                                      const std::string& prefix = "") {
  std::map<std::string, std::string> out;
  for (const auto& kv : o) {
    std::string key = prefix + std::string(kv.key());
    if (kv.value().is_object()) {
      auto inner = FlattenView(kv.value().get_object(), key + ".");
      out.insert(inner.begin(), inner.end());
    } else if (kv.value().is_string()) {
      out[key] = std::string(kv.value().get_string());
    } else if (kv.value().is_null()) {
      out[key] = "";
    } else {
      out[key] = boost::json::serialize(kv.value());
    }
  }
  return out;
}

inline std::set<std::string> KeysOf(const std::map<std::string, std::string>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

}  // namespace oc::itest
