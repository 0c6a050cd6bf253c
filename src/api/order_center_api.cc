#include "api/order_center_api.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <set>

#include "api/exchange.h"
#include "api/router.h"
#include "core/json.h"
#include "orders/compensation.h"
#include "orders/order_input.h"
#include "orders/permissions.h"
#include "privacy/field_crypto.h"
#include "privacy/hashing.h"
#include "privacy/key_issuer.h"
#include "privacy/order_view.h"

namespace oc::api {
namespace {

inline constexpr size_t kIdempotencyKeyBytesMax = 255;

bj::object StockJson(const store::StockRecord& r) {
  inventory::StockLevel level{r.on_hand, r.safety_buffer, r.reserved, r.sold, r.oversold};
  return bj::object{{"sku", r.sku},
                    {"on_hand", r.on_hand},
                    {"reserved", r.reserved},
                    {"sold", r.sold},
                    {"safety_buffer", r.safety_buffer},
                    {"available", level.available()},
                    {"oversold", r.oversold},
                    {"category", r.category}};
}

// Written straight into the response text, like order views: it answers every checkout hold,
// and a boost::json object built and then serialized cost about 7% of a hold (callgrind).
// Same fields, in the same order, as the object it replaced.
std::string ReservationJson(const store::ReservationRecord& r) {
  std::string out;
  out.reserve(160 + 48 * r.lines.size());
  out += "{\"id\":";
  json::AppendQuoted(&out, r.id);
  out += ",\"status\":";
  json::AppendQuoted(&out, store::ToString(r.state));
  out += ",\"lines\":[";
  for (size_t i = 0; i < r.lines.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"sku\":";
    json::AppendQuoted(&out, r.lines[i].sku);
    out += ",\"qty\":";
    out += std::to_string(r.lines[i].qty);
    out += '}';
  }
  out += "],\"expires_at\":\"";
  AppendRfc3339(&out, r.expires_at_ms);  // digits and punctuation: nothing to escape
  out += "\",\"created_at\":\"";
  AppendRfc3339(&out, r.created_at_ms);
  out += '"';
  out += ",\"order_id\":";
  if (r.order_id.empty()) {
    out += "null";
  } else {
    json::AppendQuoted(&out, r.order_id);
  }
  out += '}';
  return out;
}

bj::object SubscriptionJson(const outbox::SubscriptionView& v) {
  bj::array events;
  for (const auto& e : v.record.events) events.emplace_back(e);
  const outbox::SubscriptionStats& s = v.stats;
  bj::object out{
      {"id", v.record.id},
      {"url", v.record.url},
      {"events", std::move(events)},
      {"max_per_minute", v.record.max_per_minute},
      {"batch_max", v.record.batch_max},
      {"created_at", FormatRfc3339(v.record.created_at_ms)},
      {"stats", bj::object{{"queue_depth", s.queue_depth},
                           {"oldest_undelivered_age_seconds", s.oldest_undelivered_age_s},
                           {"delivered", s.delivered},
                           {"retried", s.retried},
                           {"dead", s.dead},
                           {"parked", s.parked},
                           {"current_limit_per_minute", s.current_limit_per_minute}}}};
  if (v.record.view_role) {
    bj::object view{{"role", ToString(*v.record.view_role)}};
    if (!v.record.view_channel.empty()) view["channel"] = v.record.view_channel;
    out["view"] = std::move(view);
  }
  return out;
}

// The optional "view" of POST /v1/subscriptions: {"role", "channel"}. Shape errors are 400
// naming the field; which roles and channels make sense is the relay's (422).
Status ReadSubscriptionView(const json::ObjectReader& body, outbox::SubscribeRequest* req) {
  OC_ASSIGN_OR_RETURN(const bj::object* view, body.OptionalObject("view"));
  if (view == nullptr) return Status::Ok();
  json::ObjectReader r(*view, "view");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"role", "channel"}));
  OC_ASSIGN_OR_RETURN(std::string role, r.RequiredString("role", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto channel, r.OptionalString("channel", kShortTextMax));
  req->view_role = ParseRole(role);
  if (!req->view_role) {
    return Status::Unprocessable("field 'view.role': unknown role '" + role + "'");
  }
  req->view_channel = channel.value_or("");
  return Status::Ok();
}

bj::object DeadLetterJson(const store::DeadLetterRecord& d) {
  return bj::object{{"id", d.id},
                    {"subscription_id", d.subscription_id},
                    {"event_id", d.event_id},
                    {"event_type", d.event_type},
                    {"order_id", d.order_id},
                    {"attempts", d.attempts},
                    {"last_error", d.last_error},
                    {"status", store::ToString(d.state)},
                    {"created_at", FormatRfc3339(d.created_at_ms)},
                    {"updated_at", FormatRfc3339(d.updated_at_ms)}};
}

