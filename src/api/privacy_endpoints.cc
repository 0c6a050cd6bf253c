// The privacy endpoints (step-up, reveal, export, audit) and the rule for which answers are
// audited before they leave.
#include <spdlog/spdlog.h>

#include "api/exchange.h"
#include "privacy/csv_export.h"
#include "privacy/field_crypto.h"
#include "privacy/masking.h"
#include "privacy/order_view.h"

namespace oc::api {
namespace {

// One export holds an HTTP thread while it reads, decrypts and renders: at most this many rows
// per request (X-Next-Cursor continues), and one export at a time per server.
inline constexpr size_t kExportRowsMax = 10'000;
inline constexpr size_t kExportPage = 500;
inline constexpr size_t kRevealFieldsMax = 8;

// The personal fields reveal can return, by their dotted name in the order view.
const char* const kRevealable[] = {"customer.name",      "customer.phone",
                                   "customer.id_number", "shipping_address.detail",
                                   "invoice.title",      "invoice.tax_id"};

std::optional<std::string> PlainField(const Order& o, std::string_view field) {
  if (field == "customer.name") return o.customer.name;
  if (field == "customer.phone") return o.customer.phone;
  if (field == "customer.id_number") return o.customer.id_number;
  if (field == "shipping_address.detail") return o.shipping_address.detail;
  if (field == "invoice.title") return o.invoice ? std::optional(o.invoice->title) : std::nullopt;
  if (field == "invoice.tax_id") return o.invoice ? std::optional(o.invoice->tax_id) : std::nullopt;
  return std::nullopt;
}

Status AdminOnly(const Principal& p, std::string_view what) {
  if (p.role != Role::kAdmin)
    return Status::PermissionDenied(std::string(what) + " is for admin keys");
  return Status::Ok();
}

bj::object AuditJson(const store::AuditRecord& e) {
  bj::array fields;
  for (const auto& f : e.fields) fields.emplace_back(f);
  return bj::object{{"seq", e.seq},
                    {"id", e.id},
                    {"at", FormatRfc3339(e.at_ms)},
                    {"actor", e.actor.empty() ? bj::value(nullptr) : bj::value(e.actor)},
                    {"role", e.role.empty() ? bj::value(nullptr) : bj::value(e.role)},
                    {"ip", e.ip},
                    {"action", e.action},
                    {"order_id", e.order_id.empty() ? bj::value(nullptr) : bj::value(e.order_id)},
                    {"fields", std::move(fields)},
                    {"detail", e.detail},
                    {"outcome", e.outcome},
                    {"prev_hash", e.prev_hash},
                    {"hash", e.hash}};
}

}  // namespace

// Audited: whatever a handler marked (reveal, export, step-up, failed authentication), every
// 403, every out-of-scope read answered 404, and every authenticated admin request. The answer
// waits for its entry to be durable; when the entry cannot be written, an answer carrying
// personal data is replaced by 503 and the others go out (the failure is counted and logged).
void OrderCenterApi::AuditThenSend(const std::shared_ptr<Exchange>& ex, Response&& res) {
  unsigned code = res.result_int();
  const bool audited_by_handler = ex->audit_record && !ex->audit_record->action.empty();
  std::string_view implied;  // what the answer itself makes worth an entry
  if (!audited_by_handler) {
    if (code == 403 || ex->scope_denied) {
      implied = "access.denied";
    } else if (ex->principal.role == Role::kAdmin && !ex->principal.id.empty()) {
      implied = "admin.request";
    }
  }
  if (!audited_by_handler && implied.empty()) {
    ex->Send(std::move(res));
    return;
  }
  store::AuditRecord& e = ex->audit();
  if (!audited_by_handler) e.action = std::string(implied);
  e.actor = ex->principal.id;
  e.role = ex->principal.id.empty() ? "" : std::string(ToString(ex->principal.role));
  e.ip = ex->remote_ip;
  e.outcome = std::to_string(code);
  std::string route = std::string(ex->request.method_string()) + " " +
                      std::string(ex->route ? ex->route->path_template : ex->path);
  e.detail = e.detail.empty() ? route : route + ": " + e.detail;
  if (e.order_id.empty() && ex->path_id.starts_with("ord_")) e.order_id = ex->path_id;
  auto owned = std::make_shared<Response>(std::move(res));
  deps_.audit.Append(std::move(e), [ex, owned](Status written) {
    if (!written.ok()) {
      spdlog::error("audit log write failed: {}", written.ToString());
      if (ex->audit_required) {
        *owned = MakeProblem(Status::Make(ErrorKind::kUnavailable, "audit_unavailable",
                                          "the audit log cannot be written; nothing was revealed"),
                             ex->request.version(), ex->request.keep_alive());
      }
    }
    ex->respond.Run([ex, owned] { ex->Send(std::move(*owned)); });
  });
}

void OrderCenterApi::StepUp(const std::shared_ptr<Exchange>& ex) {
  ex->audit().action = "auth.step_up";
  if (!ex->Ok(AdminOnly(ex->principal, "step-up"))) return;
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  if (!ex->Ok(r.OnlyKeys({"totp"}))) return;
  auto code = r.RequiredString("totp", 16);
  if (!ex->Ok(code)) return;
  auto key = deps_.store.FindApiKeyById(ex->principal.id);
  if (!ex->Ok(key)) return;
  if (!*key) {
    ex->Fail(Status::Unauthenticated("the API key no longer exists"));
    return;
  }
  if ((*key)->totp_unreadable) {
    ex->Fail(Status::Conflict(
        "totp_unreadable",
        "this admin key's TOTP secret was sealed under a master key the keyring no longer has "
        "(orderd was started with --new-keyring); issue a new admin key with orderctl keys "
        "create --role admin"));
    return;
  }
  auto issued = step_up_.Issue(ex->principal, (*key)->totp_secret, *code);
  if (!issued.ok() && issued.status().code() == "step_up_failed") {
    auth_.RecordSecondFactorFailure(ex->request[http::field::authorization], ex->remote_ip);
  }
  if (!ex->Ok(issued)) return;
  ex->Json(200, bj::object{{"token", issued->token},
                           {"expires_at", FormatRfc3339(issued->expires_at_ms)}});
}

void OrderCenterApi::RevealOrder(const std::shared_ptr<Exchange>& ex) {
  ex->audit().action = "pii.reveal";
  ex->audit_required = true;
  if (!ex->Ok(AdminOnly(ex->principal, "reveal"))) return;
  auto body = ParseObjectBody(ex->request.body());
  if (!ex->Ok(body)) return;
  json::ObjectReader r(body->get_object(), "");
  if (!ex->Ok(r.OnlyKeys({"fields", "reason"}))) return;
  auto fields = r.RequiredArray("fields");
  if (!ex->Ok(fields)) return;
  auto reason = r.RequiredString("reason", kLongTextMax);
  if (!ex->Ok(reason)) return;
  if ((*fields)->empty() || (*fields)->size() > kRevealFieldsMax) {
    ex->Fail(Status::Unprocessable("field 'fields': name 1 to 8 fields to reveal"));
    return;
  }
  std::vector<std::string> wanted;
  for (const auto& f : **fields) {
    bool known = false;
    if (f.is_string()) {
      for (const char* name : kRevealable) known = known || f.get_string() == name;
    }
    if (!known) {
      ex->Fail(Status::Unprocessable(
          "field 'fields': each must be one of customer.name, customer.phone, "
          "customer.id_number, shipping_address.detail, invoice.title, invoice.tax_id"));
      return;
    }
    wanted.emplace_back(f.get_string());
  }
  bool blank_reason = reason->find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank_reason) {
    ex->Fail(Status::Unprocessable("field 'reason': say why the plaintext is needed"));
    return;
  }
  ex->audit().fields = wanted;
  // The audit log keeps the reason; a phone or ID number quoted in it is masked first.
  ex->audit().detail = "reason: " + privacy::MaskDigitRuns(*reason);
  if (!ex->Ok(step_up_.Check(ex->request["X-Step-Up-Token"], ex->principal))) return;
  auto found = FindPathOrder(deps_.store, ex->path_id);
  if (!ex->Ok(found)) return;
  Order& order = *found;
  bj::object values;
  for (const auto& f : wanted) {
    auto v = PlainField(order, f);
    values[f] = v ? bj::value(*v) : bj::value(nullptr);
  }
  privacy::WipePii(&order);
  std::string out =
      bj::serialize(bj::object{{"order_id", order.id},
                               {"fields", std::move(values)},
                               {"revealed_at", FormatRfc3339(deps_.clock.NowUnixMs())}});
  ex->Reply(JsonResponse(200, std::move(out), ex->request));
}

