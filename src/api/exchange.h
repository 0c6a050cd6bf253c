// Internal to api/: one request in flight (Exchange) and the small helpers every handler file
// shares. Not part of any public interface.
#pragma once

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <charconv>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "api/order_center_api.h"
#include "api/routes.h"
#include "core/json.h"
#include "core/principal.h"
#include "store/store.h"

namespace oc::api {

namespace bj = boost::json;

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline Response JsonResponse(unsigned status, std::string body, const Request& req) {
  Response res(status, req.version(), req.keep_alive());
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

inline Response TextResponse(unsigned status, std::string_view content_type, std::string body,
                             const Request& req) {
  Response res(status, req.version(), req.keep_alive());
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

// A request body that must be one JSON object (every write endpoint's shape).
inline Result<bj::value> ParseObjectBody(std::string_view body) {
  OC_ASSIGN_OR_RETURN(bj::value v, json::ParseStrict(body));
  if (!v.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  return v;
}

// Parses ?limit=&cursor= for lists paged by position ("p<offset>" cursors).
struct PageParams {
  size_t limit = store::kListLimitDefault;
  size_t offset = 0;
};

// ?limit= from 1 to `max`, in digits only: no sign, space or trailing bytes (a decoded
// "5%00abc" is not 5).
inline Status ParseLimit(std::string_view value, size_t* limit, size_t max = store::kListLimitMax) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > max) {
    return Status::InvalidArgument("query parameter 'limit' must be an integer from 1 to " +
                                   std::to_string(max));
  }
  *limit = n;
  return Status::Ok();
}

// Cursors are a kind letter and a position: 'c' (before this order seq) for order lists, 'p'
// (from this offset) for computed work lists such as the oversold one, 'a' (after this entry)
// for the audit log.
inline std::string EncodeCursor(int64_t position, char kind = 'c') {
  return kind + std::to_string(position);
}

inline Result<int64_t> DecodeCursor(std::string_view cursor, char kind = 'c') {
  if (cursor.size() < 2 || cursor.size() > 19 || cursor[0] != kind) {  // 18 digits: no overflow
    return Status::InvalidArgument("query parameter 'cursor' is not a cursor this server issued");
  }
  int64_t v = 0;
  for (char c : cursor.substr(1)) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("query parameter 'cursor' is not a cursor this server issued");
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

// Dead-letter cursors: 'd', then the last letter's created_at, event_seq and id, dot-separated
// ("d1764657000000.42.dlq_…"). They carry the whole position, so a page goes on from where
// the last one ended even if that letter has changed since.
inline std::string EncodeDeadLetterCursor(const store::DeadLetterPosition& at) {
  return "d" + std::to_string(at.created_at_ms) + "." + std::to_string(at.event_seq) + "." + at.id;
}

inline Result<store::DeadLetterPosition> DecodeDeadLetterCursor(std::string_view cursor) {
  auto bad = [] {
    return Status::InvalidArgument("query parameter 'cursor' is not a cursor this server issued");
  };
  if (cursor.size() < 2 || cursor.size() > 128 || cursor[0] != 'd') return bad();
  std::string_view rest = cursor.substr(1);
  store::DeadLetterPosition at;
  for (int64_t* number : {&at.created_at_ms, &at.event_seq}) {
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return bad();
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, *number);
    if (dot == 0 || ec != std::errc() || end != rest.data() + dot || *number < 0) return bad();
    rest.remove_prefix(dot + 1);
  }
  if (rest.empty()) return bad();
  for (char c : rest) {
    bool id_char =
        (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!id_char) return bad();
  }
  at.id = std::string(rest);
  return at;
}

// Calls `take(key, value)` for each parameter of a query string, percent-decoded, and stops at
// its first error. A '+' stays a '+' (RFC 3986; only HTML forms mean a space by it), so that
// `since=2026-11-11T00:00:00+08:00` is the time it says; a space is %20. `query` must be
// NUL-terminated at its end (see Exchange::query). A malformed query, or a parameter given
// twice, is refused first: which of two would count is a guess either way, and a filter
// silently dropped is worse.
template <typename Take>
Status ForEachQueryParam(std::string_view query, Take take) {
  if (!boost::urls::parse_query(query)) return Status::InvalidArgument("malformed query string");
  boost::urls::encoding_opts decoding;
  decoding.space_as_plus = false;
  std::set<std::string> seen;
  for (auto p : boost::urls::params_view(query, decoding)) {
    std::string key = p.key;
    if (!seen.insert(key).second) {
      return Status::InvalidArgument("query parameter '" + key + "' is given more than once");
    }
    OC_RETURN_IF_ERROR(take(key, std::string(p.value)));
  }
  return Status::Ok();
}

// Parses the order-list filters (status, channel, tag, since, cursor, limit up to `limit_max`).
Status ParseOrderQuery(std::string_view query, size_t limit_max, store::OrderQuery* q,
                       size_t* limit);
// Replaces the plain phone a query searches for with its blind index; warehouse and finance,
// who never see phones, may not search by one.
Status ToPhoneIndex(const Principal& viewer, store::PiiCodec& codec, store::OrderQuery* q);
// The order a path's {id} names, or a NotFound status (also for ids that cannot be orders).
Result<Order> FindPathOrder(store::Store& store, std::string_view path_id);
// Narrows `q` to what `viewer` may list; false when the filter asks for another channel's orders.
bool NarrowToScope(const Principal& viewer, store::OrderQuery* q);

// One request in flight: what the handlers need, and the single way to answer.
struct OrderCenterApi::Exchange : std::enable_shared_from_this<OrderCenterApi::Exchange> {
  Request request;
  std::string remote_ip;
  // The way back to the connection; Run() gets work onto its thread (completions are
  // rendered there, then written).
  Responder respond;
  OrderCenterApi* api = nullptr;
  int64_t start_us = 0;
  const RouteSpec* route = nullptr;
  std::string path_id;
  std::string_view path;  // of request.target(), which the Exchange owns and never changes
  // A copy, not a view: Boost.URL 1.81's parse_query and params_view read a string_view up to
  // the next NUL, not its end (boostorg/url#757); a view here ran on into the header fields
  // that follow the target in the request's text.
  std::string query;
  Principal principal;
  bool answered = false;
  // What the audit log records of this request. Handlers that expose or guard personal data
  // (reveal, export, step-up) and failed authentications fill it in; Reply adds denied access
  // and every admin request. The answer leaves only once its entry is durable. Made on first
  // use: most requests (a checkout hold, say) are not audited and never build one.
  store::AuditRecord& audit() {
    if (!audit_record) audit_record = std::make_unique<store::AuditRecord>();
    return *audit_record;
  }
  std::unique_ptr<store::AuditRecord> audit_record;
  // The entry must be durable for the answer to be sent at all (it carries personal data):
  // if the audit log cannot be written, the caller gets 503 instead.
  bool audit_required = false;
  // A read refused as out of scope (answered 404 so ids cannot be probed): a denied access.
  bool scope_denied = false;

  void Reply(Response&& res) {
    if (answered) return;
    answered = true;
    api->AuditThenSend(shared_from_this(), std::move(res));
  }
  // Sends without auditing; only AuditThenSend calls it.
  void Send(Response&& res) {
    api->metrics_.RecordRequest(route ? route->path_template : std::string_view("unmatched"),
                                res.result_int(), NowMicros() - start_us);
    respond.Send(std::move(res));
  }
  void Fail(const Status& s) { Reply(MakeProblem(s, request.version(), request.keep_alive())); }
  // True when `s` is ok; otherwise answers with it. For handlers: `if (!ex->Ok(x)) return;`.
  bool Ok(const Status& s) {
    if (s.ok()) return true;
    Fail(s);
    return false;
  }
  template <class T>
  bool Ok(const Result<T>& r) {
    return Ok(r.status());
  }
  void Json(unsigned status, const bj::value& v) {
    Reply(JsonResponse(status, bj::serialize(v), request));
  }
};

}  // namespace oc::api