// `identify_order`: the order's id, channel order id and status. Operations sees aggregates
// only, no single order (API.md): its cases are the stock to find, without the orders.
bj::object OversoldCaseJson(const orders::OversoldCase& c, bool identify_order) {
  bj::array lines;
  for (const auto& l : c.lines) {
    lines.emplace_back(
        bj::object{{"sku", l.sku}, {"qty_short", l.qty_short}, {"still_short", l.still_short}});
  }
  bj::array remedies;
  for (const auto& r : c.remedies) {
    bj::object o{{"kind", r.kind}};
    if (r.kind == "restock") {
      o["sku"] = r.sku;
      o["qty"] = r.qty;
      o["queue_position"] = r.queue_position;
    } else if (r.kind == "substitute") {
      o["sku"] = r.sku;
      o["substitute_sku"] = r.substitute_sku;
      o["qty"] = r.qty;
      o["available"] = r.available;
    } else {
      o["amount"] = r.amount;
      o["currency"] = r.currency;
    }
    remedies.emplace_back(std::move(o));
  }
  bj::object out{{"channel", c.order.channel},
                 {"accepted_at", FormatRfc3339(c.order.created_at_ms)},
                 {"lines", std::move(lines)},
                 {"remedies", std::move(remedies)}};
  if (identify_order) {
    out["order_id"] = c.order.order_id;
    out["channel_order_id"] = c.order.channel_order_id;
    out["status"] = ToString(c.order.status);
  }
  return out;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A body's Content-Type must be application/json. JSON between systems is UTF-8 (RFC 8259), and
// a charset parameter means nothing to a JSON reader (its section 11), so one is accepted while
// the body is ASCII, which every such charset agrees on: clients that label ASCII bodies
// ISO-8859-1 keep working. A body with other bytes under a label that is not UTF-8 (GBK, say)
// is refused by name rather than read as UTF-8, which would take its text for other text or
// fail on it with a puzzling syntax error.
Status CheckJsonContentType(std::string_view content_type, std::string_view body) {
  auto unsupported = [](std::string detail) {
    return Status::Make(ErrorKind::kUnsupportedMedia, "unsupported_media_type", std::move(detail));
  };
  size_t semi = content_type.find(';');
  if (!boost::beast::iequals(TrimSpaces(content_type.substr(0, semi)), "application/json")) {
    return unsupported("request bodies must be application/json");
  }
  while (semi != std::string_view::npos) {
    std::string_view rest = content_type.substr(semi + 1);
    semi = rest.find(';');
    std::string_view param = TrimSpaces(rest.substr(0, semi));
    content_type = rest;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos ||
        !boost::beast::iequals(TrimSpaces(param.substr(0, eq)), "charset")) {
      continue;  // other parameters mean nothing for JSON
    }
    std::string_view charset = TrimSpaces(param.substr(eq + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    bool utf8 = boost::beast::iequals(charset, "utf-8") || boost::beast::iequals(charset, "utf8");
    // NUL is not JSON text either: it is what a UTF-16 or UTF-32 body is full of. Only looked
    // for under another label: a body said to be UTF-8 is not scanned here.
    bool ascii = utf8 || std::all_of(body.begin(), body.end(), [](char c) {
                   return c != '\0' && static_cast<unsigned char>(c) < 0x80;
                 });
    if (!utf8 && !ascii) {
      return unsupported("request bodies must be UTF-8 JSON, but this one is labelled charset '" +
                         std::string(charset.substr(0, 40)) +
                         "' and holds non-ASCII bytes; send UTF-8 (and say charset=utf-8, or "
                         "no charset)");
    }
  }
  return Status::Ok();
}

// Fields that must come at most once: with two credentials, idempotency keys or step-up tokens,
// which one counts would be a guess (and proxies may disagree with us about it).
Status CheckSingletonHeaders(const Request& request) {
  struct Singleton {
    std::string_view name;
    http::field field;  // looked up once: this runs for every request
  };
  static const Singleton kSingletons[] = {
      {"Idempotency-Key", http::string_to_field("Idempotency-Key")},
      {"Authorization", http::field::authorization},
      {"Content-Type", http::field::content_type},
      {"X-Step-Up-Token", http::string_to_field("X-Step-Up-Token")}};
  for (const Singleton& h : kSingletons) {
    if (request.Count(h.field, h.name) > 1) {
      return Status::InvalidArgument("the " + std::string(h.name) +
                                     " header is given more than once");
    }
  }
  const Singleton& idempotency = kSingletons[0];
  if (request.Count(idempotency.field, idempotency.name) == 1 &&
      request[idempotency.name].empty()) {
    return Status::InvalidArgument(
        "the Idempotency-Key header is empty; leave it out or give a key");
  }
  return Status::Ok();
}

// ?limit= and ?cursor= (and nothing else) for a list paged by position ('p' cursors).
Status ParsePageQuery(std::string_view query, PageParams* page) {
  return ForEachQueryParam(query, [&](const std::string& key, std::string value) -> Status {
    if (key == "limit") return ParseLimit(value, &page->limit);
    if (key == "cursor") {
      OC_ASSIGN_OR_RETURN(int64_t offset, DecodeCursor(value, 'p'));
      page->offset = static_cast<size_t>(offset);
      return Status::Ok();
    }
    return Status::InvalidArgument("unknown query parameter (accepted: limit, cursor)");
  });
}

// ?subscription_id=, ?limit= and ?cursor= ('d' cursors) for the dead-letter list.
Status ParseDeadLetterQuery(std::string_view query, store::DeadLetterQuery* q, size_t* limit) {
  return ForEachQueryParam(query, [&](const std::string& key, std::string value) -> Status {
    if (key == "limit") return ParseLimit(value, limit);
    if (key == "cursor") {
      OC_ASSIGN_OR_RETURN(q->after, DecodeDeadLetterCursor(value));
      return Status::Ok();
    }
    if (key == "subscription_id") {
      q->subscription_id = std::move(value);
      return Status::Ok();
    }
    return Status::InvalidArgument(
        "unknown query parameter (accepted: subscription_id, limit, cursor)");
  });
}

// One page of `all` (rendered by `render`) as {"items", "next_cursor"}.
template <typename T, typename Render>
bj::object PageOf(const std::vector<T>& all, const PageParams& page, Render render) {
  bj::array items;
  size_t end = std::min(all.size(), page.offset + page.limit);
  for (size_t i = page.offset; i < end; ++i) items.emplace_back(render(all[i]));
  bj::object out;
  out["items"] = std::move(items);
  out["next_cursor"] = end < all.size() ? bj::value(EncodeCursor(static_cast<int64_t>(end), 'p'))
                                        : bj::value(nullptr);
  return out;
}

}  // namespace

OrderCenterApi::OrderCenterApi(ApiDeps deps)
    : deps_(deps), auth_(deps.store, deps.clock), step_up_(deps.clock, deps.random) {}
OrderCenterApi::~OrderCenterApi() = default;

void OrderCenterApi::OnRejected(unsigned status) { metrics_.RecordRequest("rejected", status, 0); }

void OrderCenterApi::Handle(Request request, std::string remote_ip, Responder respond) {
  auto ex = std::make_shared<Exchange>();
  ex->start_us = NowMicros();
  ex->request = std::move(request);
  ex->remote_ip = std::move(remote_ip);
  ex->respond = std::move(respond);
  ex->api = this;
  std::string_view target = ex->request.target();
  auto qpos = target.find('?');
  ex->path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) ex->query = std::string(target.substr(qpos + 1));
  Dispatch(ex);
}

