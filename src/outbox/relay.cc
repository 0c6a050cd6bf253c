#include "outbox/relay.h"

#include <pthread.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <set>
#include <thread>

#include "outbox/delivery_limiter.h"
#include "outbox/url_guard.h"
#include "outbox/webhook_client.h"
#include "privacy/hashing.h"
#include "privacy/order_view.h"

namespace oc::outbox {
namespace {

constexpr size_t kReadAhead = 1000;  // outbox events looked at per step

// Every dead letter of one subscription: the relay needs them all to know what is blocked.
store::DeadLetterQuery AllDeadLettersOf(const std::string& subscription_id) {
  return store::DeadLetterQuery{subscription_id, std::numeric_limits<int32_t>::max(), std::nullopt};
}

bool IsRetryable(int status) { return status == 408 || status == 429 || status >= 500; }

std::string Body(const std::vector<store::OutboxEvent>& events) {
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += events[i].payload_json;
  }
  body += "]}";
  return body;
}

// The principal a view renders for: the subscription stands in for a key of that role.
std::optional<Principal> ViewerOf(const store::SubscriptionRecord& r) {
  if (!r.view_role) return std::nullopt;
  return Principal{r.id, "subscription " + r.id, *r.view_role, r.view_channel};
}

// The "channel" member of an event's payload (every order event has one), or "" if absent.
std::string PayloadChannel(const store::OutboxEvent& e) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(e.payload_json, ec);
  if (ec || !v.is_object()) return "";
  const boost::json::value* c = v.get_object().if_contains("channel");
  return c != nullptr && c->is_string() ? std::string(c->get_string()) : "";
}

Status CheckView(const SubscribeRequest& request) {
  if (!request.view_role) return Status::Ok();
  switch (*request.view_role) {
    case Role::kAdmin:
    case Role::kWarehouse:
    case Role::kFinance:
      if (!request.view_channel.empty()) {
        return Status::Unprocessable("field 'view.channel' is only for the channel role");
      }
      return Status::Ok();
    case Role::kChannel:
      if (request.view_channel.empty() || request.view_channel.size() > kShortTextMax) {
        return Status::Unprocessable(
            "field 'view.channel' must name the channel (1 to 128 bytes) for the channel role");
      }
      return Status::Ok();
    case Role::kCustomerService:
    case Role::kOperations:
      break;
  }
  return Status::Unprocessable(
      "field 'view.role' must be admin, warehouse, finance or channel (customer_service views "
      "are per agent and operations sees aggregates only)");
}

}  // namespace

// Delivers to one subscriber, on its own thread.
class Relay::Worker {
 public:
  Worker(Relay& relay, store::SubscriptionRecord record, WebhookTarget target)
      : relay_(relay),
        record_(std::move(record)),
        types_(record_.events.begin(), record_.events.end()),
        viewer_(ViewerOf(record_)),
        limiter_(record_.max_per_minute),
        client_(std::move(target), relay.options_.allow_private_targets,
                relay.options_.request_timeout, relay.tls_.get()) {}

  ~Worker() { Stop(); }

