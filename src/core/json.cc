#include "core/json.h"

#include <array>
#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <vector>

#include "core/money.h"

namespace oc::json {
namespace {

namespace bj = boost::json;

// Mirrors boost::json::parser's handler, and additionally records how many members the parser saw
// in each object (in the order objects close) so duplicates, which value_stack silently drops,
// can be detected afterwards.
struct CountingHandler {
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  bj::value_stack st;
  boost::container::small_vector<std::size_t, 16> object_sizes;

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) { return true; }
  bool on_object_end(std::size_t n, bj::error_code&) {
    object_sizes.push_back(n);
    st.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(std::size_t n, bj::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view, bj::error_code&) { return true; }
  bool on_int64(std::int64_t i, bj::string_view, bj::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, bj::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view, bj::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }
};

// Walks the value in the same post-order the parser closed objects in.
template <class Sizes>
bool SizesMatch(const bj::value& v, const Sizes& sizes, size_t* next) {
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (!SizesMatch(kv.value(), sizes, next)) return false;
    }
    if (*next >= sizes.size() || sizes[*next] != v.get_object().size()) return false;
    ++*next;
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (!SizesMatch(e, sizes, next)) return false;
    }
  }
  return true;
}

std::string KindName(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return "null";
    case bj::kind::bool_:
      return "boolean";
    case bj::kind::int64:
    case bj::kind::uint64:
      return "integer";
    case bj::kind::double_:
      return "number with a fraction";
    case bj::kind::string:
      return "string";
    case bj::kind::array:
      return "array";
    case bj::kind::object:
      return "object";
  }
  return "value";
}

Status WrongType(const std::string& path, std::string_view want, const bj::value& got) {
  return Status::InvalidArgument("field '" + path + "' must be " + std::string(want) + ", got " +
                                 KindName(got));
}

Status Missing(const std::string& path) {
  return Status::InvalidArgument("field '" + path + "' is required");
}

}  // namespace

Result<bj::value> ParseStrict(std::string_view body) {
  bj::parse_options opts;
  opts.max_depth = kNestingDepthMax;
  opts.allow_invalid_utf8 = false;
  bj::basic_parser<CountingHandler> parser(opts);
  bj::error_code ec;
  size_t n = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && n < body.size()) ec = bj::error::extra_data;
  if (ec) {
    if (ec == bj::error::too_deep) {
      return Status::InvalidArgument("JSON nesting deeper than " +
                                     std::to_string(kNestingDepthMax) + " levels");
    }
    return Status::InvalidArgument("malformed JSON at byte " + std::to_string(n) + ": " +
                                   ec.message());
  }
  bj::value v = parser.handler().st.release();
  size_t next = 0;
  // Every object the parser closed must be walked: a duplicate key whose dropped value held
  // objects leaves some sizes unvisited even when the visited ones all match.
  if (!SizesMatch(v, parser.handler().object_sizes, &next) ||
      next != parser.handler().object_sizes.size()) {
    return Status::InvalidArgument("JSON object has a duplicate key");
  }
  return v;
}

void AppendQuoted(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Which bytes need escaping: controls, '"' and '\\'. Everything else, UTF-8 included, goes
  // through as it is, a stretch at a time.
  static constexpr auto kEscaped = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = true;
    t['"'] = true;
    t['\\'] = true;
    return t;
  }();
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run = 0;  // start of the pending stretch that needs no escaping, appended in one go
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kEscaped[c]) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

std::string ObjectReader::Path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

const bj::value* ObjectReader::Find(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end()) return nullptr;
  return &it->value();
}

Result<std::string> ObjectReader::RequiredString(std::string_view key, size_t max_len) const {
  OC_ASSIGN_OR_RETURN(auto s, OptionalString(key, max_len));
  if (!s) return Missing(Path(key));
  return std::move(*s);
}

Result<std::optional<std::string>> ObjectReader::OptionalString(std::string_view key,
                                                                size_t max_len) const {
  const bj::value* v = Find(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return WrongType(Path(key), "a string", *v);
  const auto& s = v->get_string();
  if (s.size() > max_len) {
    return Status::InvalidArgument("field '" + Path(key) + "' is longer than " +
                                   std::to_string(max_len) + " bytes");
  }
  return std::optional<std::string>(std::string(s.data(), s.size()));
}

Result<int64_t> ObjectReader::RequiredInt(std::string_view key) const {
  OC_ASSIGN_OR_RETURN(auto i, OptionalInt(key));
  if (!i) return Missing(Path(key));
  return *i;
}

Result<std::optional<int64_t>> ObjectReader::OptionalInt(std::string_view key) const {
  const bj::value* v = Find(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  int64_t out;
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64()) {
    out = kMoneyMagnitudeMax + 1;  // any uint64 that did not fit int64 is out of range
  } else {
    return WrongType(Path(key), "an integer", *v);
  }
  if (out > kMoneyMagnitudeMax || out < -kMoneyMagnitudeMax) {
    return Status::InvalidArgument("field '" + Path(key) +
                                   "' is beyond the safe integer range 2^53");
  }
  return std::optional<int64_t>(out);
}

Result<std::optional<int64_t>> ObjectReader::OptionalIntNotNull(std::string_view key) const {
  const bj::value* v = Find(key);
  if (v != nullptr && v->is_null()) {
    return Status::InvalidArgument("field '" + Path(key) +
                                   "' must be an integer, not null (leave it out instead)");
  }
  return OptionalInt(key);
}

Result<std::optional<bool>> ObjectReader::OptionalBool(std::string_view key) const {
  const bj::value* v = Find(key);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return WrongType(Path(key), "a boolean", *v);
  return std::optional<bool>(v->get_bool());
}

Result<const bj::object*> ObjectReader::RequiredObject(std::string_view key) const {
  OC_ASSIGN_OR_RETURN(const bj::object* o, OptionalObject(key));
  if (o == nullptr) return Missing(Path(key));
  return o;
}

Result<const bj::object*> ObjectReader::OptionalObject(std::string_view key) const {
  const bj::value* v = Find(key);
  if (v == nullptr || v->is_null()) return static_cast<const bj::object*>(nullptr);
  if (!v->is_object()) return WrongType(Path(key), "an object", *v);
  return &v->get_object();
}

Result<const bj::array*> ObjectReader::RequiredArray(std::string_view key) const {
  const bj::value* v = Find(key);
  if (v == nullptr || v->is_null()) return Missing(Path(key));
  if (!v->is_array()) return WrongType(Path(key), "an array", *v);
  return &v->get_array();
}

Status ObjectReader::OnlyKeys(std::initializer_list<std::string_view> allowed) const {
  for (const auto& kv : obj_) {
    bool known = false;
    for (auto a : allowed) known = known || (a == kv.key());
    if (!known) {
      return Status::InvalidArgument("field '" + Path(kv.key()) + "' is not accepted here");
    }
  }
  return Status::Ok();
}

}  // namespace oc::json
