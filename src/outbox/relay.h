// Relay: drains the transactional outbox to webhook subscribers (API.md, Events and
// subscriptions), so the platform hears "shipped" when the warehouse says so.
//
// Guarantees, per subscriber:
// - At least once. A subscriber's cursor (the outbox seq up to which every event is delivered,
//   parked or dead) moves only after the receiver answered 2xx, in the same transaction as any
//   dead letters and parking; a crash re-delivers at most the batches in flight, with the same
//   event ids, so receivers de-duplicate by id.
// - In order per order. One request at a time per subscriber, events in outbox order; an event
//   that exhausts its retry budget goes to the dead-letter list and the subscriber's later events
//   for that order are parked behind it until it is replayed (other orders keep flowing).
//   Replaying re-delivers, in order, every dead event of that order and then what was parked.
// - Only durable events leave: the outbox is read through the store's durable-only reads.
// - Retries: transport errors, 408, 429 and 5xx are retried kMaxRetries times with exponential
//   backoff and jitter (at least Retry-After); other 4xx answers are permanent at once.
// - Partner limits: at most max_per_minute requests in any minute (DeliveryLimiter), events
//   merged into batches of up to batch_max while the limit holds them back, gzip once the
//   receiver accepts it; 408/429 answers lower the limit by themselves.
// - Timeouts: every request (connect, TLS, send, answer) has a deadline; Stop() abandons a
//   request in flight at once.
// - Signatures: X-OrderCenter-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>, over
//   the JSON body before any compression.
// - Role views: a subscription may name a role (admin, warehouse, finance, or channel with its
//   channel). Each delivered event then carries an "order" member, the order as stored when the
//   request is built, rendered by privacy::AppendOrderJson for that role, so a subscriber never
//   gets more than an API key of that role would. The outbox itself stays free of personal data:
//   the view exists only in the outgoing body. An order that cannot be read (or is outside the
//   view's scope) fails the attempt like a transport error: retried, then dead, never sent
//   partial. A channel view also scopes the subscription to that channel's orders; other
//   orders' events are passed over like events of unsubscribed types.
// Each subscription has a worker thread; the API thread calls are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/principal.h"
#include "core/status.h"
#include "outbox/webhook_client.h"
#include "store/store.h"

namespace oc::outbox {

inline constexpr int kMaxRetries = 3;
inline constexpr int64_t kBatchMaxLimit = 1000;
inline constexpr int64_t kMaxPerMinuteLimit = 1'000'000;
// The event types a subscription may ask for.
inline constexpr const char* kEventTypes[] = {"order.created", "order.status_changed",
                                              "inventory.oversold"};

struct RelayOptions {
  bool allow_private_targets = false;         // --allow-private-webhooks
  std::chrono::milliseconds retry_base{500};  // first retry after ~this, doubling
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_poll{1'000};  // look at the outbox at least this often
  // CA certificates (PEM) trusted for https targets besides the system's: partners with a
  // private CA, and tests.
  std::string extra_ca_file;
};

struct SubscribeRequest {
  std::string url;
  std::vector<std::string> events;
  std::string secret;
  int64_t max_per_minute = 600;
  int64_t batch_max = 50;
  // The role view (see above); none: events only. customer_service and operations are refused:
  // one is scoped per agent, the other sees aggregates only.
  std::optional<Role> view_role;
  std::string view_channel;  // required with Role::kChannel, refused otherwise
};

// Delivery health of one subscriber (also in /metrics).
struct SubscriptionStats {
  int64_t queue_depth = 0;              // outbox events after the cursor, plus parked ones
  double oldest_undelivered_age_s = 0;  // age of the oldest of those
  int64_t delivered = 0;                // events, since start
  int64_t retried = 0;                  // requests retried, since start
  int64_t dead = 0;                     // dead letters not yet replayed
  int64_t parked = 0;
  int64_t current_limit_per_minute = 0;
};

struct SubscriptionView {
  store::SubscriptionRecord record;
  SubscriptionStats stats;
};

class Relay {
 public:
  static Result<std::unique_ptr<Relay>> Start(store::Store& store, const Clock& clock,
                                              IdGenerator& ids, Random& random,
                                              RelayOptions options);
  ~Relay();  // Stop()s
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // New events are durable: workers look at the outbox now rather than at their next poll.
  void Notify();
  void Stop();

  Result<SubscriptionView> Subscribe(const SubscribeRequest& request, const Principal& actor);
  Status Unsubscribe(const std::string& id);
  Result<std::vector<SubscriptionView>> List();
  Result<SubscriptionView> Get(const std::string& id);
  // Schedules the dead letter's order for redelivery (see above); 409 unless it is dead.
  Result<store::DeadLetterRecord> Replay(const std::string& dead_letter_id);

  // Prometheus text for every subscriber.
  void RenderMetrics(std::string* out);

 private:
  class Worker;
  Relay(store::Store& store, const Clock& clock, IdGenerator& ids, Random& random,
        RelayOptions options);
  Result<SubscriptionStats> StatsOf(Worker& worker);

  store::Store& store_;
  const Clock& clock_;
  IdGenerator& ids_;
  Random& random_;
  RelayOptions options_;
  std::unique_ptr<WebhookClient::TlsContext> tls_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Worker>> workers_;
  bool stopped_ = false;
};

}  // namespace oc::outbox
