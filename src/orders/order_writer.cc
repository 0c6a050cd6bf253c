#include "orders/order_writer.h"

#include "core/json.h"
#include "orders/permissions.h"

namespace oc::orders {
namespace {

size_t Index(OrderStatus s) { return static_cast<size_t>(s); }

// Checked after permissions, so a caller without the right learns nothing from a version.
Status CheckVersion(const Order& o, const std::optional<int64_t>& expected_version) {
  if (expected_version && *expected_version != o.version) {
    return Status::Conflict("version_conflict", "expected version " +
                                                    std::to_string(*expected_version) +
                                                    " but the order is at version " +
                                                    std::to_string(o.version));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<OrderWriter>> OrderWriter::Start(store::Store& store, const Clock& clock,
                                                        IdGenerator& ids) {
  std::unique_ptr<OrderWriter> w(new OrderWriter(store, clock, ids));
  OC_ASSIGN_OR_RETURN(auto counts, store.CountOrdersByStatus());
  for (const auto& [status, n] : counts) w->status_counts_[Index(status)] = n;
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

OrderWriter::OrderWriter(store::Store& store, const Clock& clock, IdGenerator& ids)
    : store_(store), clock_(clock), ids_(ids) {}

OrderWriter::~OrderWriter() { Stop(); }

Status OrderWriter::Submit(Command command, Completion done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("the server is shutting down");
    if (queue_.size() >= kQueueDepthMax) {
      return Status::Unavailable("the write queue is full; retry shortly");
    }
    queue_.push_back(Pending{std::move(command), std::move(done)});
  }
  cv_.notify_one();
  return Status::Ok();
}

void OrderWriter::Stop() {
  std::lock_guard stop_lock(stop_mu_);  // concurrent Stop() calls must not both join
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::array<int64_t, 9> OrderWriter::OrderCountsByStatus() const {
  std::array<int64_t, 9> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = status_counts_[i].load();
  return out;
}

size_t OrderWriter::QueueDepth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void OrderWriter::Run() {
  std::vector<Pending> batch;
  batch.reserve(kBatchSizeMax);
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < kBatchSizeMax) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ApplyBatch(batch);
    batch.clear();
  }
}

void OrderWriter::ApplyBatch(std::vector<Pending>& batch) {
  std::vector<Result<CommandOutcome>> results;
  results.reserve(batch.size());
  auto txn_or = store_.BeginWrite();
  if (!txn_or.ok()) {
    for (auto& p : batch) p.done(txn_or.status());
    return;
  }
  store::WriteTransaction& txn = **txn_or;
  std::array<int64_t, 9> delta{};
  for (auto& p : batch) {
    Status begun = txn.BeginCommand();
    if (!begun.ok()) {
      results.emplace_back(begun);
      continue;
    }
    Result<CommandOutcome> r = Apply(txn, p.command);
    if (!r.ok()) {
      txn.AbortCommand();
      results.push_back(std::move(r));
      continue;
    }
    Status ended = txn.EndCommand();
    if (!ended.ok()) {
      txn.AbortCommand();
      results.emplace_back(ended);
      continue;
    }
    results.push_back(std::move(r));
  }
  Status committed = txn.Commit();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!committed.ok() && results[i].ok() && !results[i]->replay) {
      results[i] = Status::IOError("commit failed; nothing was written: " + committed.detail());
    }
  }
  if (committed.ok()) {
    // Counts change only for work that is now durable.
    for (auto& r : results) {
      if (!r.ok() || r->replay) continue;
      const Order& o = r->order;
      if (r->created) ++delta[Index(o.status)];
      if (r->previous_status) {
        --delta[Index(*r->previous_status)];
        ++delta[Index(o.status)];
      }
    }
    for (size_t i = 0; i < delta.size(); ++i) status_counts_[i] += delta[i];
    batches_committed_.fetch_add(1);
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
}

Result<CommandOutcome> OrderWriter::Apply(store::WriteTransaction& txn, Command& command) {
  if (command.idempotency) {
    const Idempotency& idem = *command.idempotency;
    OC_ASSIGN_OR_RETURN(auto existing, txn.FindIdempotency(idem.principal_id, idem.key));
    if (existing) {
      if (existing->request_hash != idem.request_hash) {
        return Status::Unprocessable(
            "this Idempotency-Key was already used with a different request",
            "idempotency_key_reused");
      }
      CommandOutcome replay;
      replay.replay = std::move(*existing);
      return replay;
    }
  }
  Result<CommandOutcome> r = std::visit(
      [&](auto& action) -> Result<CommandOutcome> {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, CreateOrder>) {
          return ApplyCreate(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, Transition>) {
          return ApplyTransition(txn, command.actor, action);
        } else {
          return ApplyAssign(txn, command.actor, action);
        }
      },
      command.action);
  if (r.ok() && command.idempotency) {
    const Idempotency& idem = *command.idempotency;
    store::IdempotencyRecord record = idem.render(*r);
    record.request_hash = idem.request_hash;
    OC_RETURN_IF_ERROR(
        txn.PutIdempotency(idem.principal_id, idem.key, record, clock_.NowUnixMs()));
  }
  return r;
}

Result<CommandOutcome> OrderWriter::ApplyCreate(store::WriteTransaction& txn,
                                                const Principal& actor, CreateOrder& create) {
  Order& o = create.order;
  OC_RETURN_IF_ERROR(CheckMayCreate(actor, o));
  OC_ASSIGN_OR_RETURN(auto existing_id, txn.FindOrderIdByChannelRef(o.channel, o.channel_order_id));
  if (existing_id) {
    OC_ASSIGN_OR_RETURN(auto existing, txn.FindOrder(*existing_id));
    if (!existing) return Status::Internal("order index points at a missing order");
    CommandOutcome out;
    out.order = std::move(*existing);
    out.created = false;
    return out;
  }
  int64_t now = clock_.NowUnixMs();
  o.id = ids_.Next("ord");
  o.status = OrderStatus::kPendingPayment;
  o.version = 1;
  o.created_at_ms = now;
  o.updated_at_ms = now;
  o.created_by = actor.id;
  OC_RETURN_IF_ERROR(txn.InsertOrder(o));
  OC_RETURN_IF_ERROR(AppendEvent(txn, o, "order.created", std::nullopt));
  CommandOutcome out;
  out.order = std::move(o);
  out.created = true;
  return out;
}

Result<Order> OrderWriter::LoadInScope(store::WriteTransaction& txn, const Principal& actor,
                                       const std::string& order_id) {
  OC_ASSIGN_OR_RETURN(auto found, txn.FindOrder(order_id));
  if (!found) return Status::NotFound("order not found");
  if (actor.role == Role::kChannel && found->channel != actor.channel) {
    return Status::NotFound("order not found");
  }
  if (actor.role == Role::kCustomerService && found->assigned_agent != actor.id) {
    return Status::NotFound("order not found");
  }
  return std::move(*found);
}


Result<CommandOutcome> OrderWriter::ApplyTransition(store::WriteTransaction& txn,
                                                    const Principal& actor, const Transition& t) {
  OC_ASSIGN_OR_RETURN(Order o, LoadInScope(txn, actor, t.order_id));
  OC_RETURN_IF_ERROR(CheckMayTransition(actor, o, t.to));
  OC_RETURN_IF_ERROR(CheckVersion(o, t.expected_version));
  if (!CanTransition(o.status, t.to, o.refund_origin)) {
    return Status::Conflict("invalid_transition", "an order in '" +
                                                      std::string(ToString(o.status)) +
                                                      "' cannot move to '" +
                                                      std::string(ToString(t.to)) + "'");
  }
  OrderStatus previous = o.status;
  if (t.to == OrderStatus::kRefunding) {
    o.refund_origin = o.status;
  } else if (o.status == OrderStatus::kRefunding) {
    o.refund_origin.reset();
  }
  o.status = t.to;
  o.version += 1;
  o.updated_at_ms = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(txn.UpdateOrder(o));
  OC_RETURN_IF_ERROR(AppendEvent(txn, o, "order.status_changed", previous));
  CommandOutcome out;
  out.order = std::move(o);
  out.previous_status = previous;
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyAssign(store::WriteTransaction& txn,
                                                const Principal& actor, const Assign& a) {
  OC_RETURN_IF_ERROR(CheckMayAssign(actor));
  OC_ASSIGN_OR_RETURN(Order o, LoadInScope(txn, actor, a.order_id));
  OC_RETURN_IF_ERROR(CheckVersion(o, a.expected_version));
  OC_ASSIGN_OR_RETURN(auto agent, store_.FindApiKeyById(a.agent));
  if (!agent || agent->principal.role != Role::kCustomerService) {
    return Status::Unprocessable("agent '" + a.agent +
                                 "' is not a customer_service principal");
  }
  o.assigned_agent = a.agent;
  o.version += 1;
  o.updated_at_ms = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(txn.UpdateOrder(o));
  CommandOutcome out;
  out.order = std::move(o);
  return out;
}

Status OrderWriter::AppendEvent(store::WriteTransaction& txn, const Order& o,
                                std::string_view type, std::optional<OrderStatus> previous) {
  store::OutboxEvent e;
  e.id = ids_.Next("evt");
  e.type = type;
  e.order_id = o.id;
  e.order_version = o.version;
  e.created_at_ms = o.updated_at_ms;
  // Built by hand: this runs for every change on the single writer thread.
  std::string& p = e.payload_json;
  p.reserve(320);
  p += "{\"id\":";
  json::AppendQuoted(&p, e.id);
  p += ",\"type\":";
  json::AppendQuoted(&p, e.type);
  p += ",\"order_id\":";
  json::AppendQuoted(&p, o.id);
  p += ",\"order_version\":";
  p += std::to_string(o.version);
  p += ",\"status\":";
  json::AppendQuoted(&p, ToString(o.status));
  if (previous) {
    p += ",\"previous_status\":";
    json::AppendQuoted(&p, ToString(*previous));
  }
  p += ",\"channel\":";
  json::AppendQuoted(&p, o.channel);
  p += ",\"channel_order_id\":";
  json::AppendQuoted(&p, o.channel_order_id);
  p += ",\"occurred_at\":";
  json::AppendQuoted(&p, FormatRfc3339(o.updated_at_ms));
  p += '}';
  return txn.AppendOutbox(e);
}

}  // namespace oc::orders
