#include "api/http_message.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

namespace oc::api {
namespace {

bool SameName(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

void AppendNumber(std::string* out, uint64_t n) {
  char digits[20];
  size_t len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (len > 0) out->push_back(digits[--len]);
}

}  // namespace

Request::Request(http::verb method, std::string_view target, unsigned version) {
  SetRequestLine(method, http::to_string(method), target, version);
}

Request::Span Request::Append(std::string_view s) {
  Span span{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(s.size())};
  text_.append(s);
  return span;
}

void Request::SetRequestLine(http::verb method, std::string_view method_string,
                             std::string_view target, unsigned version) {
  method_ = method;
  version_ = version;
  keep_alive_ = version >= 11;  // until the header says otherwise
  // Room for a usual header, so the fields rarely grow the text again.
  text_.reserve(method_string.size() + target.size() + 256);
  method_text_ = Append(method_string);
  target_text_ = Append(target);
}

void Request::AddField(http::field name, std::string_view name_string, std::string_view value) {
  Field f{name, Append(name_string), Append(value)};
  fields_.push_back(f);
}

std::string_view Request::operator[](http::field name) const {
  for (const Field& f : fields_) {
    if (f.name == name) return Slice(f.value);
  }
  return {};
}

std::string_view Request::operator[](std::string_view name) const {
  http::field known = http::string_to_field(name);
  if (known != http::field::unknown) return (*this)[known];
  for (const Field& f : fields_) {
    if (f.name == http::field::unknown && SameName(Slice(f.name_string), name)) {
      return Slice(f.value);
    }
  }
  return {};
}

size_t Request::Count(http::field known, std::string_view name) const {
  size_t n = 0;
  for (const Field& f : fields_) {
    if (known != http::field::unknown
            ? f.name == known
            : f.name == http::field::unknown && SameName(Slice(f.name_string), name)) {
      ++n;
    }
  }
  return n;
}

void Response::Set(std::string_view name, std::string_view value, bool fixed) {
  Field* f = nullptr;
  for (Field& existing : fields_) {
    if (SameName(existing.name, name)) f = &existing;
  }
  if (f == nullptr) f = &fields_.emplace_back(Field{name, {}, {}});
  if (fixed) {
    f->fixed = value;
    f->owned.clear();
  } else {
    f->fixed = {};
    f->owned.assign(value);
  }
}

std::string_view Response::operator[](std::string_view name) const {
  for (const Field& f : fields_) {
    if (SameName(f.name, name)) return f.value();
  }
  return {};
}

void Response::SerializeTo(std::string* wire, bool with_body) const {
  std::string_view reason = http::obsolete_reason(static_cast<http::status>(status_));
  size_t fields_bytes = 0;
  for (const Field& f : fields_) fields_bytes += f.name.size() + f.value().size() + 4;
  std::string& out = *wire;
  out.reserve(out.size() + 64 + reason.size() + fields_bytes + (with_body ? body_.size() : 0));
  out.append(version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  AppendNumber(&out, status_);
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  for (const Field& f : fields_) {
    out.append(f.name);
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("Content-Length: ");
  AppendNumber(&out, body_.size());
  out.append("\r\n");
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (version_ >= 11 && !keep_alive_) out.append("Connection: close\r\n");
  if (version_ < 11 && keep_alive_) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
  if (with_body) out.append(body_);
}

}  // namespace oc::api