  void Start() {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "oc-relay");
      Run();
    });
  }

  // Asks the worker to stop; a request in flight is abandoned (its events are sent again later).
  void RequestStop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    client_.Interrupt();  // a request in flight ends now rather than at its deadline
  }
  void Stop() {
    RequestStop();
    if (thread_.joinable()) thread_.join();
  }

  void Wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // A dead letter of this subscription was marked for replay.
  void RequestReplay() {
    replay_requested_ = true;
    Wake();
  }

  const store::SubscriptionRecord& record() const { return record_; }
  int64_t cursor() const { return cursor_.load(); }
  int64_t delivered() const { return delivered_.load(); }
  int64_t retried() const { return retried_.load(); }
  int64_t limit() const { return limit_.load(); }

 private:
  struct Outcome {
    bool delivered = false;
    int attempts = 0;
    std::string error;
  };

  // Waits until `deadline`, a wake-up (when `wake_early`), or Stop(). False when stopping.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline, bool wake_early) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return stopping_ || (wake_early && woken_); });
    if (wake_early) woken_ = false;
    return !stopping_;
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void Run() {
    cursor_ = record_.cursor;
    // Orders with a dead letter: their later events wait.
    // Nothing is delivered before this is known: guessing would let an event overtake a dead one.
    while (true) {
      auto dead = relay_.store_.ListDeadLetters(AllDeadLettersOf(record_.id));
      if (dead.ok()) {
        for (const auto& d : *dead) {
          if (d.state != store::DeadLetterState::kReplayed) blocked_.insert(d.order_id);
        }
        break;
      }
      if (!SleepUntil(std::chrono::steady_clock::now() + relay_.options_.idle_poll, false)) return;
    }
    while (!stopping()) {
      // Replays are looked for when asked (and once at start, for replays a restart interrupted),
      // not on every step.
      if (replay_requested_.exchange(false) && !ReplayPending()) {
        replay_requested_ = true;
        // A store error: try again shortly rather than spin.
        if (!SleepUntil(std::chrono::steady_clock::now() + relay_.options_.idle_poll, true)) return;
        continue;
      }
      auto step = Step();
      if (!step.ok() || !*step) {
        // Nothing to do (or the store failed): wait for new events or the next poll.
        if (!SleepUntil(std::chrono::steady_clock::now() + relay_.options_.idle_poll, true)) return;
      }
    }
  }

  // One batch from the cursor: returns whether anything was handled.
  Result<bool> Step() {
    // Enough to fill a batch past events of other types or parked orders, without reading far
    // ahead of what one request can carry.
    size_t read_ahead =
        std::clamp<size_t>(static_cast<size_t>(record_.batch_max) * 4, 64, kReadAhead);
    OC_ASSIGN_OR_RETURN(auto events, relay_.store_.ReadOutbox(cursor_, read_ahead));
    if (events.empty()) return false;
    store::DeliveryProgress progress;
    progress.subscription_id = record_.id;
    progress.cursor = cursor_;
    std::vector<store::OutboxEvent> batch;
    for (auto& e : events) {
      if (static_cast<int64_t>(batch.size()) >= record_.batch_max) break;
      progress.cursor = e.seq;
      if (!types_.contains(e.type)) continue;
      OC_ASSIGN_OR_RETURN(bool in_scope, InScope(e));
      if (!in_scope) continue;
      if (blocked_.contains(e.order_id)) {
        progress.parked.push_back(store::ParkedEvent{e.seq, e.order_id});
        continue;
      }
      batch.push_back(std::move(e));
    }
    if (!batch.empty()) {
      Outcome outcome = Deliver(batch);
      if (stopping() && !outcome.delivered) return true;  // not an answer: leave the cursor
      if (outcome.delivered) {
        delivered_ += static_cast<int64_t>(batch.size());
      } else {
        int64_t now = relay_.clock_.NowUnixMs();
        for (const auto& e : batch) {
          store::DeadLetterRecord d;
          d.id = relay_.ids_.Next("dlq");
          d.subscription_id = record_.id;
          d.event_seq = e.seq;
          d.event_id = e.id;
          d.event_type = e.type;
          d.order_id = e.order_id;
          d.attempts = outcome.attempts;
          d.last_error = outcome.error;
          d.state = store::DeadLetterState::kDead;
          d.created_at_ms = now;
          d.updated_at_ms = now;
          progress.dead_letters.push_back(std::move(d));
        }
      }
    }
    OC_RETURN_IF_ERROR(relay_.store_.RecordDelivery(progress));
    // Only once the dead letters are on record: blocking an order without them would park its
    // events where no replay can reach them.
    for (const auto& d : progress.dead_letters) blocked_.insert(d.order_id);
    cursor_ = progress.cursor;
    return true;
  }

  // Whether a channel view covers the event's order (other views cover every order). The
  // channel comes from the event itself; only an event without one costs an order read.
  Result<bool> InScope(const store::OutboxEvent& e) {
    if (!viewer_ || viewer_->role != Role::kChannel) return true;
    std::string channel = PayloadChannel(e);
    if (channel.empty()) {
      OC_ASSIGN_OR_RETURN(auto order, relay_.store_.GetOrder(e.order_id));
      if (order) channel = order->channel;
    }
    return channel == viewer_->channel;
  }

  // The request body with each event's "order" member: the order as stored now, as the view's
  // role sees it. Rendered into this body only; the outbox rows are never touched. Any order
  // that cannot be read, or is outside the view, fails the whole body: never a partial view.
  Result<std::string> ViewBody(const std::vector<store::OutboxEvent>& batch) {
    std::map<std::string, std::string> rendered;  // order id -> its view, once per body
    std::string body = "{\"events\":[";
    for (size_t i = 0; i < batch.size(); ++i) {
      const store::OutboxEvent& e = batch[i];
      auto it = rendered.find(e.order_id);
      if (it == rendered.end()) {
        OC_ASSIGN_OR_RETURN(auto order, relay_.store_.GetOrder(e.order_id));
        if (!order) return Status::NotFound("order " + e.order_id + " of " + e.id + " not found");
        if (!privacy::CheckOrderScope(*order, *viewer_).ok()) {
          return Status::Internal("order " + e.order_id + " is outside the subscription's view");
        }
        std::string view;
        privacy::AppendOrderJson(*order, *viewer_, &view);
        it = rendered.emplace(e.order_id, std::move(view)).first;
      }
      if (e.payload_json.empty() || e.payload_json.back() != '}') {
        return Status::Internal("event " + e.id + " has a payload that is not a JSON object");
      }
      if (i > 0) body.push_back(',');
      body.append(e.payload_json, 0, e.payload_json.size() - 1);
      body += ",\"order\":";
      body += it->second;
      body.push_back('}');
    }
    body += "]}";
    return body;
  }

  // Dead letters someone asked to replay: for each such order, every dead event of it and then
  // what is parked behind, in outbox order. Returns false on a store error.
  bool ReplayPending() {
    auto letters = relay_.store_.ListDeadLetters(AllDeadLettersOf(record_.id));
    if (!letters.ok()) return false;
    std::set<std::string> orders;
    for (const auto& d : *letters) {
      if (d.state == store::DeadLetterState::kReplayPending) orders.insert(d.order_id);
    }
    if (orders.empty()) return true;
    auto parked = relay_.store_.ListParked(record_.id);
    if (!parked.ok()) return false;
    for (const std::string& order : orders) {
      if (stopping()) return true;
      std::vector<int64_t> seqs;
      std::vector<store::DeadLetterRecord> mine;
      for (const auto& d : *letters) {
        if (d.order_id == order && d.state != store::DeadLetterState::kReplayed) {
          seqs.push_back(d.event_seq);
          mine.push_back(d);
        }
      }
      std::vector<int64_t> parked_seqs;
      for (const auto& p : *parked) {
        if (p.order_id == order) {
          seqs.push_back(p.event_seq);
          parked_seqs.push_back(p.event_seq);
        }
      }
      auto events = relay_.store_.ReadOutboxSeqs(seqs);
      if (!events.ok()) return false;
      Outcome outcome{true, 0, ""};
      for (size_t i = 0; i < events->size() && outcome.delivered;
           i += static_cast<size_t>(record_.batch_max)) {
        size_t end = std::min(events->size(), i + static_cast<size_t>(record_.batch_max));
        std::vector<store::OutboxEvent> batch(events->begin() + static_cast<std::ptrdiff_t>(i),
                                              events->begin() + static_cast<std::ptrdiff_t>(end));
        outcome = Deliver(batch);
        if (outcome.delivered) delivered_ += static_cast<int64_t>(batch.size());
      }
      if (stopping() && !outcome.delivered) return true;
      int64_t now = relay_.clock_.NowUnixMs();
      store::DeliveryProgress progress;
      progress.subscription_id = record_.id;
      progress.cursor = cursor_;
      for (auto& d : mine) {
        d.state =
            outcome.delivered ? store::DeadLetterState::kReplayed : store::DeadLetterState::kDead;
        d.attempts += outcome.attempts;
        if (!outcome.delivered) d.last_error = outcome.error;
        d.updated_at_ms = now;
        progress.dead_letters.push_back(d);
      }
      if (outcome.delivered) progress.unparked_seqs = parked_seqs;
      if (!relay_.store_.RecordDelivery(progress).ok()) return false;
      if (outcome.delivered) blocked_.erase(order);
    }
    return true;
  }

  // One request with its retry budget. Waits for the partner's limit first.
  Outcome Deliver(const std::vector<store::OutboxEvent>& batch) {
    std::string body = viewer_ ? std::string() : Body(batch);
    Outcome outcome;
    for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
      std::chrono::milliseconds wait{0};
      if (viewer_) {
        // Rendered per attempt, so a retry carries the order as it is by then.
        auto rendered = ViewBody(batch);
        if (!rendered.ok()) {
          ++outcome.attempts;
          outcome.error = rendered.status().detail();
          if (attempt == kMaxRetries || !Backoff(attempt, wait)) return outcome;
          continue;
        }
        body = std::move(*rendered);
      }
      auto now = std::chrono::steady_clock::now();
      if (!SleepUntil(limiter_.NextAllowed(now), false)) return outcome;
      now = std::chrono::steady_clock::now();
      limiter_.RecordSent(now);
      std::string t = std::to_string(relay_.clock_.NowUnixMs() / 1000);
      std::string signature =
          "t=" + t + ",v1=" + privacy::HmacSha256Hex(record_.secret, t + "." + body);
      ++outcome.attempts;
      auto r = client_.Post(body, {{"X-OrderCenter-Signature", signature},
                                   {"X-OrderCenter-Subscription", record_.id}});
      if (r.ok() && r->status >= 200 && r->status < 300) {
        limiter_.Succeeded(now);
        limit_ = limiter_.limit();
        outcome.delivered = true;
        return outcome;
      }
      if (!r.ok()) {
        outcome.error = r.status().detail();
      } else {
        outcome.error = "HTTP " + std::to_string(r->status);
        if (r->status == 408 || r->status == 429) {
          limiter_.PushedBack(now, r->retry_after.value_or(std::chrono::milliseconds(0)));
        }
        if (r->retry_after) wait = *r->retry_after;
        if (!IsRetryable(r->status)) return outcome;  // permanent: no retry helps
      }
      limit_ = limiter_.limit();
      if (attempt == kMaxRetries) break;
      if (!Backoff(attempt, wait)) return outcome;
    }
    return outcome;
  }

  // Waits before retry `attempt` + 1: exponential backoff with jitter in [0.5, 1.5) of the
  // step, at least `at_least` (Retry-After). False when stopping.
  bool Backoff(int attempt, std::chrono::milliseconds at_least) {
    ++retried_;
    double jitter = 0.5 + static_cast<double>(relay_.random_.NextU64() % 1000) / 1000.0;
    auto backoff = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(relay_.options_.retry_base.count()) *
                             std::ldexp(1.0, attempt) * jitter));
    return SleepUntil(std::chrono::steady_clock::now() + std::max(backoff, at_least), false);
  }

  Relay& relay_;
  const store::SubscriptionRecord record_;
  const std::set<std::string> types_;
  const std::optional<Principal> viewer_;  // the role view, if the subscription has one
  DeliveryLimiter limiter_;
  WebhookClient client_;
  std::set<std::string> blocked_;  // worker thread only
  std::atomic<int64_t> cursor_{0};
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> retried_{0};
  std::atomic<int64_t> limit_{0};
  std::atomic<bool> replay_requested_{true};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