void OrderCenterApi::Dispatch(const std::shared_ptr<Exchange>& ex) {
  auto match = MatchRoute(ex->request.method_string(), ex->path);
  if (!match.ok()) {
    if (match.status().kind() == ErrorKind::kMethodNotAllowed) {
      Response res = MakeProblem(match.status(), ex->request.version(), ex->request.keep_alive());
      res.set(http::field::allow, AllowedMethods(ex->path));
      ex->Reply(std::move(res));
      return;
    }
    ex->Fail(match.status());
    return;
  }
  ex->route = match->route;
  ex->path_id = std::move(match->id);
  if (!ex->Ok(CheckSingletonHeaders(ex->request))) return;
  if (ex->route->authenticated) {
    int64_t retry_after_s = 0;
    auto principal =
        auth_.Authenticate(ex->request[http::field::authorization], ex->remote_ip, &retry_after_s);
    if (!principal.ok()) {
      int64_t unrecorded = 0;
      if (principal.status().kind() == ErrorKind::kUnauthenticated &&
          auth_.AuditThisFailure(&unrecorded)) {
        // Throttled attempts (429) are not written: the lockout itself is the record, and a
        // guesser must not be able to turn requests into audit writes without limit. Past the
        // budget, failures are only counted, and said in the next entry.
        ex->audit().action = "auth.failed";
        ex->audit().detail = principal.status().detail();
        if (unrecorded > 0) {
          ex->audit().detail += "; and " + std::to_string(unrecorded) +
                                " failed authentications before this one, over the audit budget, "
                                "not recorded one by one";
        }
      }
      Response res =
          MakeProblem(principal.status(), ex->request.version(), ex->request.keep_alive());
      if (retry_after_s > 0) res.set(http::field::retry_after, std::to_string(retry_after_s));
      ex->Reply(std::move(res));
      return;
    }
    ex->principal = std::move(*principal);
  }
  bool has_body_method =
      ex->request.method() == http::verb::post || ex->request.method() == http::verb::put;
  if (has_body_method && !ex->request.body().empty() &&
      !ex->Ok(CheckJsonContentType(ex->request[http::field::content_type], ex->request.body()))) {
    return;
  }
  switch (ex->route->id) {
    case RouteId::kDashboard:
      ex->Reply(TextResponse(200, "text/html; charset=utf-8", std::string(deps_.dashboard_html),
                             ex->request));
      return;
    case RouteId::kHealthz:
      ex->Json(200, bj::object{{"status", "ok"}});
      return;
    case RouteId::kReadyz: {
      Status s = deps_.store.Ping();
      if (!s.ok()) {
        ex->Fail(Status::Unavailable("store not reachable: " + s.detail()));
        return;
      }
      ex->Json(200, bj::object{{"status", "ready"}});
      return;
    }
    case RouteId::kMetrics:
      GetMetrics(ex);
      return;
    case RouteId::kOpenApi:
      ex->Reply(
          TextResponse(200, "application/yaml", std::string(deps_.openapi_yaml), ex->request));
      return;
    case RouteId::kCreateOrder:
      CreateOrder(ex);
      return;
    case RouteId::kListOrders:
      ListOrders(ex);
      return;
    case RouteId::kGetOrder:
      GetOrder(ex);
      return;
    case RouteId::kTransitionOrder:
      TransitionOrder(ex);
      return;
    case RouteId::kAssignOrder:
      AssignOrder(ex);
      return;
    case RouteId::kCreateKey:
      CreateKey(ex);
      return;
    case RouteId::kPutInventory:
      PutInventory(ex);
      return;
    case RouteId::kGetInventory:
      GetInventory(ex);
      return;
    case RouteId::kListOversold:
      ListOversold(ex);
      return;
    case RouteId::kCreateReservation:
      CreateReservation(ex);
      return;
    case RouteId::kGetReservation:
      GetReservation(ex);
      return;
    case RouteId::kReleaseReservation:
      ReleaseReservation(ex);
      return;
    case RouteId::kCreateSubscription:
      CreateSubscription(ex);
      return;
    case RouteId::kListSubscriptions:
      ListSubscriptions(ex);
      return;
    case RouteId::kGetSubscription:
      GetSubscription(ex);
      return;
    case RouteId::kDeleteSubscription:
      DeleteSubscription(ex);
      return;
    case RouteId::kListDeadLetters:
      ListDeadLetters(ex);
      return;
    case RouteId::kReplayDeadLetter:
      ReplayDeadLetter(ex);
      return;
    case RouteId::kStepUp:
      StepUp(ex);
      return;
    case RouteId::kRevealOrder:
      RevealOrder(ex);
      return;
    case RouteId::kExportOrders:
      ExportOrders(ex);
      return;
    case RouteId::kListAudit:
      ListAudit(ex);
      return;
    case RouteId::kVerifyAudit:
      VerifyAudit(ex);
      return;
  }
  ex->Fail(Status::Internal("route without a handler"));
}