void OrderCenterApi::ExportOrders(const std::shared_ptr<Exchange>& ex) {
  ex->audit().action = "orders.export";
  ex->audit_required = true;
  if (!ex->Ok(privacy::CheckOrderReadAccess(ex->principal))) return;
  if (exports_in_flight_.fetch_add(1) >= kExportsConcurrentMax) {
    exports_in_flight_.fetch_sub(1);
    Response busy = MakeProblem(Status::Make(ErrorKind::kUnavailable, "export_busy",
                                             "another export is running; retry in a moment"),
                                ex->request.version(), ex->request.keep_alive());
    busy.set(http::field::retry_after, "1");
    ex->Reply(std::move(busy));
    return;
  }
  struct Release {
    std::atomic<int>& n;
    ~Release() { n.fetch_sub(1); }
  } release{exports_in_flight_};
  store::OrderQuery q;
  size_t rows_max = kExportRowsMax;
  if (!ex->Ok(ParseOrderQuery(ex->query, kExportRowsMax, &q, &rows_max))) return;
  // The filters as parsed, never the raw query: a phone searched for must not reach the log.
  std::string filters;
  auto add = [&](std::string_view k, std::string_view v) {
    filters += filters.empty() ? "" : ", ";
    filters += std::string(k) + "=" + std::string(v);
  };
  if (q.status) add("status", ToString(*q.status));
  if (q.channel) add("channel", *q.channel);
  if (q.tag) add("tag", *q.tag);
  if (q.since_ms) add("since", FormatRfc3339(*q.since_ms));
  if (q.phone_index) add("phone", "(blind index search)");
  if (q.before_seq > 0) add("cursor", EncodeCursor(q.before_seq));
  ex->audit().detail = filters.empty() ? "all orders in scope" : "filters: " + filters;
  if (!ex->Ok(ToPhoneIndex(ex->principal, deps_.pii_codec, &q))) return;
  std::string csv;
  int64_t now = deps_.clock.NowUnixMs();
  std::string watermark = "exported by " + ex->principal.id +
                          (ex->principal.name.empty() ? "" : " (" + ex->principal.name + ")") +
                          ", role " + std::string(ToString(ex->principal.role)) + ", at " +
                          FormatRfc3339(now);
  privacy::CsvExportWriter writer(ex->principal, watermark, &csv);
  std::optional<int64_t> next;
  if (NarrowToScope(ex->principal, &q)) {
    while (static_cast<size_t>(writer.rows()) < rows_max) {
      q.limit = std::min(kExportPage, rows_max - static_cast<size_t>(writer.rows()));
      auto page = deps_.store.ListOrders(q);
      if (!ex->Ok(page)) return;
      for (Order& o : page->items) {
        writer.Row(o);
        privacy::WipePii(&o);
      }
      next = page->next_before_seq;
      if (!next) break;
      q.before_seq = *next;
    }
  }
  writer.Footer();
  ex->audit().detail += "; rows: " + std::to_string(writer.rows());
  Response res = TextResponse(200, "text/csv; charset=utf-8", std::move(csv), ex->request);
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_disposition,
          "attachment; filename=\"orders-" + std::to_string(now / 1000) + ".csv\"");
  // More rows than one export may carry: the next export continues from here.
  if (next && static_cast<size_t>(writer.rows()) >= rows_max) {
    res.set("X-Next-Cursor", EncodeCursor(*next));
  }
  ex->Reply(std::move(res));
}