Relay::Relay(store::Store& store, const Clock& clock, IdGenerator& ids, Random& random,
             RelayOptions options)
    : store_(store),
      clock_(clock),
      ids_(ids),
      random_(random),
      options_(options),
      tls_(std::make_unique<WebhookClient::TlsContext>(options.extra_ca_file)) {}

Relay::~Relay() { Stop(); }

Result<std::unique_ptr<Relay>> Relay::Start(store::Store& store, const Clock& clock,
                                            IdGenerator& ids, Random& random,
                                            RelayOptions options) {
  std::unique_ptr<Relay> relay(new Relay(store, clock, ids, random, options));
  if (!relay->tls_->error.empty()) return Status::InvalidArgument(relay->tls_->error);
  OC_ASSIGN_OR_RETURN(auto subscriptions, store.ListSubscriptions());
  for (auto& s : subscriptions) {
    auto target = ParseWebhookUrl(s.url);
    if (!target.ok()) continue;  // accepted once, so this cannot happen; never deliver blindly
    auto worker = std::make_shared<Worker>(*relay, s, std::move(*target));
    worker->Start();
    relay->workers_.emplace(s.id, std::move(worker));
  }
  return relay;
}

void Relay::Notify() {
  std::lock_guard lock(mu_);
  for (auto& [id, w] : workers_) w->Wake();
}