void OrderCenterApi::GetMetrics(const std::shared_ptr<Exchange>& ex) {
  std::string out;
  out.reserve(16 * 1024);
  metrics_.Render(&out);
  out.append("# HELP ordercenter_orders Orders by status.\n# TYPE ordercenter_orders gauge\n");
  auto counts = deps_.writer.OrderCountsByStatus();
  for (OrderStatus s : kAllOrderStatuses) {
    out.append("ordercenter_orders{status=\"");
    out.append(ToString(s));
    out.append("\"} ");
    out.append(std::to_string(counts[static_cast<size_t>(s)]));
    out.push_back('\n');
  }
  out.append("# HELP ordercenter_writer_queue_depth Commands waiting for the order writer.\n");
  out.append("# TYPE ordercenter_writer_queue_depth gauge\n");
  out.append("ordercenter_writer_queue_depth " + std::to_string(deps_.writer.QueueDepth()) + "\n");
  out.append("# HELP ordercenter_writer_batches_total Batches made durable (fsyncs are shared).\n");
  out.append("# TYPE ordercenter_writer_batches_total counter\n");
  out.append("ordercenter_writer_batches_total " + std::to_string(deps_.writer.BatchesCommitted()) +
             "\n");
  out.append("# HELP ordercenter_holds_purged_total Ended checkout holds deleted by retention.\n");
  out.append("# TYPE ordercenter_holds_purged_total counter\n");
  out.append("ordercenter_holds_purged_total " + std::to_string(deps_.writer.HoldsPurged()) + "\n");
  out.append(
      "# HELP ordercenter_idempotency_keys_purged_total Stored Idempotency-Key answers deleted by "
      "retention.\n");
  out.append("# TYPE ordercenter_idempotency_keys_purged_total counter\n");
  out.append("ordercenter_idempotency_keys_purged_total " +
             std::to_string(deps_.writer.IdempotencyPurged()) + "\n");
  out.append(
      "# HELP ordercenter_hold_purge_failures_total Retention steps that failed (and were "
      "retried).\n");
  out.append("# TYPE ordercenter_hold_purge_failures_total counter\n");
  out.append("ordercenter_hold_purge_failures_total " +
             std::to_string(deps_.writer.HoldPurgeFailures()) + "\n");
  out.append(
      "# HELP ordercenter_auth_failures_unaudited_total Failed authentications over the audit "
      "budget, counted but not recorded one by one.\n");
  out.append("# TYPE ordercenter_auth_failures_unaudited_total counter\n");
  out.append("ordercenter_auth_failures_unaudited_total " +
             std::to_string(auth_.FailuresUnaudited()) + "\n");
  out.append("# HELP ordercenter_store_fsyncs_total fsyncs of the write-ahead log.\n");
  out.append("# TYPE ordercenter_store_fsyncs_total counter\n");
  out.append("ordercenter_store_fsyncs_total " + std::to_string(deps_.store.fsyncs()) + "\n");
  out.append(
      "# HELP ordercenter_audit_write_failures_total Audit entries that could not be written.\n");
  out.append("# TYPE ordercenter_audit_write_failures_total counter\n");
  out.append("ordercenter_audit_write_failures_total " + std::to_string(deps_.audit.failed()) +
             "\n");
  deps_.relay.RenderMetrics(&out);
  ex->Reply(TextResponse(200, "text/plain; version=0.0.4", std::move(out), ex->request));
}