void OrderCenterApi::ListAudit(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(AdminOnly(ex->principal, "the audit log"))) return;
  store::AuditQuery q;
  Status parsed = ForEachQueryParam(ex->query, [&](const std::string& key, std::string value) {
    if (key == "limit") return ParseLimit(value, &q.limit);
    if (key == "cursor") {
      OC_ASSIGN_OR_RETURN(q.after_seq, DecodeCursor(value, 'a'));
    } else if (key == "since") {
      int64_t ms = 0;
      if (!ParseRfc3339(value, &ms)) {
        return Status::InvalidArgument("query parameter 'since' must be an RFC 3339 time");
      }
      q.since_ms = ms;
    } else if (key == "actor") {
      q.actor = std::move(value);
    } else if (key == "order_id") {
      q.order_id = std::move(value);
    } else if (key == "action") {
      q.action = std::move(value);
    } else {
      return Status::InvalidArgument(
          "unknown query parameter (accepted: since, actor, order_id, action, limit, cursor)");
    }
    return Status::Ok();
  });
  if (!ex->Ok(parsed)) return;
  size_t limit = q.limit;
  q.limit = limit + 1;  // one more tells whether there is a next page
  auto entries = deps_.store.ListAudit(q);
  if (!ex->Ok(entries)) return;
  bj::array items;
  bool more = entries->size() > limit;
  if (more) entries->resize(limit);
  for (const auto& e : *entries) items.emplace_back(AuditJson(e));
  bj::value next = more ? bj::value(EncodeCursor(entries->back().seq, 'a')) : bj::value(nullptr);
  ex->Json(200, bj::object{{"items", std::move(items)}, {"next_cursor", std::move(next)}});
}

void OrderCenterApi::VerifyAudit(const std::shared_ptr<Exchange>& ex) {
  if (!ex->Ok(AdminOnly(ex->principal, "audit verification"))) return;
  auto verdict = privacy::VerifyAuditChain(deps_.store, deps_.audit_checkpoint);
  if (!ex->Ok(verdict)) return;
  bj::object out{{"ok", verdict->ok},
                 {"entries", verdict->entries},
                 {"checkpoint_seq", verdict->checkpoint_seq}};
  if (!verdict->ok) {
    out["first_bad"] =
        bj::object{{"seq", verdict->first_bad_seq},
                   {"id", verdict->first_bad_id.empty() ? bj::value(nullptr)
                                                        : bj::value(verdict->first_bad_id)},
                   {"problem", verdict->problem}};
  }
  ex->Json(200, out);
}

}  // namespace oc::api