void Relay::Stop() {
  std::map<std::string, std::shared_ptr<Worker>> workers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    workers.swap(workers_);
  }
  for (auto& [id, w] : workers) w->RequestStop();  // all at once: shutdown waits for the slowest
  workers.clear();                                 // joins each worker
}

Result<SubscriptionView> Relay::Subscribe(const SubscribeRequest& request, const Principal& actor) {
  OC_ASSIGN_OR_RETURN(WebhookTarget target, ParseWebhookUrl(request.url));
  OC_RETURN_IF_ERROR(ResolveAllowed(target, options_.allow_private_targets).status());
  if (request.events.empty()) {
    return Status::Unprocessable("field 'events' must name at least one event type");
  }
  for (const auto& e : request.events) {
    if (std::find_if(std::begin(kEventTypes), std::end(kEventTypes),
                     [&](const char* t) { return e == t; }) == std::end(kEventTypes)) {
      return Status::Unprocessable("field 'events': unknown event type '" + e + "'");
    }
  }
  if (request.secret.size() < 16) {
    return Status::Unprocessable("field 'secret' must be at least 16 bytes");
  }
  if (request.max_per_minute < 1 || request.max_per_minute > kMaxPerMinuteLimit) {
    return Status::Unprocessable("field 'max_per_minute' must be between 1 and 1000000");
  }
  if (request.batch_max < 1 || request.batch_max > kBatchMaxLimit) {
    return Status::Unprocessable("field 'batch_max' must be between 1 and 1000");
  }
  OC_RETURN_IF_ERROR(CheckView(request));
  {
    std::lock_guard lock(mu_);
    if (stopped_) return Status::Unavailable("the server is shutting down");
  }
  store::SubscriptionRecord r;
  r.id = ids_.Next("sub");
  r.url = request.url;
  r.events = request.events;
  r.secret = request.secret;
  r.max_per_minute = request.max_per_minute;
  r.batch_max = request.batch_max;
  r.view_role = request.view_role;
  r.view_channel = request.view_channel;
  OC_ASSIGN_OR_RETURN(r.cursor, store_.MaxOutboxSeq());  // events from now on
  r.created_by = actor.id;
  r.created_at_ms = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(store_.InsertSubscription(r));
  auto worker = std::make_shared<Worker>(*this, r, std::move(target));
  {
    std::lock_guard lock(mu_);
    if (stopped_) return Status::Unavailable("the server is shutting down");
    worker->Start();
    workers_.emplace(r.id, worker);
  }
  // Created; stats are a courtesy (a store hiccup here must not turn a 201 into an error).
  auto stats = StatsOf(*worker);
  return SubscriptionView{r, stats.ok() ? *stats : SubscriptionStats{}};
}

