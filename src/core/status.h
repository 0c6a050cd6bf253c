// Status and Result<T>: how every expected failure travels in OrderCenter.
//
// A Status is either ok or carries a stable machine `code` (the same string the HTTP API puts in
// problem+json, e.g. "out_of_stock", "invalid_transition"), an HTTP-ish category and a human
// detail. Expected failures (bad input, conflicts, I/O) are Status values, never exceptions;
// exceptions are reserved for programming errors and never cross a module boundary.
// Status and Result are cheap to move, immutable once built, and safe to pass between threads.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace oc {

// The category decides the HTTP status a failure maps to; the code is the stable contract.
enum class ErrorKind {
  kInvalidArgument,   // 400: malformed or wrongly typed input
  kUnprocessable,     // 422: well-formed but business-invalid input
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kConflict,          // 409: state does not allow it (out of stock, version, transition)
  kTooLarge,          // 413
  kHeadersTooLarge,   // 431: request line and headers over the limit (RFC 6585)
  kUnsupportedMedia,  // 415
  kRateLimited,       // 429
  kUnavailable,       // 503: overloaded or shutting down; retry later
  kIOError,           // 500: storage or OS failure
  kInternal,          // 500: a bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string detail, std::string code = "invalid_request") {
    return Status(ErrorKind::kInvalidArgument, std::move(code), std::move(detail));
  }
  static Status Unprocessable(std::string detail, std::string code = "invalid_request") {
    return Status(ErrorKind::kUnprocessable, std::move(code), std::move(detail));
  }
  static Status Unauthenticated(std::string detail) {
    return Status(ErrorKind::kUnauthenticated, "unauthorized", std::move(detail));
  }
  static Status PermissionDenied(std::string detail) {
    return Status(ErrorKind::kPermissionDenied, "forbidden", std::move(detail));
  }
  static Status NotFound(std::string detail) {
    return Status(ErrorKind::kNotFound, "not_found", std::move(detail));
  }
  static Status Conflict(std::string code, std::string detail) {
    return Status(ErrorKind::kConflict, std::move(code), std::move(detail));
  }
  static Status TooLarge(std::string detail) {
    return Status(ErrorKind::kTooLarge, "payload_too_large", std::move(detail));
  }
  static Status Unavailable(std::string detail) {
    return Status(ErrorKind::kUnavailable, "unavailable", std::move(detail));
  }
  static Status IOError(std::string detail) {
    return Status(ErrorKind::kIOError, "io_error", std::move(detail));
  }
  static Status Internal(std::string detail) {
    return Status(ErrorKind::kInternal, "internal", std::move(detail));
  }
  static Status Make(ErrorKind kind, std::string code, std::string detail) {
    return Status(kind, std::move(code), std::move(detail));
  }

  bool ok() const { return rep_ == nullptr; }
  ErrorKind kind() const { return rep_->kind; }
  const std::string& code() const { return rep_->code; }
  const std::string& detail() const { return rep_->detail; }
  std::string ToString() const { return ok() ? "ok" : rep_->code + ": " + rep_->detail; }

 private:
  struct Rep {
    ErrorKind kind;
    std::string code;
    std::string detail;
  };
  Status(ErrorKind kind, std::string code, std::string detail)
      : rep_(std::make_shared<const Rep>(Rep{kind, std::move(code), std::move(detail)})) {}
  std::shared_ptr<const Rep> rep_;
};

// Result<T>: a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace oc

// Early-return helpers; they keep call sites flat.
#define OC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::oc::Status oc_status_ = (expr);        \
    if (!oc_status_.ok()) return oc_status_; \
  } while (0)

#define OC_CONCAT_INNER(a, b) a##b
#define OC_CONCAT(a, b) OC_CONCAT_INNER(a, b)
#define OC_ASSIGN_OR_RETURN(lhs, expr) \
  OC_ASSIGN_OR_RETURN_IMPL(OC_CONCAT(oc_result_, __LINE__), lhs, expr)
#define OC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