void OrderCenterApi::SubmitToWriter(const std::shared_ptr<Exchange>& ex,
                                    orders::Command&& command) {
  std::string_view idem_key = ex->request["Idempotency-Key"];
  if (!idem_key.empty()) {
    if (idem_key.size() > kIdempotencyKeyBytesMax) {
      ex->Fail(Status::InvalidArgument("Idempotency-Key is longer than 255 bytes"));
      return;
    }
    orders::Idempotency idem;
    idem.principal_id = ex->principal.id;
    idem.key = std::string(idem_key);
    auto fingerprint = deps_.pii_codec.KeyedDigest(
        "request", std::string(ex->request.method_string()) + " " + std::string(ex->path) + "\n" +
                       ex->request.body());
    if (!ex->Ok(fingerprint)) return;
    idem.request_hash = std::move(*fingerprint);
    Principal viewer = ex->principal;
    idem.render = [viewer](const orders::CommandOutcome& out) {
      store::IdempotencyRecord r;
      r.status_code = out.created ? 201 : 200;
      r.response_body = out.stock         ? bj::serialize(StockJson(*out.stock))
                        : out.reservation ? ReservationJson(*out.reservation)
                                          : privacy::RenderOrderJson(*out.order, viewer);
      return r;
    };
    idem.render_refusal = [](const Status& refusal) {
      Response problem = MakeProblem(refusal, 11, true);
      return store::IdempotencyRecord{"", static_cast<int>(problem.result_int()), problem.body()};
    };
    command.idempotency = std::move(idem);
  }
  Status submitted = deps_.writer.Submit(
      std::move(command), [ex](Result<orders::CommandOutcome>&& outcome) mutable {
        // Completions arrive on the syncer thread; rendering and writing happen on the
        // connection's thread, in one hop that the batch's other answers for that thread
        // share. The task holds the outcome itself (one allocation; a Task is never moved
        // once made) and takes the exchange over: the syncer thread never touches its
        // reference count, a line the HTTP threads' cores would otherwise trade with it.
        Exchange* exchange = ex.get();
        exchange->respond.Run([ex = std::move(ex), outcome = std::move(outcome)]() {
          const Result<orders::CommandOutcome>& result = outcome;
          if (!result.ok()) {
            ex->Fail(result.status());
            return;
          }
          if (result->stock) {
            ex->Json(200, StockJson(*result->stock));
            return;
          }
          if (result->reservation) {
            ex->Reply(JsonResponse(result->created ? 201 : 200,
                                   ReservationJson(*result->reservation), ex->request));
            return;
          }
          if (result->refusal) {
            ex->Fail(*result->refusal);
            return;
          }
          if (result->replay) {
            Response res = JsonResponse(static_cast<unsigned>(result->replay->status_code),
                                        result->replay->response_body, ex->request);
            if (result->replay->status_code >= 400) {
              res.set(http::field::content_type, "application/problem+json");
            }
            res.set("Idempotent-Replayed", "true");
            ex->Reply(std::move(res));
            return;
          }
          ex->Reply(JsonResponse(result->created ? 201 : 200,
                                 privacy::RenderOrderJson(*result->order, ex->principal),
                                 ex->request));
        });
      });
  if (!submitted.ok()) ex->Fail(submitted);
}

void OrderCenterApi::CreateOrder(const std::shared_ptr<Exchange>& ex) {
  if (ex->principal.role != Role::kAdmin && ex->principal.role != Role::kChannel) {
    ex->Fail(Status::PermissionDenied("only channel and admin keys create orders"));
    return;
  }
  auto body = json::ParseStrict(ex->request.body());
  if (!ex->Ok(body)) return;
  bool accept_oversell = false;
  auto order = orders::ParseCreateOrder(*body, &accept_oversell);
  if (!ex->Ok(order)) return;
  if (!ex->Ok(orders::CheckMayCreate(ex->principal, *order))) return;
  // The id is fixed here so personal data can be sealed (bound to it) before the writer sees
  // the order; a repeat of an existing channel order simply discards both.
  order->id = deps_.ids.Next("ord");
  auto sealed = deps_.pii_codec.Seal(*order);
  if (!ex->Ok(sealed)) return;
  order->sealed_pii = std::move(*sealed);
  order->phone_index = deps_.pii_codec.PhoneIndex(order->customer.phone);
  orders::Command cmd{decltype(orders::Command::action)(std::in_place_type<orders::CreateOrder>,
                                                        std::move(*order), accept_oversell),
                      ex->principal, std::nullopt};
  SubmitToWriter(ex, std::move(cmd));
}

Result<Order> FindPathOrder(store::Store& store, std::string_view path_id) {
  if (!LooksLikeId(path_id, "ord")) return Status::NotFound("order not found");
  OC_ASSIGN_OR_RETURN(auto found, store.GetOrder(path_id));
  if (!found) return Status::NotFound("order not found");
  return std::move(*found);
}

void OrderCenterApi::GetOrder(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(privacy::CheckOrderReadAccess(ex->principal))) return;
  auto found = FindPathOrder(deps_.store, ex->path_id);
  if (!found.ok() && found.status().kind() == ErrorKind::kNotFound &&
      privacy::ReadsWithinScope(ex->principal) && LooksLikeId(ex->path_id, "ord")) {
    // The same answer as an order out of scope, audited the same way: an entry that answers
    // after its fsync for one and at once for the other would tell the caller by its timing
    // which order ids exist beyond its scope. (An id of the wrong shape exists nowhere, as
    // anyone can tell: it is not worth an entry.)
    ex->scope_denied = true;
  }
  if (!ex->Ok(found)) return;
  if (Status scope = privacy::CheckOrderScope(*found, ex->principal); !scope.ok()) {
    privacy::WipePii(&*found);  // opened by the read, and not the caller's to see
    ex->scope_denied = true;
    ex->Fail(scope);
    return;
  }
  std::string body = privacy::RenderOrderJson(*found, ex->principal);
  privacy::WipePii(&*found);
  ex->Reply(JsonResponse(200, std::move(body), ex->request));
}