Status Relay::Unsubscribe(const std::string& id) {
  std::shared_ptr<Worker> worker;
  {
    std::lock_guard lock(mu_);
    auto it = workers_.find(id);
    if (it == workers_.end()) return Status::NotFound("subscription not found");
    worker = std::move(it->second);
    workers_.erase(it);
  }
  worker->Stop();
  return store_.DeleteSubscription(id);
}

Result<SubscriptionStats> Relay::StatsOf(Worker& w) {
  SubscriptionStats s;
  int64_t cursor = w.cursor();
  OC_ASSIGN_OR_RETURN(int64_t max_seq, store_.MaxOutboxSeq());
  OC_ASSIGN_OR_RETURN(auto parked, store_.ListParked(w.record().id));
  s.parked = static_cast<int64_t>(parked.size());
  s.queue_depth = std::max<int64_t>(0, max_seq - cursor) + s.parked;
  std::vector<int64_t> oldest_seqs;
  OC_ASSIGN_OR_RETURN(auto next, store_.ReadOutbox(cursor, 1));
  if (!next.empty()) oldest_seqs.push_back(next[0].seq);
  if (!parked.empty()) oldest_seqs.push_back(parked.front().event_seq);
  OC_ASSIGN_OR_RETURN(auto oldest, store_.ReadOutboxSeqs(oldest_seqs));
  if (!oldest.empty()) {
    s.oldest_undelivered_age_s = std::max<double>(
        0, static_cast<double>(clock_.NowUnixMs() - oldest[0].created_at_ms) / 1000.0);
  }
  OC_ASSIGN_OR_RETURN(auto dead, store_.ListDeadLetters(AllDeadLettersOf(w.record().id)));
  for (const auto& d : dead) s.dead += d.state == store::DeadLetterState::kReplayed ? 0 : 1;
  s.delivered = w.delivered();
  s.retried = w.retried();
  s.current_limit_per_minute = w.limit() > 0 ? w.limit() : w.record().max_per_minute;
  return s;
}

