// Request and Response: one HTTP/1.1 exchange as orderd handles it.
//
// A Request is what HttpServer read: the request line, the header fields (looked up by name,
// case-insensitively, as HTTP wants) and the body. A Response is what a handler answers: a
// status, the fields it sets and a body; SerializeTo() adds Content-Length and Connection and
// renders the whole answer into one buffer for one write. Both are plain values. They replace
// Beast's general-purpose messages on the request path, which allocate every field on its own
// and render through a chain of buffer views (together about a tenth of a checkout hold's
// instructions); Beast still parses (RequestParser in http_server.cc).
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace oc::api {

namespace http = boost::beast::http;

class Request {
 public:
  Request() = default;
  // A request built by hand (the parser builds it field by field).
  Request(http::verb method, std::string_view target, unsigned version = 11);

  http::verb method() const { return method_; }
  std::string_view method_string() const { return Slice(method_text_); }
  std::string_view target() const { return Slice(target_text_); }
  unsigned version() const { return version_; }  // 10 or 11
  bool keep_alive() const { return keep_alive_; }

  // The value of the first field so named, or empty when there is none.
  std::string_view operator[](http::field name) const;
  std::string_view operator[](std::string_view name) const;
  // How many fields are so named (a client may send a field more than once). `known` is
  // http::string_to_field(name), for callers that looked it up once.
  size_t Count(std::string_view name) const { return Count(http::string_to_field(name), name); }
  size_t Count(http::field known, std::string_view name) const;

  const std::string& body() const { return body_; }
  std::string& body() { return body_; }

  // For the parser.
  void SetRequestLine(http::verb method, std::string_view method_string, std::string_view target,
                      unsigned version);
  void AddField(http::field name, std::string_view name_string, std::string_view value);
  void set_keep_alive(bool keep_alive) { keep_alive_ = keep_alive; }

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  struct Field {
    http::field name;
    Span name_string;
    Span value;
  };
  static constexpr size_t kFieldsInline = 12;  // a client's usual header fits without a heap

  std::string_view Slice(Span s) const { return std::string_view(text_).substr(s.offset, s.size); }
  Span Append(std::string_view s);

  http::verb method_ = http::verb::unknown;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::string text_;  // the method, target, field names and values, back to back
  Span method_text_;
  Span target_text_;
  boost::container::small_vector<Field, kFieldsInline> fields_;
  std::string body_;
};

class Response {
 public:
  Response() = default;
  Response(unsigned status, unsigned version, bool keep_alive)
      : status_(status), version_(version), keep_alive_(keep_alive) {}

  unsigned result_int() const { return status_; }
  unsigned version() const { return version_; }
  bool keep_alive() const { return keep_alive_; }
  void keep_alive(bool keep_alive) { keep_alive_ = keep_alive; }
  // Sets a field, replacing one of the same name. Names are Beast's or string literals, and so
  // are fixed values (kept as views: no copy); other values are copied. Content-Length and
  // Connection are the server's (SerializeTo) and must not be set here.
  void set(http::field name, std::string_view value) { Set(http::to_string(name), value, false); }
  template <size_t N>
  void set(http::field name, const char (&value)[N]) {
    Set(http::to_string(name), std::string_view(value, N - 1), true);
  }
  template <size_t N>
  void set(const char (&name)[N], std::string_view value) {
    Set(std::string_view(name, N - 1), value, false);
  }
  // The value of the field so named, or empty.
  std::string_view operator[](std::string_view name) const;
  std::string_view operator[](http::field name) const { return (*this)[http::to_string(name)]; }

  const std::string& body() const { return body_; }
  std::string& body() { return body_; }

  // Appends the answer as it goes on the wire: status line, the fields in the order they were
  // first set, Content-Length (of the body, also when `with_body` is false, as HEAD needs),
  // Connection where the version's default is not what keep_alive() says, a blank line, and
  // the body when `with_body`.
  void SerializeTo(std::string* wire, bool with_body) const;

 private:
  struct Field {
    std::string_view name;   // static storage
    std::string_view fixed;  // a literal value, or empty when `owned` holds it
    std::string owned;
    std::string_view value() const { return fixed.data() != nullptr ? fixed : owned; }
  };
  void Set(std::string_view name, std::string_view value, bool fixed);

  static constexpr size_t kFieldsInline = 4;
  unsigned status_ = 200;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  boost::container::small_vector<Field, kFieldsInline> fields_;
  std::string body_;
};

}  // namespace oc::api