Status ParseOrderQuery(std::string_view query, size_t limit_max, store::OrderQuery* q,
                       size_t* limit) {
  return ForEachQueryParam(query, [&](const std::string& key, std::string value) -> Status {
    if (key == "limit") return ParseLimit(value, limit, limit_max);
    if (key == "cursor") {
      OC_ASSIGN_OR_RETURN(q->before_seq, DecodeCursor(value));
    } else if (key == "status") {
      auto s = ParseOrderStatus(value);
      if (!s) return Status::InvalidArgument("query parameter 'status' is not a known status");
      q->status = s;
    } else if (key == "channel") {
      q->channel = std::move(value);
    } else if (key == "tag") {
      q->tag = std::move(value);
    } else if (key == "phone") {
      // Held as the plain number only until the handler turns it into its blind index.
      q->phone_index = std::move(value);
    } else if (key == "since") {
      int64_t ms = 0;
      if (!ParseRfc3339(value, &ms)) {
        return Status::InvalidArgument("query parameter 'since' must be an RFC 3339 time");
      }
      q->since_ms = ms;
    } else {
      return Status::InvalidArgument(
          "unknown query parameter (accepted: limit, cursor, status, channel, tag, since, "
          "phone)");
    }
    return Status::Ok();
  });
}

Status ToPhoneIndex(const Principal& viewer, store::PiiCodec& codec, store::OrderQuery* q) {
  if (!q->phone_index) return Status::Ok();
  if (viewer.role == Role::kWarehouse || viewer.role == Role::kFinance) {
    return Status::PermissionDenied(
        "this role does not see phone numbers, so may not search by one");
  }
  std::string index = codec.PhoneIndex(*q->phone_index);
  q->phone_index.reset();
  if (index.empty()) {
    return Status::InvalidArgument("query parameter 'phone' must contain digits");
  }
  q->phone_index = std::move(index);
  return Status::Ok();
}

bool NarrowToScope(const Principal& viewer, store::OrderQuery* q) {
  if (viewer.role == Role::kChannel) {
    if (q->channel && *q->channel != viewer.channel) return false;
    q->channel = viewer.channel;
  }
  if (viewer.role == Role::kCustomerService) q->assigned_agent = viewer.id;
  return true;
}

void OrderCenterApi::ListOrders(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(privacy::CheckOrderReadAccess(ex->principal))) return;
  store::OrderQuery q;
  if (!ex->Ok(ParseOrderQuery(ex->query, store::kListLimitMax, &q, &q.limit))) return;
  if (!ex->Ok(ToPhoneIndex(ex->principal, deps_.pii_codec, &q))) return;
  // Scope is a filter the caller cannot widen.
  if (!NarrowToScope(ex->principal, &q)) {
    ex->Json(200, bj::object{{"items", bj::array{}}, {"next_cursor", nullptr}});
    return;
  }
  auto page = deps_.store.ListOrders(q);
  if (!ex->Ok(page)) return;
  std::string out = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0) out.push_back(',');
    privacy::AppendOrderJson(page->items[i], ex->principal, &out);
    privacy::WipePii(&page->items[i]);
  }
  out += "],\"next_cursor\":";
  if (page->next_before_seq) {
    json::AppendQuoted(&out, EncodeCursor(*page->next_before_seq));
  } else {
    out += "null";
  }
  out.push_back('}');
  ex->Reply(JsonResponse(200, std::move(out), ex->request));
}

void OrderCenterApi::TransitionOrder(const std::shared_ptr<Exchange>& ex) {
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  orders::Transition t;
  Status s = r.OnlyKeys({"to", "expected_version", "reason"});
  auto to = s.ok() ? r.RequiredString("to", kShortTextMax) : Result<std::string>(s);
  if (!ex->Ok(to)) return;
  auto version = r.OptionalIntNotNull("expected_version");
  auto reason = r.OptionalString("reason", kLongTextMax);
  if (!version.ok() || !reason.ok()) {
    ex->Fail(!version.ok() ? version.status() : reason.status());
    return;
  }
  auto status = ParseOrderStatus(*to);
  if (!status) {
    ex->Fail(Status::Unprocessable("field 'to': unknown status '" + *to + "'"));
    return;
  }
  if (!LooksLikeId(ex->path_id, "ord")) {
    ex->Fail(Status::NotFound("order not found"));
    return;
  }
  t.order_id = ex->path_id;
  t.to = *status;
  t.expected_version = *version;
  t.reason = reason->value_or("");
  SubmitToWriter(ex, orders::Command{std::move(t), ex->principal, std::nullopt});
}

