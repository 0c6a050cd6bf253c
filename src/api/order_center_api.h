// OrderCenterApi: the HTTP application — routing, authentication, validation, role views —
// sitting between HttpServer and the domain (OrderWriter for writes, Store for reads).
//
// Every request is answered exactly once, with JSON or problem+json; no input can crash it or
// leave a half-written order (writes are single commands to the OrderWriter, which is atomic per
// command). Reads go straight to the store's reader pool and never wait for the writer.
// Thread-safe: Handle() runs concurrently on all HTTP threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "api/auth.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "core/clock.h"
#include "core/ids.h"
#include "orders/order_writer.h"
#include "outbox/relay.h"
#include "privacy/audit.h"
#include "privacy/step_up.h"
#include "store/store.h"

namespace oc::api {

struct ApiDeps {
  store::Store& store;
  orders::OrderWriter& writer;
  outbox::Relay& relay;
  store::PiiCodec& pii_codec;  // seals personal data on HTTP threads, off the writer's path
  privacy::AuditLog& audit;
  privacy::AuditCheckpoint& audit_checkpoint;
  IdGenerator& ids;
  Random& random;
  const Clock& clock;
  std::string_view dashboard_html;
  std::string_view openapi_yaml;
};

class OrderCenterApi final : public RequestHandler {
 public:
  explicit OrderCenterApi(ApiDeps deps);
  ~OrderCenterApi() override;

  void Handle(Request request, std::string remote_ip, Responder respond) override;
  void OnRejected(unsigned status) override;

 private:
  struct Exchange;
  void Dispatch(const std::shared_ptr<Exchange>& ex);
  void GetMetrics(const std::shared_ptr<Exchange>& ex);
  void CreateOrder(const std::shared_ptr<Exchange>& ex);
  void GetOrder(const std::shared_ptr<Exchange>& ex);
  void ListOrders(const std::shared_ptr<Exchange>& ex);
  void TransitionOrder(const std::shared_ptr<Exchange>& ex);
  void AssignOrder(const std::shared_ptr<Exchange>& ex);
  void CreateKey(const std::shared_ptr<Exchange>& ex);
  void PutInventory(const std::shared_ptr<Exchange>& ex);
  void GetInventory(const std::shared_ptr<Exchange>& ex);
  void ListOversold(const std::shared_ptr<Exchange>& ex);
  void CreateReservation(const std::shared_ptr<Exchange>& ex);
  void GetReservation(const std::shared_ptr<Exchange>& ex);
  void ReleaseReservation(const std::shared_ptr<Exchange>& ex);
  void CreateSubscription(const std::shared_ptr<Exchange>& ex);
  void ListSubscriptions(const std::shared_ptr<Exchange>& ex);
  void GetSubscription(const std::shared_ptr<Exchange>& ex);
  void DeleteSubscription(const std::shared_ptr<Exchange>& ex);
  void ListDeadLetters(const std::shared_ptr<Exchange>& ex);
  void ReplayDeadLetter(const std::shared_ptr<Exchange>& ex);
  void StepUp(const std::shared_ptr<Exchange>& ex);
  void RevealOrder(const std::shared_ptr<Exchange>& ex);
  void ExportOrders(const std::shared_ptr<Exchange>& ex);
  void ListAudit(const std::shared_ptr<Exchange>& ex);
  void VerifyAudit(const std::shared_ptr<Exchange>& ex);
  // Writes the audit entry the answer calls for, if any, and sends the answer once it is
  // durable (privacy_endpoints.cc says which answers are audited).
  void AuditThenSend(const std::shared_ptr<Exchange>& ex, Response&& res);
  void SubmitToWriter(const std::shared_ptr<Exchange>& ex, orders::Command&& command);

  ApiDeps deps_;
  Authenticator auth_;
  privacy::StepUpTokens step_up_;
  static constexpr int kExportsConcurrentMax = 1;
  std::atomic<int> exports_in_flight_{0};
  Metrics metrics_;
};

}  // namespace oc::api