Result<std::vector<SubscriptionView>> Relay::List() {
  std::vector<std::shared_ptr<Worker>> workers;
  {
    // Copies only: the stats below read the store, and Notify() (on the writer's syncer) must
    // never wait for that.
    std::lock_guard lock(mu_);
    for (auto& [id, w] : workers_) workers.push_back(w);
  }
  std::vector<SubscriptionView> out;
  for (auto& w : workers) {
    OC_ASSIGN_OR_RETURN(SubscriptionStats stats, StatsOf(*w));
    out.push_back(SubscriptionView{w->record(), stats});
  }
  return out;
}

Result<SubscriptionView> Relay::Get(const std::string& id) {
  std::shared_ptr<Worker> w;
  {
    std::lock_guard lock(mu_);
    auto it = workers_.find(id);
    if (it == workers_.end()) return Status::NotFound("subscription not found");
    w = it->second;
  }
  OC_ASSIGN_OR_RETURN(SubscriptionStats stats, StatsOf(*w));
  return SubscriptionView{w->record(), stats};
}

Result<store::DeadLetterRecord> Relay::Replay(const std::string& dead_letter_id) {
  OC_ASSIGN_OR_RETURN(auto found, store_.GetDeadLetter(dead_letter_id));
  if (!found) return Status::NotFound("dead letter not found");
  if (found->state == store::DeadLetterState::kReplayed) {
    return Status::Conflict("dead_letter_replayed", "this dead letter was already delivered");
  }
  if (found->state == store::DeadLetterState::kDead) {
    OC_RETURN_IF_ERROR(store_.SetDeadLetterState(
        dead_letter_id, store::DeadLetterState::kReplayPending, clock_.NowUnixMs()));
    found->state = store::DeadLetterState::kReplayPending;
  }
  std::lock_guard lock(mu_);
  auto it = workers_.find(found->subscription_id);
  if (it != workers_.end()) it->second->RequestReplay();
  return std::move(*found);
}

void Relay::RenderMetrics(std::string* out) {
  auto views = List();
  if (!views.ok()) return;
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const SubscriptionStats&)> value;
  };
  const Family families[] = {
      {"ordercenter_webhook_queue_depth", "gauge", "Events waiting for a subscriber.",
       [](const SubscriptionStats& s) { return static_cast<double>(s.queue_depth); }},
      {"ordercenter_webhook_oldest_undelivered_age_seconds", "gauge",
       "Age of a subscriber's oldest undelivered event (the sync lag).",
       [](const SubscriptionStats& s) { return s.oldest_undelivered_age_s; }},
      {"ordercenter_webhook_delivered_total", "counter", "Events delivered, since start.",
       [](const SubscriptionStats& s) { return static_cast<double>(s.delivered); }},
      {"ordercenter_webhook_retried_total", "counter", "Delivery requests retried, since start.",
       [](const SubscriptionStats& s) { return static_cast<double>(s.retried); }},
      {"ordercenter_webhook_dead_letters", "gauge", "Dead letters not yet replayed.",
       [](const SubscriptionStats& s) { return static_cast<double>(s.dead); }},
      {"ordercenter_webhook_limit_per_minute", "gauge",
       "Requests per minute the relay currently allows itself (lowered after 408/429).",
       [](const SubscriptionStats& s) { return static_cast<double>(s.current_limit_per_minute); }},
  };
  for (const Family& f : families) {
    *out +=
        std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& v : *views) {
      char value[64];
      std::snprintf(value, sizeof value, "%.3f", f.value(v.stats));
      *out += std::string(f.name) + "{subscription=\"" + v.record.id + "\"} " + value + "\n";
    }
  }
}

}  // namespace oc::outbox