void OrderCenterApi::AssignOrder(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(orders::CheckMayAssign(ex->principal))) return;
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  Status s = r.OnlyKeys({"agent", "expected_version"});
  auto agent = s.ok() ? r.RequiredString("agent", kShortTextMax) : Result<std::string>(s);
  if (!ex->Ok(agent)) return;
  auto version = r.OptionalIntNotNull("expected_version");
  if (!ex->Ok(version)) return;
  if (!LooksLikeId(ex->path_id, "ord")) {
    ex->Fail(Status::NotFound("order not found"));
    return;
  }
  orders::Assign a{ex->path_id, std::move(*agent), *version};
  SubmitToWriter(ex, orders::Command{std::move(a), ex->principal, std::nullopt});
}

void OrderCenterApi::CreateKey(const std::shared_ptr<Exchange>& ex) {
  if (ex->principal.role != Role::kAdmin) {
    ex->Fail(Status::PermissionDenied("only admin keys create keys"));
    return;
  }
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  Status s = r.OnlyKeys({"role", "name", "channel"});
  auto role = s.ok() ? r.RequiredString("role", kShortTextMax) : Result<std::string>(s);
  auto name = r.OptionalString("name", kShortTextMax);
  auto channel = r.OptionalString("channel", kShortTextMax);
  if (!role.ok() || !name.ok() || !channel.ok()) {
    ex->Fail(!role.ok() ? role.status() : !name.ok() ? name.status() : channel.status());
    return;
  }
  privacy::KeyRequest req{*role, name->value_or(""), channel->value_or("")};
  auto issued = privacy::IssueApiKey(deps_.store, deps_.ids, deps_.random, deps_.clock, req);
  if (!ex->Ok(issued)) return;
  ex->Json(201, *issued);
}

void OrderCenterApi::PutInventory(const std::shared_ptr<Exchange>& ex) {
  if (ex->principal.role != Role::kAdmin && ex->principal.role != Role::kOperations) {
    ex->Fail(Status::PermissionDenied("only admin and operations set stock"));
    return;
  }
  if (ex->path_id.empty() || ex->path_id.size() > kShortTextMax) {
    ex->Fail(Status::InvalidArgument("the SKU in the path must be 1 to 128 bytes"));
    return;
  }
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  Status s = r.OnlyKeys({"on_hand", "safety_buffer", "category"});
  auto on_hand = s.ok() ? r.RequiredInt("on_hand") : Result<int64_t>(s);
  auto buffer = r.OptionalInt("safety_buffer");
  auto category = r.OptionalString("category", kShortTextMax);
  if (!on_hand.ok() || !buffer.ok() || !category.ok()) {
    ex->Fail(!on_hand.ok() ? on_hand.status() : !buffer.ok() ? buffer.status() : category.status());
    return;
  }
  orders::SetStock set{ex->path_id, *on_hand, buffer->value_or(0), std::move(*category)};
  SubmitToWriter(ex, orders::Command{std::move(set), ex->principal, std::nullopt});
}

void OrderCenterApi::GetInventory(const std::shared_ptr<Exchange>& ex) {
  if (ex->principal.role == Role::kCustomerService || ex->principal.role == Role::kFinance) {
    ex->Fail(
        Status::PermissionDenied("stock levels are for admin, operations, warehouse and "
                                 "channels"));
    return;
  }
  auto stock = deps_.store.GetStock(ex->path_id);
  if (!ex->Ok(stock)) return;
  if (!*stock) {
    ex->Fail(Status::NotFound("no stock is kept for this SKU"));
    return;
  }
  ex->Json(200, StockJson(**stock));
}

void OrderCenterApi::ListOversold(const std::shared_ptr<Exchange>& ex) {
  if (ex->principal.role != Role::kAdmin && ex->principal.role != Role::kOperations) {
    ex->Fail(Status::PermissionDenied("the oversold work list is for admin and operations"));
    return;
  }
  PageParams page;
  if (!ex->Ok(ParsePageQuery(ex->query, &page))) return;
  auto oversold = deps_.store.ListOversold();
  if (!ex->Ok(oversold)) return;
  auto stock = deps_.store.LoadStock();
  if (!ex->Ok(stock)) return;
  std::vector<orders::OversoldCase> cases = orders::PlanCompensation(*oversold, *stock);
  const bool identify_orders = ex->principal.role == Role::kAdmin;
  ex->Json(200, PageOf(cases, page, [&](const orders::OversoldCase& c) {
             return OversoldCaseJson(c, identify_orders);
           }));
}

void OrderCenterApi::CreateReservation(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(orders::CheckMayHold(ex->principal))) return;
  auto body = orders::ParseHoldRequest(ex->request.body());
  if (!ex->Ok(body)) return;
  orders::CreateReservation create;
  create.ttl_seconds = body->ttl_seconds.value_or(orders::kHoldTtlDefaultSeconds);
  if (create.ttl_seconds < 1 || create.ttl_seconds > orders::kHoldTtlMaxSeconds) {
    ex->Fail(Status::Unprocessable("field 'ttl_seconds' must be between 1 and " +
                                   std::to_string(orders::kHoldTtlMaxSeconds)));
    return;
  }
  create.lines.reserve(body->lines.size());
  for (auto& l : body->lines) create.lines.push_back({std::move(l.sku), l.qty});
  SubmitToWriter(ex, orders::Command{std::move(create), ex->principal, std::nullopt});
}

void OrderCenterApi::GetReservation(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(orders::CheckMayHold(ex->principal))) return;
  if (!LooksLikeId(ex->path_id, "res")) {
    ex->Fail(Status::NotFound("reservation not found"));
    return;
  }
  auto found = deps_.store.GetReservation(ex->path_id);
  if (!ex->Ok(found)) return;
  if (!*found || !orders::HoldInScope(ex->principal, **found)) {
    ex->Fail(Status::NotFound("reservation not found"));
    return;
  }
  ex->Reply(JsonResponse(200, ReservationJson(**found), ex->request));
}

void OrderCenterApi::ReleaseReservation(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(orders::CheckMayHold(ex->principal))) return;
  if (!LooksLikeId(ex->path_id, "res")) {
    ex->Fail(Status::NotFound("reservation not found"));
    return;
  }
  SubmitToWriter(
      ex, orders::Command{orders::ReleaseReservation{ex->path_id}, ex->principal, std::nullopt});
}

static Status RequireAdmin(const Principal& p, std::string_view what) {
  if (p.role == Role::kAdmin) return Status::Ok();
  return Status::PermissionDenied(std::string(what) + " are for admin keys");
}

void OrderCenterApi::CreateSubscription(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "subscriptions"))) return;
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  const bj::object& obj = body->get_object();
  json::ObjectReader r(obj, "");
  Status s = r.OnlyKeys({"url", "events", "secret", "max_per_minute", "batch_max", "view"});
  auto url = s.ok() ? r.RequiredString("url", 2048) : Result<std::string>(s);
  auto secret = url.ok() ? r.RequiredString("secret", 256) : Result<std::string>(url.status());
  auto events = secret.ok() ? r.RequiredArray("events") : Result<const bj::array*>(secret.status());
  auto per_minute = r.OptionalInt("max_per_minute");
  auto batch_max = r.OptionalInt("batch_max");
  if (!events.ok() || !per_minute.ok() || !batch_max.ok()) {
    ex->Fail(!events.ok()       ? events.status()
             : !per_minute.ok() ? per_minute.status()
                                : batch_max.status());
    return;
  }
  outbox::SubscribeRequest req;
  req.url = *url;
  req.secret = *secret;
  for (size_t i = 0; i < (*events)->size(); ++i) {
    const bj::value& e = (**events)[i];
    if (!e.is_string()) {
      ex->Fail(
          Status::InvalidArgument("field 'events[" + std::to_string(i) + "]' must be a string"));
      return;
    }
    req.events.emplace_back(e.get_string());
  }
  req.max_per_minute = per_minute->value_or(req.max_per_minute);
  req.batch_max = batch_max->value_or(req.batch_max);
  if (!ex->Ok(ReadSubscriptionView(r, &req))) return;
  if (req.view_role) {
    // Who gave a machine which view of the orders is worth finding in the audit log later.
    ex->audit().detail = "view " + std::string(ToString(*req.view_role)) +
                         (req.view_channel.empty() ? "" : " " + req.view_channel);
  }
  auto view = deps_.relay.Subscribe(req, ex->principal);
  if (!ex->Ok(view)) return;
  ex->Json(201, SubscriptionJson(*view));
}

void OrderCenterApi::ListSubscriptions(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "subscriptions"))) return;
  PageParams page;
  if (!ex->Ok(ParsePageQuery(ex->query, &page))) return;
  auto views = deps_.relay.List();
  if (!ex->Ok(views)) return;
  ex->Json(200, PageOf(*views, page, [](const auto& v) { return SubscriptionJson(v); }));
}

void OrderCenterApi::GetSubscription(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "subscriptions"))) return;
  auto view = deps_.relay.Get(ex->path_id);
  if (!ex->Ok(view)) return;
  ex->Json(200, SubscriptionJson(*view));
}

void OrderCenterApi::DeleteSubscription(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "subscriptions"))) return;
  if (!ex->Ok(deps_.relay.Unsubscribe(ex->path_id))) return;
  ex->Json(200, bj::object{{"id", ex->path_id}, {"deleted", true}});
}

void OrderCenterApi::ListDeadLetters(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "dead letters"))) return;
  store::DeadLetterQuery q;
  size_t limit = store::kListLimitDefault;
  if (!ex->Ok(ParseDeadLetterQuery(ex->query, &q, &limit))) return;
  q.limit = limit + 1;  // one more than the page: whether there is a next one
  auto letters = deps_.store.ListDeadLetters(q);
  if (!ex->Ok(letters)) return;
  bool more = letters->size() > limit;
  if (more) letters->resize(limit);
  bj::array items;
  for (const auto& d : *letters) items.emplace_back(DeadLetterJson(d));
  bj::value next = nullptr;
  if (more) {
    const store::DeadLetterRecord& last = letters->back();
    next = bj::string(EncodeDeadLetterCursor({last.created_at_ms, last.event_seq, last.id}));
  }
  ex->Json(200, bj::object{{"items", std::move(items)}, {"next_cursor", std::move(next)}});
}

void OrderCenterApi::ReplayDeadLetter(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(RequireAdmin(ex->principal, "dead letters"))) return;
  auto replay = deps_.relay.Replay(ex->path_id);
  if (!ex->Ok(replay)) return;
  ex->Json(202, DeadLetterJson(*replay));
}

}  // namespace oc::api
